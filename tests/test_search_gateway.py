"""Search gateway: retries honour Retry-After, fallback, cache, rate limits, telemetry records."""

import asyncio
import time

import pyarrow as pa

from pipelines.errors import AuthError, UnavailableError
from pipelines.search.config import SearchProviderConfig, SearchSettings
from pipelines.search.gateway import SearchGateway
from pipelines.search.types import SearchRequest
from pipelines.store.schemas import SCHEMAS
from tests.fakes import FakeTime

OK = {"results": [{"url": "https://acme.example/", "title": "Acme", "content": "CEO Jane", "score": 1.0}]}


def searxng(name, url, **kw):
    return SearchProviderConfig(name=name, kind="searxng", base_url=url, **kw)


def settings(*providers, **kw):
    kw.setdefault("backoff_base_s", 0.01)
    kw.setdefault("backoff_max_s", 0.05)
    return SearchSettings(providers=list(providers), **kw)


def run(gateway_settings, *requests, cache_dir=None, sleep=None):
    """Run requests through one gateway; returns (results or raised errors, telemetry records)."""
    records = []

    async def go():
        gw = SearchGateway(gateway_settings, record_sink=records.extend, cache_dir=cache_dir, sleep=sleep or asyncio.sleep)
        out = []
        try:
            for req in requests:
                try:
                    out.append(await gw.search(req))
                except Exception as err:  # noqa: BLE001 - the test inspects it
                    out.append(err)
        finally:
            await gw.aclose()
        return out

    return asyncio.run(go()), records


# count=1: the one-result answers below fill a SearXNG page, so each search is one HTTP request
REQ = SearchRequest("acme ceo", count=1, job_id="j1", row_key="acme", column="ceo")


def test_retry_after_is_honoured_then_success(search_replay):
    search_replay.reply(429, json={"message": "slow down"}, headers={"Retry-After": "1"})
    search_replay.reply(json=OK)
    waits = FakeTime()
    [hits], records = run(settings(searxng("local", search_replay.url), cache=False), REQ, sleep=waits.sleep)
    assert [h.url for h in hits] == ["https://acme.example/"]
    assert 1.0 <= waits.waits[0] <= 1.15  # the Retry-After the server asked for (plus jitter), before the second try
    assert [(r["attempt"], r["error.type"], r["results"]) for r in records] == [(1, "http_429", None), (2, None, 1)]


def test_backoff_retries_server_errors(search_replay):
    search_replay.reply(503, text="down")
    search_replay.reply(500, text="down")
    search_replay.reply(json=OK)
    [hits], records = run(settings(searxng("local", search_replay.url), cache=False), REQ)
    assert len(hits) == 1 and len(search_replay.requests) == 3
    assert [r["error.type"] for r in records] == ["http_503", "http_500", None]


def test_fallback_to_second_provider(search_replay, second_search_replay):
    search_replay.default.status, search_replay.default.json = 500, {"error": "boom"}
    second_search_replay.reply(json=OK)
    s = settings(searxng("primary", search_replay.url), searxng("backup", second_search_replay.url), max_attempts_per_provider=2, cache=False)
    [hits], records = run(s, REQ)
    assert hits[0].provider == "backup"
    assert len(search_replay.requests) == 2 and len(second_search_replay.requests) == 1
    assert [(r["provider"], r["attempt"], r["fallback_from"]) for r in records] == [
        ("primary", 1, None),
        ("primary", 2, None),
        ("backup", 3, "primary"),
    ]


def test_long_retry_after_skips_to_next_provider_without_waiting(search_replay, second_search_replay):
    search_replay.reply(429, text="", headers={"Retry-After": "3600"})
    second_search_replay.reply(json=OK)
    s = settings(searxng("primary", search_replay.url), searxng("backup", second_search_replay.url), cache=False)
    waits = FakeTime()
    [hits], records = run(s, REQ, sleep=waits.sleep)
    assert waits.waits == []  # an hour's Retry-After is not waited out: the next provider answers
    assert hits[0].provider == "backup"
    assert len(search_replay.requests) == 1
    assert records[0]["error.type"] == "http_429" and records[1]["fallback_from"] == "primary"


