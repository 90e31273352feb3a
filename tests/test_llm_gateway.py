"""Gateway behaviour against scriptable OpenAI-compatible servers on real sockets (no Ray)."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from pipelines.errors import AuthError, BadRequestError, BudgetExhaustedError, UnavailableError
from pipelines.llm.gateway import Gateway
from pipelines.llm.types import CallContext, LLMRequest
from pipelines.settings import BudgetSettings
from pipelines.store.schemas import SCHEMAS
from tests.fixtures_llm import error_body, free_port, ok_body, provider, settings_for

CTX = CallContext(job_id="job1", row_key="acme", column="ceo")


def request(text: str = "Who is the CEO?", stage: str = "summarize", **kw) -> LLMRequest:
    return LLMRequest(stage=stage, messages=[{"role": "user", "content": text}], context=CTX, prompt_version="v1", **kw)


def make(settings, tmp_path, **kw):
    records: list[dict] = []
    gw = Gateway(settings, record_sink=records.extend, cache_dir=str(tmp_path / "cache"), **kw)
    return gw, records


def run(coro):
    return asyncio.run(coro)


async def _complete_all(gw, reqs):
    try:
        return await asyncio.gather(*(gw.complete(r) for r in reqs), return_exceptions=True)
    finally:
        await gw.aclose()


def test_success_records_one_attempt_with_every_llm_calls_column(llm_server, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-secret-test-key-123456")
    settings = settings_for(provider("main", llm_server.base_url, api_key_env="TEST_LLM_KEY", price_input_per_m=1.0, price_output_per_m=2.0))
    gw, records = make(settings, tmp_path)
    [result] = run(_complete_all(gw, [request()]))
    assert result.text == "echo: Who is the CEO?" and result.provider == "main" and result.attempts == 1
    assert (result.input_tokens, result.output_tokens) == (10, 5)
    assert result.cost_usd == pytest.approx((10 * 1.0 + 5 * 2.0) / 1e6)
    [rec] = records
    assert set(rec) == set(SCHEMAS["llm_calls"].names)
    assert rec["gen_ai.provider.name"] == "main" and rec["gen_ai.request.model"] == "main-model"
    assert (rec["job_id"], rec["row_key"], rec["column"], rec["stage"], rec["attempt"]) == ("job1", "acme", "ceo", "summarize", 1)
    assert rec["error.type"] is None and rec["cache_hit"] is False and rec["prompt_version"] == "v1"
    sent = llm_server.requests[0]
    canonical = json.dumps({"body": sent, "prompt_version": "v1"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert rec["request_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert llm_server.headers_seen[0]["Authorization"] == "Bearer sk-secret-test-key-123456"
    assert "sk-secret" not in json.dumps(records, default=str)


def test_retryable_errors_are_retried_on_the_same_provider(llm_server, tmp_path):
    llm_server.script = [(500, {}, error_body("boom")), (429, {"retry-after": "0.05"}, error_body("slow down"))]
    slept: list[float] = []

    async def sleep(s):
        slept.append(s)

    gw, records = make(settings_for(provider("main", llm_server.base_url)), tmp_path, sleep=sleep)
    [result] = run(_complete_all(gw, [request()]))
    assert result.attempts == 3
    assert [r["error.type"] for r in records] == ["http_500", "http_429", None]
    assert [r["attempt"] for r in records] == [1, 2, 3]
    assert len({r["call_id"] for r in records}) == 3
    assert max(slept) >= 0.05  # Retry-After honoured


def test_falls_back_after_max_attempts_and_records_where_from(llm_server_factory, tmp_path):
    primary, backup = llm_server_factory(), llm_server_factory()
    primary.responder = lambda body: (503, {}, error_body("down"))
    gw, records = make(settings_for(provider("primary", primary.base_url), provider("backup", backup.base_url), max_attempts_per_provider=2), tmp_path)
    [result] = run(_complete_all(gw, [request()]))
    assert result.provider == "backup" and result.attempts == 3
    assert [(r["gen_ai.provider.name"], r["error.type"], r["fallback_from"]) for r in records] == [
        ("primary", "http_503", None),
        ("primary", "http_503", None),
        ("backup", None, "primary"),
    ]


def test_permanent_error_goes_straight_to_next_provider(llm_server_factory, tmp_path):
    primary, backup = llm_server_factory(), llm_server_factory()
    primary.responder = lambda body: (400, {}, error_body("This model's maximum context length is 8192 tokens", "context_length_exceeded"))
    gw, records = make(settings_for(provider("primary", primary.base_url), provider("backup", backup.base_url)), tmp_path)
    [result] = run(_complete_all(gw, [request()]))
    assert result.provider == "backup"
    assert [r["error.type"] for r in records] == ["context_length", None]


def test_permanent_error_on_last_provider_fails_with_recorded_reason(llm_server, tmp_path):
    llm_server.responder = lambda body: (404, {}, error_body("model not found"))
    gw, records = make(settings_for(provider("main", llm_server.base_url)), tmp_path)
    [err] = run(_complete_all(gw, [request()]))
    assert isinstance(err, BadRequestError) and err.reason == "http_404"
    assert len(llm_server.requests) == 1
    assert records[0]["error.type"] == "http_404" and "model not found" in records[0]["error_message"]


def test_auth_error_never_shows_the_key(llm_server, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-live-abcdef123456789")
    llm_server.responder = lambda body: (401, {}, error_body("Incorrect API key provided: sk-live-abcdef123456789"))
    gw, records = make(settings_for(provider("main", llm_server.base_url, api_key_env="TEST_LLM_KEY")), tmp_path)
    [err] = run(_complete_all(gw, [request()]))
    assert isinstance(err, AuthError)
    assert "abcdef123456789" not in str(err) and "abcdef123456789" not in json.dumps(records, default=str)


def test_missing_key_variable_is_named_at_startup(tmp_path, monkeypatch):
    monkeypatch.delenv("TRAWL_TEST_MISSING_KEY", raising=False)
    with pytest.raises(AuthError, match="TRAWL_TEST_MISSING_KEY"):
        Gateway(settings_for(provider("main", "http://127.0.0.1:9/v1", api_key_env="TRAWL_TEST_MISSING_KEY")), cache_dir=str(tmp_path))


def test_dead_primary_is_cooled_down_not_retried_every_call(llm_server, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings = settings_for(provider("dead", dead), provider("live", llm_server.base_url), breaker_failures=3, breaker_cooldown_s=60)
    gw, records = make(settings, tmp_path)

    async def go():
        first_wave = await asyncio.gather(*(gw.complete(request(f"w{i}")) for i in range(5)))
        later = [await gw.complete(request(f"q{i}")) for i in range(15)]
        await gw.aclose()
        return first_wave + later

    results = run(go())
    assert all(r.provider == "live" for r in results)
    dead_attempts = [r for r in records if r["gen_ai.provider.name"] == "dead"]
    assert all(r["error.type"] == "connection_error" for r in dead_attempts)
    # The first wave was already on its way when the failures came back; after that, nothing.
    assert len(dead_attempts) <= 5
    assert all(r["gen_ai.provider.name"] == "live" for r in records[-15:])
    assert gw.stats()["circuits"]["dead"]["state"] == "open"


def test_every_provider_cooling_down_fails_fast_with_a_clear_reason(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    gw, records = make(settings_for(provider("dead", dead), breaker_failures=1, breaker_cooldown_s=60), tmp_path)

    async def go():
        first = await asyncio.gather(gw.complete(request("a")), return_exceptions=True)
        second = await asyncio.gather(gw.complete(request("b")), return_exceptions=True)
        await gw.aclose()
        return first[0], second[0]

    first, second = run(go())
    assert isinstance(first, UnavailableError) and first.reason == "connection_error"
    assert isinstance(second, UnavailableError) and second.reason == "circuit_open"
    assert len(records) == 1


def test_second_identical_call_is_a_cache_hit_even_in_a_new_gateway(llm_server, tmp_path):
    settings = settings_for(provider("main", llm_server.base_url))
    gw, records = make(settings, tmp_path)
    [first] = run(_complete_all(gw, [request()]))
    gw2, records2 = make(settings, tmp_path)  # a re-run: same cache folder, new process state
    [second] = run(_complete_all(gw2, [request()]))
    assert len(llm_server.requests) == 1
    assert second.cache_hit and second.text == first.text and second.input_tokens == 0 and second.cost_usd == 0
    [hit] = records2
    assert hit["cache_hit"] is True and hit["gen_ai.usage.input_tokens"] == 0 and hit["cost_usd"] == 0
    assert hit["request_hash"] == records[0]["request_hash"] and hit["call_id"] != records[0]["call_id"]


def test_a_different_prompt_version_misses_the_cache(llm_server, tmp_path):
    gw, _ = make(settings_for(provider("main", llm_server.base_url)), tmp_path)
    other = LLMRequest(stage="summarize", messages=request().messages, context=CTX, prompt_version="v2")
    run(_complete_all(gw, [request()]))
    gw2, _ = make(settings_for(provider("main", llm_server.base_url)), tmp_path)
    run(_complete_all(gw2, [other]))
    assert len(llm_server.requests) == 2


def test_expired_cache_entries_are_asked_again(llm_server, tmp_path):
    settings = settings_for(provider("main", llm_server.base_url), cache_ttl_s=0.01)
    gw, _ = make(settings, tmp_path)
    run(_complete_all(gw, [request()]))
    asyncio.run(asyncio.sleep(0.05))
    gw2, _ = make(settings, tmp_path)
    run(_complete_all(gw2, [request()]))
    assert len(llm_server.requests) == 2


def test_concurrent_identical_requests_make_one_upstream_call(llm_server_factory, tmp_path):
    server = llm_server_factory(delay_s=0.3)
    gw, records = make(settings_for(provider("main", server.base_url)), tmp_path)
    results = run(_complete_all(gw, [request() for _ in range(8)]))
    assert len(server.requests) == 1
    assert len({r.text for r in results}) == 1
    assert sum(not r["cache_hit"] for r in records) == 1 and sum(r["cache_hit"] for r in records) == 7


def test_truncated_answers_are_not_cached(llm_server, tmp_path):
    llm_server.responder = lambda body: (200, {}, ok_body(body["model"], "cut sh", finish="length"))
    gw, _ = make(settings_for(provider("main", llm_server.base_url)), tmp_path)
    run(_complete_all(gw, [request()]))
    gw2, _ = make(settings_for(provider("main", llm_server.base_url)), tmp_path)
    run(_complete_all(gw2, [request()]))
    assert len(llm_server.requests) == 2


def test_budget_stops_new_calls_but_not_cache_hits(llm_server, tmp_path):
    gw, records = make(settings_for(provider("main", llm_server.base_url)), tmp_path)
    gw._budget.budget = BudgetSettings(max_total_tokens=15)

    async def go():
        first = await gw.complete(request("one"))
        again = await gw.complete(request("one"))
        with pytest.raises(BudgetExhaustedError, match="token budget"):
            await gw.complete(request("two"))
        other_job = await gw.complete(LLMRequest(stage="judge", messages=[{"role": "user", "content": "x"}], context=CallContext(job_id="job2")))
        await gw.aclose()
        return first, again, other_job

    first, again, other_job = run(go())
    assert not first.cache_hit and again.cache_hit and not other_job.cache_hit
    assert gw.stats()["budget"]["job1"]["tokens"] == 15


def test_budget_on_cost(llm_server, tmp_path):
    gw = Gateway(settings_for(provider("main", llm_server.base_url, price_input_per_m=1e5)), budget=BudgetSettings(max_cost_usd=0.5),
                 cache_dir=str(tmp_path))

    async def go():
        await gw.complete(request("one"))  # 10 input tokens at $0.10 each
        with pytest.raises(BudgetExhaustedError, match="cost budget"):
            await gw.complete(request("two"))
        await gw.aclose()

    run(go())


def test_server_rate_limit_headers_route_calls_to_the_next_provider(llm_server_factory, tmp_path):
    primary, backup = llm_server_factory(), llm_server_factory()
    primary.script = [(200, {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m0s"}, ok_body("p", "first"))]
    gw, records = make(settings_for(provider("primary", primary.base_url), provider("backup", backup.base_url)), tmp_path)

    async def go():
        out = [await gw.complete(request(f"q{i}")) for i in range(3)]
        await gw.aclose()
        return out

    results = run(go())
    assert [r.provider for r in results] == ["primary", "backup", "backup"]
    assert records[1]["fallback_from"] == "primary"


def test_configured_rpm_routes_overflow_to_the_fallback(llm_server_factory, tmp_path):
    primary, backup = llm_server_factory(), llm_server_factory()
    gw, records = make(settings_for(provider("primary", primary.base_url, rpm=5), provider("backup", backup.base_url)), tmp_path)
    results = run(_complete_all(gw, [request(f"q{i}") for i in range(12)]))
    assert sum(r.provider == "primary" for r in results) == 5 and sum(r.provider == "backup" for r in results) == 7


def test_max_concurrency_caps_calls_in_flight_and_overflow_goes_to_the_fallback(llm_server_factory, tmp_path):
    slow, backup = llm_server_factory(delay_s=0.3), llm_server_factory(delay_s=0.3)
    gw, _ = make(settings_for(provider("slow", slow.base_url, max_concurrency=2), provider("backup", backup.base_url)), tmp_path)
    results = run(_complete_all(gw, [request(f"q{i}") for i in range(6)]))
    assert slow.max_concurrent == 2 and sum(r.provider == "slow" for r in results) == 2
    alone, _ = make(settings_for(provider("slow", slow.base_url, max_concurrency=2)), tmp_path / "b")
    results = run(_complete_all(alone, [request(f"z{i}") for i in range(6)]))
    assert all(r.provider == "slow" for r in results) and slow.max_concurrent == 2  # queued, not refused


def test_stop_sequences_are_applied_locally_when_the_provider_cannot(llm_server, tmp_path):
    gw, _ = make(settings_for(provider("main", llm_server.base_url, stop_sequences=False)), tmp_path)
    [result] = run(_complete_all(gw, [request("alpha STOP beta", stop=["STOP"])]))
    assert "stop" not in llm_server.requests[0] and result.text == "echo: alpha "
    again, _ = make(settings_for(provider("main", llm_server.base_url, stop_sequences=False)), tmp_path)
    [hit] = run(_complete_all(again, [request("alpha STOP beta", stop=["STOP"])]))
    assert hit.cache_hit and hit.text == "echo: alpha "


def test_chains_per_stage(llm_server_factory, tmp_path):
    cheap, strong = llm_server_factory(), llm_server_factory()
    settings = settings_for(provider("cheap", cheap.base_url), provider("strong", strong.base_url), chains={"judge": ["cheap"], "default": ["strong", "cheap"]})
    gw, _ = make(settings, tmp_path)
    judge, summary = run(_complete_all(gw, [request("a", stage="judge"), request("b", stage="summarize")]))
    assert judge.provider == "cheap" and summary.provider == "strong"


def test_stats_per_provider_and_model(llm_server_factory, tmp_path):
    primary, backup = llm_server_factory(), llm_server_factory()
    primary.script = [(500, {}, error_body("x"))] * 3
    gw, _ = make(settings_for(provider("primary", primary.base_url), provider("backup", backup.base_url)), tmp_path)

    async def one_by_one():
        for text in ("a", "a", "b"):
            await gw.complete(request(text))
        await gw.aclose()

    run(one_by_one())
    rows = {r["provider"]: r for r in gw.stats()["providers"]}
    assert rows["primary"]["failures"] == {"http_500": 3}
    assert rows["backup"]["calls"] >= 1 and rows["backup"]["p50_s"] is not None


def test_rpm_holds_in_every_sixty_second_window_over_minutes_of_virtual_time(llm_server, tmp_path):
    from datetime import datetime, timedelta, timezone

    virtual = {"t": 0.0}
    epoch = datetime(2026, 1, 1, tzinfo=timezone.utc)

    async def sleep(seconds):  # time passes only when someone waits for it
        virtual["t"] += seconds
        await asyncio.sleep(0)

    settings = settings_for(provider("main", llm_server.base_url, rpm=10), max_limit_wait_s=120)
    gw, records = make(settings, tmp_path, clock=lambda: virtual["t"], sleep=sleep, now=lambda: epoch + timedelta(seconds=virtual["t"]))
    results = run(_complete_all(gw, [request(f"q{i}") for i in range(35)]))
    assert all(r.provider == "main" for r in results)
    starts = sorted(r["started_at"] for r in records)
    assert (starts[-1] - starts[0]).total_seconds() > 180  # 35 calls at 10/min really took minutes
    in_window = [sum(1 for s in starts[i:] if (s - t).total_seconds() < 60) for i, t in enumerate(starts)]
    assert max(in_window) == 10


def test_callers_that_joined_a_cancelled_call_ask_again_themselves(llm_server_factory, tmp_path):
    server = llm_server_factory(delay_s=0.3)
    gw, records = make(settings_for(provider("main", server.base_url)), tmp_path)

    async def go():
        leader = asyncio.ensure_future(gw.complete(request()))
        for _ in range(500):  # until the leader's request is on the wire
            if server.requests:
                break
            await asyncio.sleep(0.01)
        follower = asyncio.ensure_future(gw.complete(request()))
        await asyncio.sleep(0.02)
        leader.cancel()  # e.g. its cell timed out
        result = await follower
        await gw.aclose()
        return result

    result = run(go())
    assert result.text == "echo: Who is the CEO?" and not result.cache_hit
    assert len(server.requests) == 2
    assert [r["error.type"] for r in records] == ["cancelled", None]  # the abandoned attempt is recorded too
