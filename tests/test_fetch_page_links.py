"""Refresh values and canonical links as the WHATWG HTML Standard and RFC 6596 read them (pure; no network)."""

from __future__ import annotations

import pytest

from pipelines.fetch.page_links import canonical_url, meta_refresh_target, refresh_target

BASE = "http://a.example/old/page?x=1"


@pytest.mark.parametrize(
    "value,target",
    [
        ("0; url=/new", "http://a.example/new"),
        ("0;URL='/new'", "http://a.example/new"),
        ('5; url="next.html"', "http://a.example/old/next.html"),
        ("3, /new", "http://a.example/new"),
        ("0.5; url=https://b.example/x?y=%2B", "https://b.example/x?y=%2B"),
        ("  0  ;  url = /spaced ", "http://a.example/spaced"),
        ("0", None),  # a reload, no target
        ("30; url=http://a.example/old/page?x=1", None),  # refreshes the page itself
        ("600; url=/later", None),  # meant to be read first
        ("soon; url=/x", None),
        ("", None),
    ],
)
def test_refresh_values(value, target):
    assert refresh_target(value, BASE) == target


def test_meta_refresh_in_the_head_and_not_in_noscript():
    page = '<html><head><meta http-equiv="Refresh" content="0; URL=/moved/here"></head><body>moved</body></html>'
    assert meta_refresh_target(page, BASE) == "http://a.example/moved/here"
    hidden = '<html><head><noscript><meta http-equiv="refresh" content="0; url=/nojs"></noscript></head></html>'
    assert meta_refresh_target(hidden, BASE) is None
    assert meta_refresh_target("<html><body>no refresh here</body></html>", BASE) is None


def test_canonical_link():
    page = '<html><head><link rel="alternate" href="/amp"><link href="/canon?id=7" rel="canonical"></head></html>'
    assert canonical_url(page, BASE) == "http://a.example/canon?id=7"
    assert canonical_url('<link rel="canonical" href="javascript:alert(1)">', BASE) is None
    assert canonical_url('<link rel="canonical" href="">', BASE) is None
    assert canonical_url("<html><head><title>none</title></head></html>", BASE) is None
