"""Body judgement helpers: media type, charset, binary sniffing, Retry-After."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from pipelines.fetch.body import looks_like_html, media_type, retry_after_seconds, sniff_problem


@pytest.mark.parametrize(
    "header,expect",
    [("Text/HTML; charset=UTF-8", "text/html"), ("application/xhtml+xml", "application/xhtml+xml"), ("", None), (None, None)],
)
def test_media_type(header, expect):
    assert media_type(header) == expect


def test_sniffing():
    assert sniff_problem(b"<html>fine</html>", None) is None
    assert sniff_problem(b"<html>\x00\x01\x02</html>", None) == "binary_body: NUL bytes"
    assert sniff_problem("<html>wide</html>".encode("utf-16"), "utf-16") is None
    assert sniff_problem(b"%PDF-1.4 ...", None).startswith("binary_body: starts with")
    assert looks_like_html(b"  <!DOCTYPE html><html>") and not looks_like_html(b"plain words")


def test_retry_after():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None

