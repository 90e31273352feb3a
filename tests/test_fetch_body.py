"""Body judgement helpers: media type, charset, binary sniffing, Retry-After."""

from __future__ import annotations

import pytest

from pipelines.fetch.body import charset_of, looks_like_html, media_type, sniff_problem


@pytest.mark.parametrize(
    "header,expect",
    [("Text/HTML; charset=UTF-8", "text/html"), ("application/xhtml+xml", "application/xhtml+xml"), ("", None), (None, None)],
)
def test_media_type(header, expect):
    assert media_type(header) == expect


@pytest.mark.parametrize(
    "header,body,expect",
    [
        ("text/html; charset=ISO-8859-1", b"", "iso8859-1"),
        ("text/html; charset=nonsense", b'<meta charset="utf-8">', "utf-8"),
        ("text/html", b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">', "cp1252"),
        ("text/html", b"\xef\xbb\xbf<html>", "utf-8"),
        ("text/html", b"<html>", None),
    ],
)
def test_charset_of(header, body, expect):
    assert charset_of(header, body) == expect


def test_sniffing():
    assert sniff_problem(b"<html>fine</html>", None) is None
    assert sniff_problem(b"<html>\x00\x01\x02</html>", None) == "binary_body: NUL bytes"
    assert sniff_problem("<html>wide</html>".encode("utf-16"), "utf-16") is None
    assert sniff_problem(b"%PDF-1.4 ...", None).startswith("binary_body: starts with")
    assert looks_like_html(b"  <!DOCTYPE html><html>") and not looks_like_html(b"plain words")
