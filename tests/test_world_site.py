"""The world's site server: Host-routed pages that trafilatura can read, robots, sitemaps, traps, faults."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import urllib.robotparser

import aiohttp
import pytest
import trafilatura

from pipelines.world import SiteFaults
from pipelines.world.truth import load_truth


def _get(world, host: str, path: str, **kw):
    async def go():
        async with aiohttp.ClientSession(auto_decompress=kw.pop("auto_decompress", True)) as s:
            async with s.get(f"http://127.0.0.1:{world.site_port}{path}", headers={"Host": f"{host}:{world.site_port}"},
                             allow_redirects=False, timeout=aiohttp.ClientTimeout(total=kw.pop("timeout", 10))) as r:
                limit, body = kw.pop("limit", 2_000_000), b""
                while len(body) < limit and (chunk := await r.content.read(limit - len(body))):
                    body += chunk
                return r.status, r.headers, body
    return asyncio.run(go())


@pytest.fixture(scope="module")
def truth(world):
    return load_truth(world.ground_truth_path)


def _text(world, host, path):
    status, _, body = _get(world, host, path)
    assert status == 200, (host, path)
    return trafilatura.extract(body.decode(), url=f"http://{host}{path}") or ""


def test_planted_facts_survive_extraction_from_company_pages(world, truth):
    for facts in truth["companies"]:
        host = facts["domain"]
        about, team, contact = (_text(world, host, p) for p in ("/about", "/team", "/contact"))
        assert str(facts["founded"]) in about and facts["hq_city"] in about and facts["product"] in about
        assert facts["ceo"] in team and facts["hq_city"] in contact
        assert "cookies" not in about.lower() and "newsletter" not in about.lower()  # boilerplate is gone
        if "ceo_previous_employer" not in facts["hard_cases"]["third_party_only"]:
            assert facts["ceo_previous_employer"] in team


def test_third_party_only_facts_are_only_on_third_party_pages(world, truth):
    for facts in truth["companies"]:
        only = facts["hard_cases"]["third_party_only"]
        slug = facts["domain"].removesuffix(".example")
        profile = _text(world, "company-directory.example", f"/companies/{slug}")
        assert facts["ceo"] in profile and facts["ceo_previous_employer"] in profile
        if "employees" in only:
            own = " ".join(_text(world, facts["domain"], p) for p in ("/about", "/careers", "/de/ueber-uns"))
            assert "employees" not in own and "Mitarbeiter" not in own and "staff" not in own


def test_old_news_names_the_former_ceo(world, truth):
    facts = truth["companies"][0]
    news = _text(world, facts["domain"], "/news")
    assert "opens new site" in news
    sitemap = _get(world, facts["domain"], "/sitemap.xml")[2].decode()
    old = next(loc for loc in sitemap.split("<loc>")[1:] if "opens-new-site" in loc).split("</loc>")[0]
    text = _text(world, facts["domain"], old.split(str(world.site_port), 1)[1])
    assert facts["hard_cases"]["former_ceo"] in text and facts["ceo"] not in text


def test_similarly_named_company_has_its_own_site_with_different_facts(world, truth):
    facts = next(f for f in truth["companies"] if f["hard_cases"]["twin"])
    twin = facts["hard_cases"]["twin"]
    host = twin.lower().replace(" ", "-") + ".example"
    text = _text(world, host, "/about")
    assert twin in text and facts["ceo"] not in text and facts["hq_city"] not in text


def test_robots_sitemap_redirects_and_unknown_hosts(world, truth):
    host = truth["companies"][0]["domain"]
    robots = _get(world, host, "/robots.txt")[2].decode()
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(robots.splitlines())
    assert not parser.can_fetch("trawl", f"http://{host}/internal/draft-roadmap") and parser.can_fetch("trawl", f"http://{host}/about")
    assert f"Sitemap: http://{host}:{world.site_port}/sitemap.xml" in robots
    delays = [_get(world, h, "/robots.txt")[2].decode() for h in _hosts(world)]
    assert sum("Crawl-delay: 1" in r for r in delays) == 1
    sitemap = _get(world, host, "/sitemap.xml")[2].decode()
    assert f"http://{host}:{world.site_port}/about" in sitemap and "/internal/" not in sitemap
    status, headers, _ = _get(world, host, "/about-us")
    assert status == 301 and headers["Location"] == "/about"
    status, headers, _ = _get(world, f"www.{host}", "/team?x=1")
    assert status == 301 and headers["Location"] == f"http://{host}:{world.site_port}/team?x=1"
    assert _get(world, "nowhere.example", "/")[0] == 404
    assert _get(world, host, "/no-such-page")[0] == 404


def _hosts(world):
    return json.loads(_get(world, "127.0.0.1", "/")[2])["hosts"]


def test_traps(world):
    host = world.companies[0]["domain"]
    status, headers, body = _get(world, host, "/_trap/gzip-bomb", auto_decompress=False)
    assert status == 200 and headers["Content-Encoding"] == "gzip" and len(body) < 1_000_000
    assert gzip.GzipFile(fileobj=io.BytesIO(body)).read(1 << 20) == b"\0" * (1 << 20)  # inflates to 256 MB of zeros
    assert _get(world, host, "/_trap/binary")[1]["Content-Type"] == "application/octet-stream"
    status, headers, _ = _get(world, host, "/_trap/loop")
    assert status == 302 and headers["Location"] == "/_trap/loop-b"
    assert _get(world, host, "/_trap/loop-b")[1]["Location"] == "/_trap/loop"
    status, headers, _ = _get(world, host, "/_trap/503")
    assert status == 503 and headers["Retry-After"]
    assert _get(world, host, "/_trap/private-redirect")[1]["Location"].startswith("http://metadata.google.internal/")
    body = _get(world, host, "/_trap/injection")[2].decode()
    assert "IGNORE ALL PREVIOUS INSTRUCTIONS" in body and "evil.example" in body
    _, _, huge = _get(world, host, "/_trap/huge?mb=3", limit=10_000_000)
    assert len(huge) >= 3 * (1 << 20)
    with pytest.raises(UnicodeDecodeError):
        _get(world, host, "/_trap/bad-encoding")[2].decode("utf-8")
    with pytest.raises(asyncio.TimeoutError):
        _get(world, host, "/_trap/slow-headers?s=5", timeout=0.5)


def test_fault_injection_per_class_and_host(world):
    a, b = world.companies[0]["domain"], world.companies[1]["domain"]
    try:
        world.set_faults("site", {"page": SiteFaults(hosts=[a], rate_503=1.0, retry_after_s=7)})
        status, headers, _ = _get(world, a, "/about")
        assert status == 503 and headers["Retry-After"] == "7"
        assert _get(world, b, "/about")[0] == 200  # other hosts unaffected
        assert _get(world, a, "/robots.txt")[0] == 200  # robots is its own request class
        world.set_faults("site", SiteFaults(rate_wrong_type=1.0))
        assert _get(world, b, "/about")[1]["Content-Type"].startswith("application/octet-stream")
        world.set_faults("site", SiteFaults(rate_oversize=1.0, oversize_bytes=3_000_000))
        assert len(_get(world, b, "/about", limit=5_000_000)[2]) >= 3_000_000
        world.set_faults("site", SiteFaults(rate_redirect_loop=1.0))
        status, headers, _ = _get(world, b, "/about")
        assert status == 302 and headers["Location"] == "/about"
        world.set_faults("site", SiteFaults(latency_s=0.3))
        before = world.stats("site")
        assert _get(world, b, "/team")[0] == 200
        assert world.stats("site").get("delay_ms", 0) - before.get("delay_ms", 0) == 300
        world.set_faults("site", SiteFaults(rate_slow_body=1.0, slow_body_s=1.0))
        before = world.stats("site")
        assert _get(world, b, "/team")[0] == 200
        assert world.stats("site").get("slow_body_ms", 0) - before.get("slow_body_ms", 0) == 1000
    finally:
        world.set_faults("site", {})
    assert _get(world, a, "/about")[0] == 200
