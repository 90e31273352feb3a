"""URL hygiene: normalization, registrable domains, domain filters, per-cell selection."""

import pytest

from pipelines.search.types import SearchHit
from pipelines.urls import domain_matches, fetch_url, host_of, normalize_url, registrable_domain, select_urls


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("HTTP://Example.COM/About", "http://example.com/About"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/?utm_source=x&utm_medium=y&id=7", "https://example.com/?id=7"),
        ("https://example.com/?gclid=1&fbclid=2&msclkid=3&b=2&a=1", "https://example.com/?a=1&b=2"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/%7euser", "https://example.com/%7Euser"),
        ("https://user:secret@example.com/", "https://example.com/"),
        ("https://Example.com./x", "https://example.com/x"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("http://127.0.0.1:8000/x", "http://127.0.0.1:8000/x"),
        ("http://[::1]/x", "http://[::1]/x"),
        ("  https://example.com/trimmed  ", "https://example.com/trimmed"),
        ("https://example.com/?q=a+b&tag=x&tag=y", "https://example.com/?q=a%20b&tag=x&tag=y"),
    ],
)
def test_normalize(raw, expected):
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "ftp://example.com/f", "mailto:a@example.com", "javascript:alert(1)", "/relative/path", "http://", "https://exa mple.com/",
     "http://example.com:99999/", "https://a..b/", "not a url", None],
)
def test_garbage_is_none(raw):
    assert normalize_url(raw) is None


def test_normalize_is_idempotent():
    for url in ["HTTP://Example.COM:80/a/./b?utm_x=1&z=2&a=%2F#f", "https://bücher.example/ä?x=1"]:
        once = normalize_url(url)
        assert normalize_url(once) == once


@pytest.mark.parametrize(
    "host, domain",
    [
        ("www.example.com", "example.com"),
        ("example.com", "example.com"),
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("shop.acme.com.au", "acme.com.au"),
        ("a.b.acme.example", "acme.example"),
        ("docs.acme.test", "acme.test"),
        ("app.localhost", "app.localhost"),
        ("localhost", "localhost"),
        ("10.1.2.3", "10.1.2.3"),
        ("user.github.io", "user.github.io"),
        ("WWW.Example.COM.", "example.com"),
    ],
)
def test_registrable_domain(host, domain):
    assert registrable_domain(host) == domain


def test_host_of():
    assert host_of("https://WWW.Example.com:8443/x") == "www.example.com"
    assert host_of("garbage") == ""


def test_domain_matches_itself_and_subdomains_only():
    assert domain_matches("example.com", ["example.com"])
    assert domain_matches("www.example.com", ["example.com"])
    assert domain_matches("a.b.example.com", ["*.example.com"])
    assert domain_matches("www.example.com", ["https://example.com/path"])
    assert not domain_matches("notexample.com", ["example.com"])
    assert not domain_matches("example.com.evil.net", ["example.com"])
    assert not domain_matches("example.com", [])


def hits(*urls, provider="p"):
    return [SearchHit(url=u, title=u, snippet="", rank=i + 1, provider=provider) for i, u in enumerate(urls)]


def test_select_interleaves_keywords_by_rank_and_dedups():
    kw1 = hits("https://a.example/1", "https://a.example/2", "https://a.example/3")
    kw2 = hits("https://b.example/1?utm_source=x", "https://A.example/1#top", "https://b.example/3")
    urls, info = select_urls([kw1, kw2], include=[], exclude=[], cap=4)
    assert urls == ["https://a.example/1", "https://b.example/1", "https://a.example/2", "https://a.example/3"]
    verdicts = [(i.keyword_index, i.position, i.selected, i.reason) for i in info]
    assert verdicts == [
        (0, 0, True, None),
        (0, 1, True, None),
        (0, 2, True, None),
        (1, 0, True, None),
        (1, 1, False, "duplicate"),
        (1, 2, False, "over_cap"),
    ]
    assert info[3].url == "https://b.example/1" and info[3].hit is kw2[0]


def test_each_keywords_top_hits_come_before_anyones_deep_hits():
    deep = hits(*[f"https://deep.example/{i}" for i in range(10)])
    shallow = hits("https://top.example/1")
    urls, _ = select_urls([deep, shallow], include=[], exclude=[], cap=3)
    assert "https://top.example/1" in urls


def test_include_and_exclude_domains():
    found = hits("https://www.acme.example/a", "https://spam.example/b", "https://blog.acme.example/c", "https://other.example/d")
    urls, info = select_urls([found], include=["acme.example"], exclude=["blog.acme.example"], cap=10)
    assert urls == ["https://www.acme.example/a"]
    assert [i.reason for i in info] == [None, "not_included", "excluded_domain", "not_included"]


def test_invalid_urls_are_reported_not_raised():
    urls, info = select_urls([hits("ftp://x.example/f", "https://ok.example/")], include=[], exclude=[], cap=5)
    assert urls == ["https://ok.example/"]
    assert info[0].reason == "invalid_url" and info[0].url is None


def test_empty_inputs():
    assert select_urls([], include=[], exclude=[], cap=5) == ([], [])
    assert select_urls([[], []], include=[], exclude=[], cap=5) == ([], [])


@pytest.mark.parametrize(
    "host,domain",
    [
        ("www.city.kawasaki.jp", "city.kawasaki.jp"),  # a three-label suffix no hand-kept table had
        ("shop.example.com.br", "example.com.br"),
        ("a.b.example.org.uk", "example.org.uk"),
        ("alice.github.io", "alice.github.io"),  # private suffix: each user's site is its own domain
        ("bob.github.io", "bob.github.io"),
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("co.uk", "co.uk"),
        ("a.acme.example", "acme.example"),  # not in the list: one-label suffix, as before
    ],
)
def test_registrable_domain_uses_the_whole_public_suffix_list(host, domain):
    assert registrable_domain(host) == domain


@pytest.mark.parametrize(
    "given,sent",
    [
        ("http://a.example/r?name=A%2BB%20Logistics", "http://a.example/r?name=A%2BB%20Logistics"),
        ("http://a.example/r?z=1&a=%FC&b=%2F%26%3D", "http://a.example/r?z=1&a=%FC&b=%2F%26%3D"),
        ("http://a.example/r?utm_source=x&q=1&fbclid=y&UTM_Medium=z", "http://a.example/r?q=1"),
        ("http://a.example/r?utm_source=x", "http://a.example/r"),
        ("http://a.example/caf%C3%A9/x#frag", "http://a.example/caf%C3%A9/x"),
        ("http://a.example/ä ö?q=ü x", "http://a.example/%C3%A4%20%C3%B6?q=%C3%BC%20x"),  # unsafe characters encoded
        ("HTTP://A.example", "http://a.example/"),
    ],
)
def test_fetch_url_keeps_the_bytes_it_was_given(given, sent):
    assert fetch_url(given) == sent


def test_fetch_url_rejects_what_normalize_rejects():
    assert fetch_url("ftp://a.example/x") is None and fetch_url("not a url") is None


def test_select_dedups_by_normalized_url_but_fetches_as_given():
    selected, infos = select_urls([hits("http://a.example/r?b=2&a=x%2By", "http://A.example/r?a=x%2By&b=2&utm_source=s")], cap=5)
    assert selected == ["http://a.example/r?b=2&a=x%2By"]
    assert [i.reason for i in infos] == [None, "duplicate"]