def test_permanent_error_falls_back_at_once_and_key_never_leaks(search_replay, second_search_replay, monkeypatch):
    monkeypatch.setenv("TRAWL_TEST_BRAVE_KEY", "sekrit-key-123")
    search_replay.reply(401, json={"message": "invalid key sekrit-key-123"})
    second_search_replay.reply(json=OK)
    brave = SearchProviderConfig(name="brave", kind="brave", base_url=search_replay.url, api_key_env="TRAWL_TEST_BRAVE_KEY")
    [hits], records = run(settings(brave, searxng("local", second_search_replay.url), cache=False), REQ)
    assert hits[0].provider == "local"
    assert len(search_replay.requests) == 1  # a 401 is not retried
    assert records[0]["error.type"] == "http_401"
    assert "sekrit" not in repr(records)


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("TRAWL_TEST_MISSING_KEY", raising=False)
    tavily = SearchProviderConfig(name="tavily", kind="tavily", base_url="http://127.0.0.1:9", api_key_env="TRAWL_TEST_MISSING_KEY")
    [err], records = run(settings(tavily, cache=False), REQ)
    assert isinstance(err, AuthError) and "TRAWL_TEST_MISSING_KEY" in str(err)
    assert records[0]["error.type"] == "missing_api_key"


def test_everything_failing_raises_the_last_error_after_all_attempts(search_replay):
    search_replay.default.status, search_replay.default.text = 503, "down"
    [err], records = run(settings(searxng("local", search_replay.url), max_attempts_per_provider=3, cache=False), REQ)
    assert isinstance(err, UnavailableError)
    assert len(records) == 3 and len(search_replay.requests) == 3


def test_repeat_is_a_cache_hit_with_zero_upstream_calls(search_replay, tmp_path):
    search_replay.reply(json=OK)
    s = settings(searxng("local", search_replay.url))
    (first, second), records = run(s, REQ, SearchRequest("  ACME   ceo", count=1, job_id="j1"), cache_dir=str(tmp_path))
    assert first == second
    assert len(search_replay.requests) == 1
    assert [r["cache_hit"] for r in records] == [False, True]
    # persisted: a new gateway on the same folder answers from the cache too
    (third,), records = run(s, REQ, cache_dir=str(tmp_path))
    assert third == first and len(search_replay.requests) == 1 and records[0]["cache_hit"] is True
    # the driver's read-only view of the same folder (no actor hop on a re-run) answers the same, and never asks
    view = SearchGateway(s, cache_dir=str(tmp_path))
    hits, view_records = view.cached(SearchRequest("acme CEO", count=1, job_id="j2"))
    assert hits == first and len(search_replay.requests) == 1
    assert [(r["cache_hit"], r["job_id"], r["provider"]) for r in view_records] == [(True, "j2", "local")]
    assert view.cached(SearchRequest("something never asked", count=1)) is None
    asyncio.run(view.aclose())


def test_cache_respects_ttl_and_options(search_replay, tmp_path):
    search_replay.default.json = OK
    s = settings(searxng("local", search_replay.url), cache_ttl_s=0.2)
    run(s, REQ, SearchRequest("acme ceo", count=1, time_range="year"), cache_dir=str(tmp_path))
    assert len(search_replay.requests) == 2  # different options, different key
    time.sleep(0.3)
    run(s, REQ, cache_dir=str(tmp_path))
    assert len(search_replay.requests) == 3  # expired


def test_rpm_spaces_requests(search_replay):
    """5 calls at 600 rpm (one per 0.1 s) cannot all start within less than 0.4 s.

    A lower bound on the elapsed time holds however loaded the machine is (load only
    stretches it); gaps between arrivals as the server saw them did not: a delayed
    request followed by a punctual one arrives closer than the limiter spaced them.
    """
    search_replay.default.json = OK
    s = settings(searxng("local", search_replay.url, rpm=600), cache=False)
    started = time.monotonic()
    run(s, *[SearchRequest(f"q{i}", count=1) for i in range(5)])
    assert len(search_replay.requests) == 5
    assert time.monotonic() - started >= 4 * 0.1


