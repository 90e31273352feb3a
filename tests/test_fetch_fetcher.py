"""PageFetcher against a hostile local web server: each bad page ends as a recorded outcome, never an exception."""

from __future__ import annotations

import asyncio

import pytest

from pipelines.fetch import PageFetcher
from tests.fakes import FakeTime
from tests.fixtures_fetch import local_fetch_settings


def fetch_many(urls, settings=None, *, page_store_dir=None, fake_time=None):
    async def go():
        timing = {"clock": fake_time.clock, "sleep": fake_time.sleep} if fake_time else {}
        fetcher = PageFetcher(settings or local_fetch_settings(), name="trawl.fetcher[0]", page_store_dir=page_store_dir, **timing)
        try:
            return await asyncio.gather(*(fetcher.fetch(u) for u in urls))
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


def fetch_one(url, settings=None, **kw):
    return fetch_many([url], settings, **kw)[0]


def test_normal_html(fetch_server):
    url = fetch_server.url("plain.example", "/page/hello")
    r = fetch_one(url)
    assert (r.status, r.reason, r.http_status) == ("ok", None, 200)
    assert r.url == url and r.final_url == url
    assert r.content_type == "text/html" and r.charset == "utf-8"
    assert b"page hello" in r.body and r.bytes == len(r.body)
    assert r.fetcher == "trawl.fetcher[0]" and r.fetch_ms > 0 and not r.from_page_store
    assert r.fetched_at.tzinfo is not None


def test_plain_text_is_kept(fetch_server):
    r = fetch_one(fetch_server.url("plain.example", "/text"))
    assert r.status == "ok" and r.content_type == "text/plain" and r.body == b"just plain text"


def test_a_pdf_is_kept_for_extraction_by_its_content_type(fetch_server):
    r = fetch_one(fetch_server.url("pdf.example", "/pdf"))
    assert r.status == "ok" and r.content_type == "application/pdf" and r.body.startswith(b"%PDF-")


@pytest.mark.parametrize("served_as", ["application/octet-stream", "text/html"])
def test_a_pdf_is_recognized_by_its_magic_bytes_whatever_the_content_type(fetch_server, served_as):
    r = fetch_one(fetch_server.url("pdf.example", f"/pdf?as={served_as}"))
    assert r.status == "ok" and r.content_type == "application/pdf"


def test_a_declared_non_text_type_is_skipped_unread(fetch_server):
    # only text, PDF and octet-stream bodies are read; an image type is trusted and never downloaded
    r = fetch_one(fetch_server.url("pdf.example", "/pdf?as=image/png"))
    assert r.status == "skipped" and r.reason == "content_type: image/png"


@pytest.mark.parametrize(
    "path,status,reason,http_status",
    [
        ("/binary", "skipped", "binary_body: NUL bytes", 200),
        ("/binary?kind=png", "skipped", "binary_body: starts with", 200),
        ("/huge", "skipped", "too_large: over 1000000 bytes", 200),
        ("/huge?cl=1", "skipped", "too_large: Content-Length 52428800", 200),
        ("/bomb", "skipped", "too_large: over 1000000 bytes", 200),
        ("/status/404", "failed", "http_404", 404),
        ("/status/500", "failed", "http_500", 500),
        ("/status/403", "failed", "http_403", 403),
        ("/redirect/loop/a", "failed", "redirect_loop", None),
        ("/redirect/chain/9", "failed", "too_many_redirects", None),
    ],
)
def test_bad_pages_are_recorded_outcomes(fetch_server, path, status, reason, http_status):
    r = fetch_one(fetch_server.url("bad.example", path))
    assert r.status == status, r
    assert r.reason.startswith(reason), r.reason
    assert r.http_status == http_status
    assert r.body is None


def test_gzip_bomb_is_capped_after_decompression(fetch_server):
    r = fetch_one(fetch_server.url("bomb.example", "/bomb"), local_fetch_settings(max_bytes=200_000))
    # the compressed body is ~65 KB, under the cap; the cap bites on the decompressed stream
    assert r.status == "skipped" and r.reason.startswith("too_large") and r.bytes == 200_000


