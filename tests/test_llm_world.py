"""The gateway against the local world's OpenAI-compatible servers (real subprocesses) with fault injection."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from pipelines import prompts
from pipelines.errors import TruncatedOutputError
from pipelines.llm.cache_reader import CacheReader
from pipelines.llm.gateway import Gateway
from pipelines.llm.types import CallContext, LLMRequest, LLMResult
from pipelines.world.llm_server import LLMFaults, start_llm_server
from tests.fixtures_llm import free_port, provider, settings_for


@pytest.fixture
def world_llm():
    servers = []

    def start(faults: LLMFaults):
        server = start_llm_server(faults, port=0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def expand(i: int, job: str = "job-w") -> LLMRequest:
    messages = prompts.expand_messages(f"Who is the CEO of company {i}?", {"company": f"Company {i}"}, 4)
    return LLMRequest(stage="expand", messages=messages, context=CallContext(job, f"row{i}", "ceo"), prompt_version=prompts.PROMPT_VERSION)


def run_calls(gateway: Gateway, requests: list[LLMRequest], concurrency: int = 8) -> list:
    async def go():
        gate = asyncio.Semaphore(concurrency)

        async def one(req):
            async with gate:
                return await gateway.complete(req)

        try:
            return await asyncio.gather(*(one(r) for r in requests), return_exceptions=True)
        finally:
            await gateway.aclose()

    return asyncio.run(go())


def max_starts_in_any_window(records: list[dict], provider_name: str, window_s: float = 60.0) -> int:
    starts = sorted(r["started_at"] for r in records if r["gen_ai.provider.name"] == provider_name and not r["cache_hit"])
    worst = 0
    for i, t in enumerate(starts):
        worst = max(worst, sum(1 for s in starts[i:] if (s - t).total_seconds() < window_s))
    return worst


def test_flaky_primary_and_healthy_fallback_answer_every_call_within_rpm(world_llm, tmp_path):
    primary = world_llm(LLMFaults(rate_429=0.5, rate_500=0.1, retry_after_s=0.2, seed=1))
    backup = world_llm(LLMFaults(seed=2))
    records: list[dict] = []
    settings = settings_for(provider("primary", primary.base_url, rpm=20), provider("backup", backup.base_url, rpm=100))
    results = run_calls(Gateway(settings, record_sink=records.extend, cache_dir=str(tmp_path)), [expand(i) for i in range(60)])
    assert all(not isinstance(r, Exception) for r in results), [r for r in results if isinstance(r, Exception)]
    assert all("<k>" in r.text for r in results)
    by = Counter((r["gen_ai.provider.name"], r["error.type"]) for r in records)
    assert by[("primary", "http_429")] > 0 and by[("backup", None)] > 0  # the fallback's share is in the records
    assert by[("primary", None)] + by[("backup", None)] == 60
    assert all(r["fallback_from"] == "primary" for r in records if r["gen_ai.provider.name"] == "backup")
    assert max_starts_in_any_window(records, "primary") <= 20
    assert max_starts_in_any_window(records, "backup") <= 100
    assert primary.stats()["requests"] == sum(1 for r in records if r["gen_ai.provider.name"] == "primary")


def test_a_dead_primary_is_cooled_down(world_llm, tmp_path):
    backup = world_llm(LLMFaults())
    records: list[dict] = []
    settings = settings_for(provider("dead", f"http://127.0.0.1:{free_port()}/v1"), provider("backup", backup.base_url), breaker_failures=3)
    results = run_calls(Gateway(settings, record_sink=records.extend, cache_dir=str(tmp_path)), [expand(i) for i in range(40)], concurrency=4)
    assert all(r.provider == "backup" for r in results)
    dead = [r for r in records if r["gen_ai.provider.name"] == "dead"]
    assert 3 <= len(dead) <= 3 + 4  # the threshold, plus calls already on their way; not 40 x 3 attempts


def test_a_primary_at_its_server_side_rpm_is_routed_around(world_llm, tmp_path):
    primary = world_llm(LLMFaults(rpm_limit=5))  # answers 429 with Retry-After ~60 s once 5 calls were made
    backup = world_llm(LLMFaults())
    records: list[dict] = []
    settings = settings_for(provider("primary", primary.base_url), provider("backup", backup.base_url))
    results = run_calls(Gateway(settings, record_sink=records.extend, cache_dir=str(tmp_path)), [expand(i) for i in range(30)], concurrency=4)
    assert all(not isinstance(r, Exception) for r in results)
    assert sum(r.provider == "primary" for r in results) == 5
    assert primary.stats().get("429_limit", 0) <= 4  # once told to wait a minute, it is not asked again


def test_timeouts_bad_json_and_truncation_are_retried_or_returned(world_llm, tmp_path):
    primary = world_llm(LLMFaults(rate_timeout=0.15, timeout_s=5, rate_bad_json=0.15, rate_truncated=0.1, seed=3))
    records: list[dict] = []
    # The breaker is set out of the way: this test is about retries on a provider that mostly works.
    settings = settings_for(provider("primary", primary.base_url, timeout_s=1.5), max_attempts_per_provider=6, breaker_failures=100)
    results = run_calls(Gateway(settings, record_sink=records.extend, cache_dir=str(tmp_path)), [expand(i) for i in range(30)])
    # A reply cut off at the token limit is its own outcome (not retried on the same provider, never cached).
    truncated = [r for r in results if isinstance(r, TruncatedOutputError)]
    assert all(isinstance(r, LLMResult) for r in results if r not in truncated), results
    errors = Counter(r["error.type"] for r in records if r["error.type"])
    assert set(errors) <= {"timeout", "malformed_response", "truncated"} and errors["timeout"] > 0 and errors["malformed_response"] > 0
    assert errors["truncated"] == len(truncated) == primary.stats().get("truncated", 0)
    assert all(r["gen_ai.response.finish_reasons"] == "length" for r in records if r["error.type"] == "truncated")


def test_a_second_run_makes_zero_uncached_calls(world_llm, tmp_path):
    server = world_llm(LLMFaults())
    settings = settings_for(provider("main", server.base_url))
    first: list[dict] = []
    run_calls(Gateway(settings, record_sink=first.extend, cache_dir=str(tmp_path)), [expand(i) for i in range(20)])
    upstream = server.stats()["requests"]
    second: list[dict] = []
    results = run_calls(Gateway(settings, record_sink=second.extend, cache_dir=str(tmp_path)), [expand(i) for i in range(20)])
    assert server.stats()["requests"] == upstream
    assert len(second) == 20 and all(r["cache_hit"] and r["gen_ai.usage.input_tokens"] == 0 for r in second)
    assert all(r.cache_hit and r.cost_usd == 0 for r in results)


def test_the_drivers_cache_view_answers_hits_exactly_as_the_gateway_would(world_llm, tmp_path):
    """What the driver serves from the cache (to skip the gateway hop) is indistinguishable from the gateway's hit."""
    server = world_llm(LLMFaults())
    # the answer is cached under the fallback's request: a hit must still be found, as the gateway finds it
    settings = settings_for(provider("down", f"http://127.0.0.1:{free_port()}/v1", timeout_s=1.0),
                            provider("main", server.base_url), max_attempts_per_provider=1)
    run_calls(Gateway(settings, record_sink=lambda records: None, cache_dir=str(tmp_path)), [expand(i) for i in range(5)])
    upstream = server.stats()["requests"]
    gateway_records: list[dict] = []
    from_gateway = run_calls(Gateway(settings, record_sink=gateway_records.extend, cache_dir=str(tmp_path)),
                             [expand(i) for i in range(5)])
    assert all(isinstance(r, LLMResult) and r.cache_hit for r in from_gateway)
    assert server.stats()["requests"] == upstream
    gateway_records.sort(key=lambda r: r["row_key"])

    reader = CacheReader(settings, str(tmp_path))
    hits = [reader.lookup(expand(i)) for i in range(5)]
    assert reader.lookup(expand(99)) is None  # a miss goes to the gateway
    assert server.stats()["requests"] == upstream  # reading the cache never calls a provider
    volatile = {"started_at", "gen_ai.client.operation.duration"}
    for (result, record), theirs, their_record in zip(hits, from_gateway, gateway_records):
        assert (result.text, result.provider, result.model, result.cache_hit) == (theirs.text, "main", theirs.model, True)
        assert {k: v for k, v in record.items() if k not in volatile} == {k: v for k, v in their_record.items() if k not in volatile}
    assert all(r["cache_hit"] and r["cost_usd"] == 0 and r["gen_ai.usage.input_tokens"] == 0 for _, r in hits)
    reader.close()


def test_concurrent_identical_requests_make_one_upstream_call(world_llm, tmp_path):
    server = world_llm(LLMFaults(latency_s=0.5))
    records: list[dict] = []
    results = run_calls(Gateway(settings_for(provider("main", server.base_url)), record_sink=records.extend, cache_dir=str(tmp_path)),
                        [expand(1) for _ in range(10)], concurrency=10)
    assert server.stats()["requests"] == 1
    assert len({r.text for r in results}) == 1 and sum(not r["cache_hit"] for r in records) == 1
