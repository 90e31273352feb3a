"""The SearXNG adapter and the gateway against the local world's search server (a real process)."""

import asyncio

from pipelines.search.config import SearchProviderConfig, SearchSettings
from pipelines.search.gateway import SearchGateway
from pipelines.search.types import SearchRequest
from pipelines.urls import host_of, select_urls
from pipelines.world import SearchFaults


def gateway_run(world, queries, **settings_kw):
    records = []
    settings = SearchSettings(
        providers=[SearchProviderConfig(name="local", kind="searxng", base_url=world.search_base_url)],
        cache=False, backoff_base_s=0.01, **settings_kw,
    )

    async def go():
        gw = SearchGateway(settings, record_sink=records.extend)
        try:
            return await asyncio.gather(*(gw.search(SearchRequest(q, count=10)) for q in queries), return_exceptions=True)
        finally:
            await gw.aclose()

    return asyncio.run(go()), records


def test_world_search_finds_company_pages(world):
    company = world.companies[0]
    (hits,), records = gateway_run(world, [f"{company['company']} CEO"])
    assert 1 <= len(hits) <= 10
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(h.provider == "local" and h.score is not None and h.title for h in hits)
    urls, info = select_urls([hits], include=[], exclude=[], cap=5)
    assert urls and all(host_of(u).endswith(".example") for u in urls)
    assert records[0]["error.type"] is None and records[0]["results"] == len(hits)


def test_world_faults_are_retried_within_the_attempt_budget(world):
    # 30% of answers fail: with 20 searches some retries are all but certain (1 - 0.7**20), and a search
    # failing all 10 tries is not (20 * 0.3**10).
    world.set_faults("search", SearchFaults(rate_503=0.15, rate_429=0.15, retry_after_s=0.05, seed=3))
    try:
        queries = [f"{c['company']} {topic}" for c in world.companies for topic in ("founded", "ceo", "headquarters", "products")]
        results, records = gateway_run(world, queries, max_attempts_per_provider=10)
    finally:
        world.set_faults("search", SearchFaults())
    assert all(isinstance(r, list) and r for r in results), results
    errors = [r["error.type"] for r in records if r["error.type"]]
    assert errors and set(errors) <= {"http_503", "http_429"}