def test_redirect_chain_within_limit(fetch_server):
    r = fetch_one(fetch_server.url("chain.example", "/redirect/chain/3"))
    assert r.status == "ok" and r.final_url.endswith("/redirect/chain/0") and b"end of chain" in r.body
    assert fetch_one(fetch_server.url("chain.example", "/redirect/chain/2"), local_fetch_settings(max_redirects=1)).reason.startswith(
        "too_many_redirects"
    )


def test_slow_body_hits_total_timeout(fetch_server):
    # the body trickles for far longer than the cap: only the total timeout can end this fetch as "timeout"
    r = fetch_one(fetch_server.url("slow.example", "/slow"), local_fetch_settings(total_timeout_s=1.0))
    assert (r.status, r.reason) == ("failed", "timeout")


def test_connection_refused_is_a_failure(fetch_server):
    # nothing listens on port 1 of 127.0.0.1
    r = fetch_one("http://closed.example:1/page/x")
    assert r.status == "failed" and r.reason.startswith("connect_error: closed.example:1"), r.reason
    assert fetch_one("http://closed.example:1/x", local_fetch_settings(respect_robots=False)).reason.startswith("connect_error")


@pytest.mark.parametrize("url", ["not a url", "http://", "http://[::1", "mailto:x@y.z", "", "http://exa mple.example/"])
def test_garbage_urls_never_raise(url):
    r = fetch_one(url)
    assert r.status in ("failed", "blocked") and r.reason


def test_retry_after_503_is_retried_once(fetch_server):
    url = fetch_server.url("flaky.example", "/flaky/one")
    waits = FakeTime()
    r = fetch_one(url, fake_time=waits)
    assert r.status == "ok" and b"second time lucky" in r.body
    assert fetch_server.hits("flaky.example", "/flaky/one") == 2
    assert waits.waits == [1.0]  # waited the Retry-After: 1 before the second request


def test_persistent_503_fails_after_one_retry(fetch_server):
    r = fetch_one(fetch_server.url("down.example", "/status/503?retry_after=0"))
    assert (r.status, r.reason, r.http_status) == ("failed", "http_503", 503)
    assert fetch_server.hits("down.example", "/status/503") == 2


def test_long_retry_after_is_not_waited_for(fetch_server):
    r = fetch_one(fetch_server.url("later.example", "/status/429?retry_after=3600"))
    assert (r.status, r.reason) == ("failed", "http_429")
    assert fetch_server.hits("later.example", "/status/429") == 1


def test_robots_disallow_and_allow(fetch_server):
    allowed, disallowed = fetch_many(
        [fetch_server.url("robots.example", "/page/open"), fetch_server.url("robots.example", "/private/secret")]
    )
    assert allowed.status == "ok"
    assert (disallowed.status, disallowed.reason) == ("blocked", "robots_disallowed")
    assert fetch_server.hits("robots.example", "/private/secret") == 0


def test_robots_disallow_all_and_opt_out(fetch_server):
    url = fetch_server.url("robotsall.example", "/page/x")
    assert fetch_one(url).reason == "robots_disallowed"
    assert fetch_one(url, local_fetch_settings(respect_robots=False)).status == "ok"


def test_robots_5xx_means_unreachable(fetch_server):
    r = fetch_one(fetch_server.url("robots5xx.example", "/page/x"))
    assert (r.status, r.reason) == ("failed", "robots_unreachable: http_503")
    assert fetch_server.hits("robots5xx.example", "/page/x") == 0


def test_robots_fetched_once_per_host_and_crawl_delay_honoured(fetch_server):
    urls = [fetch_server.url("robots.example", f"/page/cd{i}") for i in range(3)]
    before = fetch_server.hits("robots.example", "/robots.txt")
    waits = FakeTime()
    results = fetch_many(urls, fake_time=waits)
    assert all(r.status == "ok" for r in results)
    assert fetch_server.hits("robots.example", "/robots.txt") - before == 1
    assert waits.waits == [0.4, 0.4]  # Crawl-delay: 0.4 between three request starts


def test_in_flight_dedup(fetch_server):
    url = fetch_server.url("dedup.example", "/slowpage/once")
    results = fetch_many([url] * 20)
    assert all(r.status == "ok" for r in results)
    assert fetch_server.hits("dedup.example", "/slowpage/once") == 1


