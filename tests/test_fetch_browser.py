"""The real fetcher and extractor against pages that only read right when fetched as a browser fetches them.

Each test goes fetch -> extract through ``PageFetcher`` and ``extract_page``
against the loopback server in ``fixtures_browser_web`` (its own process).
"""

from __future__ import annotations

import asyncio

import pytest

from pipelines.extract import extract_page
from pipelines.fetch import PageFetcher
from pipelines.search.types import SearchHit
from pipelines.urls import select_urls
from tests.fixtures_browser_web import SAMPLES, TARGET_TEXT
from tests.fixtures_fetch import local_fetch_settings


def fetch_all(urls, settings=None):
    async def go():
        fetcher = PageFetcher(settings or local_fetch_settings(), name="trawl.fetcher[0]")
        try:
            return [await fetcher.fetch(u) for u in urls], fetcher.requests
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


def read(url, settings=None):
    (result,), _ = fetch_all([url], settings)
    return result, extract_page(result)


# -- decoding, through the fetcher -----------------------------------------------------------------


@pytest.mark.parametrize(
    "sample,query,source",
    [
        ("ja", "codec=shift_jis", "detected"),
        ("ko", "codec=euc_kr", "detected"),
        ("zh", "codec=gb18030", "detected"),
        ("ru", "codec=cp1251", "detected"),
        ("ru", "codec=koi8_r", "detected"),
        ("de", "codec=cp1252", "detected"),
        ("cp1252q", "codec=cp1252", "detected"),  # the legacy-charset case: undeclared windows-1252
        ("ja", "codec=shift_jis&declare=meta&label=Shift_JIS", "meta"),
        ("ko", "codec=euc_kr&declare=http&label=EUC-KR", "http"),
        ("zh", "codec=gb18030&declare=meta&label=gb2312", "meta"),
        ("ja", "codec=utf-16-le&bom=1", "bom"),
        ("ru", "codec=utf-16-be&bom=1", "bom"),
        ("cp1252q", "codec=cp1252&declare=http&label=iso-8859-1", "http"),
        ("cp1252q", "codec=cp1252&declare=http&label=utf-8", "detected_over_http"),
        ("cp1252q", "codec=cp1252&declare=meta&label=utf-8", "detected_over_meta"),
    ],
)
def test_pages_decode_as_a_browser_reads_them(browser_web, sample, query, source):
    result, page = read(browser_web.url("enc.example", f"/enc/{sample}?{query}"))
    assert result.status == "ok", result.reason
    assert result.encoding_source == source
    assert page.encoding_source == source and page.encoding == result.charset
    assert SAMPLES[sample] in page.text
    assert "\ufffd" not in page.text


# -- meta refresh and the Refresh header -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/moved", "/moved-header"])
def test_a_refresh_is_followed_like_a_redirect(browser_web, path):
    result, page = read(browser_web.url("site.example", path))
    assert result.status == "ok" and result.final_url.endswith("/company/about-us")
    assert TARGET_TEXT in page.text


@pytest.mark.parametrize("path", ["/moved-noscript", "/moved-self", "/moved-slow"])
def test_refreshes_that_are_not_redirects_leave_the_page_as_it_is(browser_web, path):
    result, _ = read(browser_web.url("site.example", path))
    assert result.status == "ok" and result.final_url.endswith(path)


def test_refresh_hops_count_against_max_redirects(browser_web):
    result, _ = read(browser_web.url("site.example", "/moved-chain/0"), local_fetch_settings(max_redirects=3))
    assert (result.status, result.reason) == ("failed", "too_many_redirects: more than 3")
    assert result.final_url.endswith("/moved-chain/4")


def test_a_refresh_to_a_private_address_meets_the_address_guard(browser_web):
    result, _ = read(browser_web.url("site.example", "/moved-to?u=http://127.0.0.2/admin"))
    assert result.status == "blocked" and result.reason.startswith("blocked_address: 127.0.0.2")


# -- cookies for one redirect chain ----------------------------------------------------------------


def test_a_cookie_wall_that_redirects_to_itself_is_read(browser_web):
    result, page = read(browser_web.url("site.example", "/consent"))
    assert result.status == "ok", result.reason
    assert TARGET_TEXT in page.text


