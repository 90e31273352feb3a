"""Provider answers that are failures though they arrive with HTTP 200: typed, retried, fallen back, recorded."""

import asyncio

import pytest

from pipelines.errors import BadRequestError, RateLimitedError, UnavailableError
from pipelines.research import CellTask, research_cell
from pipelines.search.brave import BraveAdapter
from pipelines.search.config import SearchProviderConfig
from pipelines.search.searxng import SUSPENDED_RETRY_AFTER_S, SearxngAdapter
from pipelines.search.serper import SerperAdapter
from pipelines.search.tavily import TavilyAdapter
from pipelines.search.types import SearchRequest
from pipelines.settings import ResearchSettings
from tests.fakes import FakeServices
from tests.fixtures_search import BRAVE_ERROR_BODY, SEARXNG_SUSPENDED, SEARXNG_TIMED_OUT, SERPER_ERROR_BODY, TAVILY_ERROR_BODY, call_adapter
from tests.test_search_gateway import OK, run, searxng, settings

REQ = SearchRequest("acme ceo", count=1, job_id="j1", row_key="acme", column="ceo")


def _adapter(cls, kind, url, monkeypatch):
    monkeypatch.setenv("TRAWL_TEST_KEY", "k-123")
    return cls(SearchProviderConfig(name=kind, kind=kind, base_url=url, api_key_env="TRAWL_TEST_KEY"))


def test_searxng_with_every_engine_suspended_is_a_rate_limit_naming_the_engines(search_replay):
    search_replay.reply(json=SEARXNG_SUSPENDED)
    with pytest.raises(RateLimitedError) as info:
        call_adapter(SearxngAdapter(searxng("sx", search_replay.url)), REQ)
    err = info.value
    assert err.reason == "engines_suspended" and err.retry_after == SUSPENDED_RETRY_AFTER_S
    assert "google (Suspended: CAPTCHA)" in str(err) and "brave (Suspended: too many requests)" in str(err)


def test_searxng_with_an_engine_timing_out_is_unavailable(search_replay):
    search_replay.reply(json=SEARXNG_TIMED_OUT)
    with pytest.raises(UnavailableError) as info:
        call_adapter(SearxngAdapter(searxng("sx", search_replay.url)), REQ)
    assert info.value.reason == "engines_unresponsive" and "bing (timeout)" in str(info.value)


@pytest.mark.parametrize("payload", [
    {"results": [], "unresponsive_engines": []},  # a real empty search
    {"results": []},  # an older SearXNG without the field
    {"results": OK["results"], "unresponsive_engines": [["google", "Suspended: CAPTCHA"]]},  # partial: hits count
])
def test_searxng_answers_that_are_not_failures(search_replay, payload):
    search_replay.reply(json=payload)
    hits = call_adapter(SearxngAdapter(searxng("sx", search_replay.url)), REQ)
    assert len(hits) == len(payload["results"])


@pytest.mark.parametrize("cls, kind, body, error, reason", [
    (BraveAdapter, "brave", BRAVE_ERROR_BODY, RateLimitedError, "http_429"),
    (TavilyAdapter, "tavily", TAVILY_ERROR_BODY, UnavailableError, "error_body"),
    (SerperAdapter, "serper", SERPER_ERROR_BODY, BadRequestError, "quota_exceeded"),
])
def test_documented_error_bodies_with_http_200_are_failures(search_replay, monkeypatch, cls, kind, body, error, reason):
    search_replay.reply(json=body)
    with pytest.raises(error) as info:
        call_adapter(_adapter(cls, kind, search_replay.url, monkeypatch), REQ)
    assert info.value.reason == reason and "k-123" not in str(info.value)


@pytest.mark.parametrize("cls, kind, empty", [
    (BraveAdapter, "brave", {"type": "search", "query": {"original": "x"}}),
    (TavilyAdapter, "tavily", {"query": "x", "results": []}),
    (SerperAdapter, "serper", {"searchParameters": {"q": "x"}, "organic": []}),
])
def test_a_real_empty_answer_is_still_empty(search_replay, monkeypatch, cls, kind, empty):
    search_replay.reply(json=empty)
    assert call_adapter(_adapter(cls, kind, search_replay.url, monkeypatch), REQ) == []


def test_gateway_falls_back_from_a_suspended_searxng_and_records_the_engines(search_replay, second_search_replay):
    search_replay.reply(json=SEARXNG_SUSPENDED)
    second_search_replay.reply(json=OK)
    second_search_replay.reply(json=OK)
    cfg = settings(searxng("sx", search_replay.url), searxng("backup", second_search_replay.url), cache=False)
    [first, second], records = run(cfg, REQ, SearchRequest("acme founded", count=1, job_id="j1", row_key="acme", column="ceo"))
    assert [h.provider for h in first] == ["backup"] and [h.provider for h in second] == ["backup"]
    # the suspended instance is asked once, then left alone for the suspension (no retry, no second request)
    assert len(search_replay.requests) == 1
    failed = [r for r in records if r["error.type"]]
    assert failed[0]["provider"] == "sx" and failed[0]["error.type"] == "engines_suspended"
    assert "duckduckgo (Suspended: CAPTCHA)" in failed[0]["error_message"]
    assert failed[1]["error.type"] == "cooling_down"
    assert [r["fallback_from"] for r in records if r["results"]] == ["sx", "sx"]


def test_gateway_retries_unresponsive_engines_then_raises_not_empty(search_replay):
    search_replay.default.json = SEARXNG_TIMED_OUT
    [result], records = run(settings(searxng("sx", search_replay.url), cache=False, max_attempts_per_provider=2), REQ)
    assert isinstance(result, UnavailableError) and result.reason == "engines_unresponsive"
    assert [r["error.type"] for r in records] == ["engines_unresponsive", "engines_unresponsive"]


class _SearchFails(FakeServices):
    def __init__(self, error):
        super().__init__()
        self.error = error

    async def search(self, req):
        raise self.error


def test_a_cell_whose_every_search_failed_says_the_provider_reason_not_no_results():
    err = RateLimitedError("search provider 'sx' found nothing because its engines failed: google (Suspended: CAPTCHA)",
                           retry_after=180.0, reason="engines_suspended")
    task = CellTask(job_id="j", row_key="Acme", column="ceo", question="Who is the CEO of Acme?", context={"company": "Acme"},
                    research=ResearchSettings(keywords_per_cell=2, results_per_keyword=5, max_pages_per_cell=4))
    outcome = asyncio.run(research_cell(task, _SearchFails(err)))
    assert outcome.status == "failed"
    assert outcome.error.startswith("engines_suspended: search provider 'sx'") and "google (Suspended: CAPTCHA)" in outcome.error