def test_per_domain_concurrency_bound(fetch_server):
    settings = local_fetch_settings(per_domain_concurrency=2)
    urls = [fetch_server.url("conc.example", f"/slowpage/c{i}?s=0.2") for i in range(8)]
    results = fetch_many(urls, settings)
    assert all(r.status == "ok" for r in results)
    assert fetch_server.stats()["peak"]["conc.example"] == 2


def test_domains_do_not_wait_for_each_other(fetch_server):
    settings = local_fetch_settings(per_domain_concurrency=1)
    urls = [fetch_server.url(f"par{i}.example", "/slowpage/p?s=0.5") for i in range(4)]
    fetch_server.reset()
    assert all(r.status == "ok" for r in fetch_many(urls, settings))
    assert fetch_server.stats()["peak"]["*"] >= 2  # one slot per domain, yet the domains' pages overlapped


def test_per_domain_delay(fetch_server):
    settings = local_fetch_settings(per_domain_delay_s=0.3)
    urls = [fetch_server.url("delay.example", f"/page/d{i}") for i in range(4)]
    waits = FakeTime()
    assert all(r.status == "ok" for r in fetch_many(urls, settings, fake_time=waits))
    assert waits.waits == [0.3] * 4  # robots.txt, then four pages: one gap before each start after the first


def test_page_store_reused_across_fetchers(fetch_server, tmp_path):
    url = fetch_server.url("store.example", "/page/kept")
    first = fetch_one(url, page_store_dir=str(tmp_path))
    second = fetch_one(url, page_store_dir=str(tmp_path))
    assert first.status == second.status == "ok"
    assert not first.from_page_store and second.from_page_store
    assert second.body == first.body and second.charset == first.charset and second.final_url == first.final_url
    assert fetch_server.hits("store.example", "/page/kept") == 1
    # failures are not stored
    bad = fetch_server.url("store.example", "/status/404")
    fetch_one(bad, page_store_dir=str(tmp_path))
    assert fetch_one(bad, page_store_dir=str(tmp_path)).from_page_store is False
    assert fetch_server.hits("store.example", "/status/404") == 2


def test_page_store_does_not_leak_allowed_private_pages_to_other_jobs(fetch_server, tmp_path):
    url = fetch_server.url("intranet.example", "/page/internal")
    assert fetch_one(url, page_store_dir=str(tmp_path)).status == "ok"  # this job allows *.example
    strict = local_fetch_settings(allow_hosts=[])  # same names, but private addresses not allowed
    again = fetch_one(url, strict, page_store_dir=str(tmp_path))
    assert again.status == "blocked" and not again.from_page_store and again.body is None
    assert fetch_one(url, page_store_dir=str(tmp_path)).from_page_store  # still served to a job that allows it


def test_memory_stays_bounded_under_hostile_bodies(fetch_server):
    """16 gzip bombs (64 MB each once inflated) and huge bodies at once: the peak stays near 16 x the cap."""
    import gc

    import psutil

    proc = psutil.Process()
    gc.collect()
    base = proc.memory_info().rss
    peak = base
    settings = local_fetch_settings(max_bytes=1_000_000, per_domain_concurrency=16)
    urls = [fetch_server.url("mem.example", f"/bomb?i={i}") for i in range(8)]
    urls += [fetch_server.url("mem.example", f"/huge?i={i}") for i in range(8)]

    async def go():
        nonlocal peak
        fetcher = PageFetcher(settings)
        done = asyncio.Event()

        async def sample():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, proc.memory_info().rss)
                await asyncio.sleep(0.005)

        sampler = asyncio.ensure_future(sample())
        try:
            return await asyncio.gather(*(fetcher.fetch(u) for u in urls))
        finally:
            done.set()
            await sampler
            await fetcher.aclose()

    results = asyncio.run(go())
    assert all(r.status == "skipped" and r.reason.startswith("too_large") for r in results)
    print(f"peak RSS growth {(peak - base) / 2**20:.0f} MiB")
    assert peak - base < 120 * 1024 * 1024, f"peak grew by {(peak - base) / 2**20:.0f} MiB"