def test_cookies_live_for_one_chain_only(browser_web):
    echo = browser_web.url("site.example", "/cookie/echo")
    (in_chain, next_chain), _ = fetch_all([browser_web.url("site.example", f"/cookie/set-then?u={echo}"), echo])
    assert b"cookie header: [session=s3cr3t]" in in_chain.body
    assert b"cookie header: []" in next_chain.body


def test_cookies_do_not_follow_a_redirect_to_another_host(browser_web):
    other = browser_web.url("other.example", "/cookie/echo")
    result, _ = read(browser_web.url("site.example", f"/cookie/set-then?u={other}"))
    assert result.status == "ok" and b"cookie header: []" in result.body


def test_a_refresh_loop_is_still_a_loop(browser_web):
    result, _ = read(browser_web.url("site.example", "/refresh-loop/a"))
    assert result.status == "failed" and result.reason.startswith("redirect_loop")


# -- URLs as the search result gave them -----------------------------------------------------------


def _as_selected(url: str) -> str:
    selected, _ = select_urls([[SearchHit(url=url, title="t", snippet="s", rank=1, provider="p")]], cap=5)
    return selected[0]


@pytest.mark.parametrize(
    "query,sent",
    [
        ("a=x%2By&b=1", "a=x%2By&b=1"),
        ("z=%2F%26%3D&a=%FC&m=1", "z=%2F%26%3D&a=%FC&m=1"),  # escapes, a Latin-1 byte and the order kept
        ("utm_source=news&q=caf%C3%A9&gclid=abc&p=2", "q=caf%C3%A9&p=2"),  # only tracking parameters go
        ("q=a+b&r=%20", "q=a+b&r=%20"),
    ],
)
def test_the_url_sent_carries_the_bytes_the_search_result_gave(browser_web, query, sent):
    result, page = read(_as_selected(browser_web.url("site.example", f"/echo?{query}")))
    assert result.status == "ok"
    assert f"raw target: [/echo?{sent}]" in page.text


def test_plus_in_query_reaches_the_right_page(browser_web):
    result, page = read(_as_selected(browser_web.url("site.example", "/register?name=A%2BB%20Logistics")))
    assert "Marta Lindqvist is the CEO of A+B Logistics." in page.text


# -- compression, canonical URL, proxy -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["br", "zstd", "gzip"])
def test_compressed_bodies_are_decoded(browser_web, kind):
    result, page = read(browser_web.url("site.example", f"/compressed/{kind}"))
    assert result.status == "ok", result.reason
    assert f"This body travelled as {kind}." in page.text


def test_brotli_and_zstd_are_offered(browser_web):
    result, _ = read(browser_web.url("site.example", "/echo"))
    offered = result.body.split(b"accept-encoding: [")[1].split(b"]")[0].decode()
    assert {"br", "zstd", "gzip"} <= {e.strip() for e in offered.split(",")}


def test_the_canonical_link_is_recorded(browser_web):
    result, page = read(browser_web.url("site.example", "/canonical"))
    assert result.canonical_url == browser_web.url("site.example", "/the-real-one?id=7")
    assert page.canonical_url == result.canonical_url
    assert result.page_record("j")["canonical_url"] == result.canonical_url


def test_fetches_go_through_the_configured_proxy(browser_web):
    proxy = f"http://127.0.0.1:{browser_web.port}"
    result, _ = read("http://far-away.test/some/page?x=%2B", local_fetch_settings(proxy=proxy))
    assert result.status == "ok", result.reason
    assert b"proxied target: [http://far-away.test/some/page?x=%2B]" in result.body


def test_the_environment_proxy_is_ignored(browser_web, monkeypatch):
    proxy = f"http://127.0.0.1:{browser_web.port}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy)
    result, _ = read(browser_web.url("site.example", "/company/about-us"))
    assert result.status == "ok" and b"proxied target" not in result.body


@pytest.mark.parametrize("bad", ["socks5://127.0.0.1:1080", "http://proxy-without-port.example", "not a url"])
def test_a_bad_proxy_setting_is_rejected(bad):
    with pytest.raises(ValueError, match="fetch.proxy"):
        local_fetch_settings(proxy=bad)
