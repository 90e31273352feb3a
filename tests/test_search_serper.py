"""Serper adapter contract: POST /search with X-API-KEY, documented responses and errors."""

import pytest

from pipelines.errors import AuthError, BadRequestError, ContentError, RateLimitedError, UnavailableError
from pipelines.search.config import SearchProviderConfig
from pipelines.search.serper import SerperAdapter
from pipelines.search.types import SearchRequest
from tests.fixtures_search import call_adapter

KEY = "serper-test-key-xyz"

# Shaped like POST https://google.serper.dev/search (serper.dev playground output).
SUCCESS = {
    "searchParameters": {"q": "acme ceo", "gl": "us", "hl": "en", "type": "search", "num": 10, "engine": "google"},
    "knowledgeGraph": {"title": "Acme", "type": "Company", "website": "https://acme.example/"},
    "organic": [
        {"title": "Acme - Team", "link": "https://acme.example/team", "snippet": "Jane Doe is CEO.", "position": 1},
        {"title": "Acme profile", "link": "https://directory.example/acme", "snippet": "Founded 1999.", "date": "Jan 5, 2025", "position": 2,
         "sitelinks": [{"title": "Contact", "link": "https://directory.example/acme/contact"}]},
    ],
    "peopleAlsoAsk": [{"question": "Who owns Acme?", "snippet": "...", "title": "...", "link": "https://x.example/"}],
    "relatedSearches": [{"query": "acme founder"}],
    "credits": 1,
}


@pytest.fixture
def adapter(search_replay, monkeypatch):
    monkeypatch.setenv("TRAWL_TEST_SERPER", KEY)
    return SerperAdapter(SearchProviderConfig(name="serper", kind="serper", base_url=search_replay.url, api_key_env="TRAWL_TEST_SERPER"))


def test_request_is_post_json_with_x_api_key(search_replay, adapter):
    search_replay.reply(json=SUCCESS)
    req = SearchRequest("acme ceo", count=10, language="en", region="US", time_range="day", exclude_domains=("spam.example",))
    call_adapter(adapter, req)
    [seen] = search_replay.requests
    assert (seen.method, seen.path) == ("POST", "/search")
    assert seen.headers["x-api-key"] == KEY
    assert seen.headers["content-type"].startswith("application/json")
    assert seen.body == {"q": "acme ceo -site:spam.example", "num": 10, "gl": "us", "hl": "en", "tbs": "qdr:d"}


def test_default_endpoint():
    assert SerperAdapter(SearchProviderConfig(name="s", kind="serper", api_key_env="X")).base_url == "https://google.serper.dev"


def test_success_reads_organic_only(search_replay, adapter):
    search_replay.reply(json=SUCCESS)
    hits = call_adapter(adapter, SearchRequest("acme ceo"))
    assert [(h.rank, h.url, h.title) for h in hits] == [(1, "https://acme.example/team", "Acme - Team"), (2, "https://directory.example/acme", "Acme profile")]


def test_empty(search_replay, adapter):
    search_replay.reply(json={"searchParameters": SUCCESS["searchParameters"], "credits": 1})
    assert call_adapter(adapter, SearchRequest("zzz")) == []


def test_rate_limited(search_replay, adapter):
    search_replay.reply(429, json={"message": "Too many requests", "statusCode": 429}, headers={"Retry-After": "5"})
    with pytest.raises(RateLimitedError) as info:
        call_adapter(adapter, SearchRequest("acme"))
    assert info.value.retry_after == 5


def test_unauthorized(search_replay, adapter):
    search_replay.reply(403, json={"message": "Unauthorized.", "statusCode": 403})
    with pytest.raises(AuthError):
        call_adapter(adapter, SearchRequest("acme"))


def test_out_of_credits_is_not_retried(search_replay, adapter):
    search_replay.reply(400, json={"message": "Not enough credits", "statusCode": 400})
    with pytest.raises(BadRequestError) as info:
        call_adapter(adapter, SearchRequest("acme"))
    assert info.value.reason == "quota_exceeded"


def test_server_error(search_replay, adapter):
    search_replay.reply(503, json={"message": "Service unavailable", "statusCode": 503})
    with pytest.raises(UnavailableError):
        call_adapter(adapter, SearchRequest("acme"))


def test_malformed(search_replay, adapter):
    search_replay.reply(200, text='{"organic": [{"link": ')
    with pytest.raises(ContentError):
        call_adapter(adapter, SearchRequest("acme"))
