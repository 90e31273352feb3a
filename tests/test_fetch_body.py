"""Body judgement helpers: media type, charset, binary sniffing, Retry-After."""

from __future__ import annotations

import pytest

from pipelines.fetch.body import looks_like_html, media_type, sniff_problem


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
