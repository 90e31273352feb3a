"""robots.txt verdicts and caching (RFC 9309 semantics), without a network: the fetch is a stub."""

from __future__ import annotations

import asyncio

import pytest

from pipelines.fetch.robots import RobotsCache, RobotsResponse, crawl_delay_for

UA = "trawl/0.1 (+https://github.com/trawl/trawl)"
TEXT = b"User-agent: trawl\nDisallow: /private\nAllow: /private/ok\nCrawl-delay: 0.5\n\nUser-agent: *\nDisallow: /\nCrawl-delay: 9\n"


def rules_for(response: RobotsResponse, **kw):
    cache = RobotsCache(UA, **kw)

    async def fetch(url):
        return response

    return asyncio.run(cache.rules_for("http://a.test", fetch))


def test_rules_for_our_agent():
    rules = rules_for(RobotsResponse(200, TEXT))
    assert rules.allowed("http://a.test/page", UA)
    assert not rules.allowed("http://a.test/private/x", UA)
    assert rules.crawl_delay == 0.5
    assert not rules.allowed("http://a.test/page", "otherbot/1.0")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_4xx_allows_everything(status):
    rules = rules_for(RobotsResponse(status, b"User-agent: *\nDisallow: /"))
    assert rules.problem is None and rules.allowed("http://a.test/anything", UA)


@pytest.mark.parametrize(
    "response,problem",
    [
        (RobotsResponse(500), "robots_unreachable: http_500"),
        (RobotsResponse(503), "robots_unreachable: http_503"),
        (RobotsResponse(429), "robots_unreachable: http_429"),
        (RobotsResponse(None, error="timeout"), "timeout"),
    ],
)
def test_unreachable_disallows_everything(response, problem):
    rules = rules_for(response)
    assert rules.problem == problem and not rules.problem_blocks
    assert not rules.allowed("http://a.test/", UA)


def test_blocked_robots_blocks_pages():
    rules = rules_for(RobotsResponse(None, error="blocked_address: 10.0.0.1 (private) for a.test", blocked=True))
    assert rules.problem_blocks and rules.problem.startswith("blocked_address")


def test_fetched_once_concurrently_and_cached():
    calls = []

    async def fetch(url):
        calls.append(url)
        await asyncio.sleep(0.05)
        return RobotsResponse(200, TEXT)

    async def go():
        cache = RobotsCache(UA)
        first = await asyncio.gather(*(cache.rules_for("http://a.test", fetch) for _ in range(10)))
        again = await cache.rules_for("http://a.test", fetch)
        return first, again

    first, again = asyncio.run(go())
    assert calls == ["http://a.test/robots.txt"]
    assert all(r is again for r in first)


def test_unreachable_expires_sooner_and_cache_is_bounded():
    calls = []

    async def fetch(url):
        calls.append(url)
        return RobotsResponse(503)

    async def go():
        cache = RobotsCache(UA, unreachable_ttl_s=0.0, max_entries=2)
        await cache.rules_for("http://a.test", fetch)
        await cache.rules_for("http://a.test", fetch)  # expired at once: asked again
        for host in ("b", "c", "d"):
            await cache.rules_for(f"http://{host}.test", fetch)
        return len(cache._cache)  # noqa: SLF001 - the bound is the behaviour under test

    assert asyncio.run(go()) <= 2
    assert calls.count("http://a.test/robots.txt") == 2


def test_a_raising_fetch_does_not_wedge_the_origin():
    async def fetch(url):
        raise RuntimeError("bug")

    rules = asyncio.run(RobotsCache(UA).rules_for("http://a.test", fetch))
    assert rules.problem == "error: RuntimeError"


@pytest.mark.parametrize(
    "text,delay",
    [
        ("User-agent: *\nCrawl-delay: 2\n", 2.0),
        ("User-agent: trawl\nCrawl-delay: 0.25\n\nUser-agent: *\nCrawl-delay: 5\n", 0.25),
        ("User-agent: otherbot\nCrawl-delay: 7\n", None),
        ("User-agent: *\nCrawl-delay: soon\n", None),
        ("User-agent: a\nUser-agent: TRAWL\nDisallow: /x\nCrawl-delay: 1.5 # comment\n", 1.5),
    ],
)
def test_crawl_delay_parsing(text, delay):
    assert crawl_delay_for(text, UA) == delay


# -- RFC 9309 semantics (https://www.rfc-editor.org/rfc/rfc9309) ---------------------------------

RFC_5_1 = b"""User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot
"""


@pytest.mark.parametrize(
    "agent,path,allowed",
    [
        ("foobot/2.1", "/example/page.html", True),
        ("foobot/2.1", "/example/allowed.gif", True),
        ("foobot/2.1", "/example/other.html", False),
        ("foobot/2.1", "/", False),
        ("barbot", "/example/page.html", False),
        ("bazbot", "/example/page.html", False),
        ("barbot", "/example/other.html", True),  # only its own group applies, not '*'
        ("quxbot", "/example/page.html", True),  # an empty group allows everything
        ("quxbot", "/pic.gif", True),
        ("otherbot", "/pic.gif", False),
        ("otherbot", "/example/x", False),
        ("otherbot", "/publications/x", True),
    ],
)
def test_rfc_9309_section_5_1_example(agent, path, allowed):
    rules = rules_for(RobotsResponse(200, RFC_5_1))
    assert rules.allowed(f"http://a.test{path}", agent) is allowed


def test_rfc_9309_section_5_2_longest_match():
    rules = rules_for(RobotsResponse(200, b"User-Agent: trawl\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n"))
    assert rules.allowed("http://a.test/example/page/", UA)
    assert not rules.allowed("http://a.test/example/page/disallowed.gif", UA)


@pytest.mark.parametrize(
    "text,path,allowed",
    [
        (b"User-agent: *\nDisallow: /\nAllow: /about\n", "/about", True),  # longest match wins, whatever the order
        (b"User-agent: *\nDisallow: /*.pdf$\n", "/report.pdf", False),  # '*' and '$' (RFC 9309 2.2.3)
        (b"User-agent: *\nDisallow: /*.pdf$\n", "/report.pdf?x=1", True),
        (b"User-agent: *\nDisallow: /private*/\n", "/private-area/x", False),
        (b"User-agent: *\nAllow: /p\nDisallow: /\n", "/page", True),
        (b"User-agent: *\nAllow: /page\nDisallow: /page\n", "/page", True),  # a tie goes to Allow (RFC 9309 2.2.2)
        (b"User-agent: *\nDisallow: /foo/bar/\xe3\x83\x84\n", "/foo/bar/%E3%83%84", False),  # UTF-8 rules match encoded paths
    ],
)
def test_rfc_9309_matching(text, path, allowed):
    rules = rules_for(RobotsResponse(200, text))
    assert rules.allowed(f"http://a.test{path}", UA) is allowed


def test_crawl_delay_of_our_product_token_group():
    assert crawl_delay_for("User-agent: Trawl\nCrawl-delay: 1.5\n\nUser-agent: *\nCrawl-delay: 9\n", UA) == 1.5
    assert crawl_delay_for("User-agent: *\nCrawl-delay: 9\n", UA) == 9.0
    assert crawl_delay_for("User-agent: *\nDisallow: /x\n", UA) is None