def test_records_match_the_search_calls_table(search_replay):
    search_replay.reply(500, text="x")
    search_replay.reply(json=OK)
    _, records = run(settings(searxng("local", search_replay.url), cache=False), REQ)
    schema = SCHEMAS["search_calls"]
    assert all(set(r) == set(schema.names) for r in records)
    table = pa.Table.from_pylist(records, schema=schema)
    row = table.to_pylist()[-1]
    assert (row["job_id"], row["row_key"], row["column"], row["query"]) == ("j1", "acme", "ceo", "acme ceo")
    assert row["duration_s"] >= 0 and row["started_at"].tzinfo is not None
    assert len({r["call_id"] for r in records}) == 2


def test_settings_fill_request_defaults(search_replay):
    search_replay.default.json = OK
    s = settings(searxng("local", search_replay.url), language="de", time_range="week", cache=False)
    run(s, SearchRequest("acme", count=1))
    assert search_replay.requests[0].query["language"] == "de"
    assert search_replay.requests[0].query["time_range"] == "week"


def test_a_failing_sink_does_not_fail_the_search(search_replay):
    search_replay.default.json = OK

    def broken(records):
        raise RuntimeError("writer gone")

    async def go():
        gw = SearchGateway(settings(searxng("local", search_replay.url), cache=False), record_sink=broken)
        try:
            return await gw.search(REQ)
        finally:
            await gw.aclose()

    assert len(asyncio.run(go())) == 1


def test_no_providers_is_a_clear_error():
    [err], _ = run(SearchSettings(), REQ)
    assert err.reason == "no_search_provider"


def test_identical_concurrent_requests_share_one_upstream_call(search_replay):
    search_replay.reply(json=OK, delay_s=0.3)
    records = []

    async def go():
        gw = SearchGateway(settings(searxng("local", search_replay.url), cache=False), record_sink=records.extend)
        try:
            return await asyncio.gather(*(gw.search(SearchRequest("acme ceo", count=1, row_key=f"r{i}")) for i in range(5)))
        finally:
            await gw.aclose()

    results = asyncio.run(go())
    assert all(r == results[0] and len(r) == 1 for r in results)
    assert len(search_replay.requests) == 1
    assert sorted(r["cache_hit"] for r in records) == [False, True, True, True, True]
    assert {r["row_key"] for r in records} == {f"r{i}" for i in range(5)}


def test_503_retry_after_is_honoured(search_replay):
    search_replay.reply(503, text="busy", headers={"Retry-After": "1"})
    search_replay.reply(json=OK)
    waits = FakeTime()
    [hits], records = run(settings(searxng("local", search_replay.url), cache=False), REQ, sleep=waits.sleep)
    assert len(hits) == 1 and 1.0 <= waits.waits[0] <= 1.15
    assert records[0]["error.type"] == "http_503"


def test_empty_answer_asks_the_next_provider_and_is_not_cached(search_replay, second_search_replay, tmp_path):
    second_search_replay.default.json = OK
    s = settings(searxng("primary", search_replay.url), searxng("backup", second_search_replay.url))
    (first, second), records = run(s, REQ, REQ, cache_dir=str(tmp_path))
    assert first[0].provider == "backup" and second == first
    assert len(search_replay.requests) == 1  # the second search is the backup's cache hit
    assert [(r["provider"], r["results"], r["cache_hit"]) for r in records] == [
        ("primary", 0, False), ("backup", 1, False), ("backup", 1, True),
    ]


def test_empty_everywhere_is_an_empty_result_not_an_error(search_replay, second_search_replay):
    second_search_replay.default.status, second_search_replay.default.json = 500, {"error": "x"}
    s = settings(searxng("primary", search_replay.url), searxng("backup", second_search_replay.url), cache=False)
    [hits], _ = run(s, REQ)
    assert hits == []


def test_fallback_on_empty_can_be_turned_off(search_replay, second_search_replay):
    s = settings(searxng("primary", search_replay.url), searxng("backup", second_search_replay.url), fallback_on_empty=False, cache=False)
    [hits], _ = run(s, REQ)
    assert hits == [] and second_search_replay.requests == []


def test_unusable_cache_folder_falls_back_to_memory(search_replay, tmp_path):
    search_replay.default.json = OK
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    (first, second), records = run(settings(searxng("local", search_replay.url)), REQ, REQ, cache_dir=str(blocker))
    assert first == second and len(search_replay.requests) == 1 and records[1]["cache_hit"]
