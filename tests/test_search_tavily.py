"""Tavily adapter contract: POST /search with a Bearer key, documented responses and errors."""

import pytest

from pipelines.errors import AuthError, BadRequestError, ContentError, RateLimitedError, UnavailableError
from pipelines.search.config import SearchProviderConfig
from pipelines.search.tavily import TavilyAdapter
from pipelines.search.types import SearchRequest
from tests.fixtures_search import call_adapter

KEY = "tvly-test-key-123"

# Shaped like POST /search (docs.tavily.com, API reference, Tavily Search).
SUCCESS = {
    "query": "Who leads Acme?",
    "follow_up_questions": None,
    "answer": None,
    "images": [],
    "results": [
        {"title": "Acme leadership", "url": "https://acme.example/team", "content": "Jane Doe, CEO.", "score": 0.81025416, "raw_content": None, "favicon": None},
        {"title": "Acme on news", "url": "https://news.example/acme", "content": "Acme grows.", "score": 0.42, "raw_content": None},
    ],
    "response_time": "1.67",
    "request_id": "123e4567-e89b-12d3-a456-426614174111",
}


@pytest.fixture
def adapter(search_replay, monkeypatch):
    monkeypatch.setenv("TRAWL_TEST_TAVILY", KEY)
    return TavilyAdapter(
        SearchProviderConfig(name="tavily", kind="tavily", base_url=search_replay.url, api_key_env="TRAWL_TEST_TAVILY", options={"search_depth": "advanced"})
    )


def test_request_is_post_json_with_bearer_key(search_replay, adapter):
    search_replay.reply(json=SUCCESS)
    req = SearchRequest("Who leads Acme?", count=50, time_range="year", include_domains=("acme.example",), exclude_domains=("spam.example",))
    call_adapter(adapter, req)
    [seen] = search_replay.requests
    assert (seen.method, seen.path) == ("POST", "/search")
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.headers["content-type"].startswith("application/json")
    assert seen.query == {}
    assert seen.body == {
        "query": "Who leads Acme?",
        "max_results": 20,
        "topic": "general",
        "search_depth": "advanced",
        "include_answer": False,
        "include_raw_content": False,
        "include_images": False,
        "time_range": "year",
        "include_domains": ["acme.example"],
        "exclude_domains": ["spam.example"],
    }
    assert "api_key" not in seen.body


def test_default_endpoint():
    assert TavilyAdapter(SearchProviderConfig(name="t", kind="tavily", api_key_env="X")).base_url == "https://api.tavily.com"


def test_success_keeps_scores(search_replay, adapter):
    search_replay.reply(json=SUCCESS)
    hits = call_adapter(adapter, SearchRequest("Who leads Acme?"))
    assert [(h.rank, h.url, h.score) for h in hits] == [(1, "https://acme.example/team", 0.81025416), (2, "https://news.example/acme", 0.42)]
    assert hits[0].snippet == "Jane Doe, CEO." and hits[0].provider == "tavily"


def test_empty(search_replay, adapter):
    search_replay.reply(json={**SUCCESS, "results": []})
    assert call_adapter(adapter, SearchRequest("zzz")) == []


def test_rate_limited(search_replay, adapter):
    search_replay.reply(429, json={"detail": {"error": "Rate limit exceeded"}}, headers={"Retry-After": "2"})
    with pytest.raises(RateLimitedError) as info:
        call_adapter(adapter, SearchRequest("acme"))
    assert info.value.retry_after == 2


def test_invalid_key(search_replay, adapter):
    search_replay.reply(401, json={"detail": {"error": "Unauthorized: missing or invalid API key."}})
    with pytest.raises(AuthError) as info:
        call_adapter(adapter, SearchRequest("acme"))
    assert "invalid API key" in str(info.value)


@pytest.mark.parametrize("status", [432, 433])
def test_plan_limit_is_not_retried(search_replay, adapter, status):
    search_replay.reply(status, json={"detail": {"error": "This request exceeds your plan's set usage limit."}})
    with pytest.raises(BadRequestError) as info:
        call_adapter(adapter, SearchRequest("acme"))
    assert info.value.reason == "quota_exceeded"


def test_server_error(search_replay, adapter):
    search_replay.reply(500, json={"detail": {"error": "Internal Server Error"}})
    with pytest.raises(UnavailableError):
        call_adapter(adapter, SearchRequest("acme"))


def test_malformed(search_replay, adapter):
    search_replay.reply(200, text="<html>gateway</html>")
    with pytest.raises(ContentError):
        call_adapter(adapter, SearchRequest("acme"))
