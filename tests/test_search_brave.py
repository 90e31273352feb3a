"""Brave Search adapter contract: request shape, auth header, documented responses and errors."""

import pytest

from pipelines.errors import AuthError, ContentError, RateLimitedError, UnavailableError
from pipelines.search.brave import BraveAdapter
from pipelines.search.config import SearchProviderConfig
from pipelines.search.types import SearchRequest
from tests.fixtures_search import call_adapter

KEY = "BSA-test-key-abc"

# Shaped like GET /res/v1/web/search (api-dashboard.search.brave.com, web search response).
SUCCESS = {
    "type": "search",
    "query": {"original": "acme ceo", "show_strict_warning": False, "is_navigational": False, "more_results_available": True},
    "mixed": {"type": "mixed", "main": [{"type": "web", "index": 0, "all": False}]},
    "web": {
        "type": "search",
        "results": [
            {
                "title": "About <strong>Acme</strong>",
                "url": "https://acme.example/about",
                "is_source_local": False,
                "is_source_both": False,
                "description": "Jane Doe is the <strong>CEO</strong> of Acme.",
                "page_age": "2025-01-15T00:00:00",
                "profile": {"name": "Acme", "url": "https://acme.example/about", "long_name": "acme.example"},
                "language": "en",
                "family_friendly": True,
                "type": "search_result",
                "subtype": "generic",
                "meta_url": {"scheme": "https", "netloc": "acme.example", "hostname": "acme.example", "path": "› about"},
                "extra_snippets": ["Founded in 1999."],
            },
            {"title": "Acme news", "url": "https://news.example/acme", "description": "Acme hires.", "type": "search_result"},
        ],
        "family_friendly": True,
    },
}
NO_RESULTS = {"type": "search", "query": {"original": "zzzz"}, "mixed": {"type": "mixed", "main": []}}
INVALID_TOKEN = {
    "type": "ErrorResponse",
    "error": {"id": "x", "status": 422, "code": "SUBSCRIPTION_TOKEN_INVALID", "detail": "The provided subscription token is invalid.", "meta": {}},
    "time": 1754364294,
}
RATE_LIMITED = {
    "type": "ErrorResponse",
    "error": {"id": "y", "status": 429, "detail": "Request rate limit exceeded for plan.", "code": "RATE_LIMITED", "meta": {}},
    "time": 1754364294,
}


@pytest.fixture
def adapter(search_replay, monkeypatch):
    monkeypatch.setenv("TRAWL_TEST_BRAVE", KEY)
    return BraveAdapter(SearchProviderConfig(name="brave", kind="brave", base_url=search_replay.url + "/res/v1", api_key_env="TRAWL_TEST_BRAVE"))


def test_request_is_get_with_subscription_token_header(search_replay, adapter):
    search_replay.reply(json=SUCCESS)
    req = SearchRequest("acme ceo", count=30, language="EN", region="de", time_range="week", include_domains=("acme.example",))
    call_adapter(adapter, req)
    [seen] = search_replay.requests
    assert (seen.method, seen.path) == ("GET", "/res/v1/web/search")
    assert seen.query == {"q": "acme ceo site:acme.example", "count": "20", "country": "DE", "search_lang": "en", "freshness": "pw"}
    assert seen.headers["x-subscription-token"] == KEY
    assert seen.headers["accept"] == "application/json"
    assert KEY not in str(seen.query)


def test_default_endpoint_is_the_documented_api():
    a = BraveAdapter(SearchProviderConfig(name="brave", kind="brave", api_key_env="X"))
    assert a.base_url == "https://api.search.brave.com/res/v1"


def test_success(search_replay, adapter):
    search_replay.reply(json=SUCCESS)
    hits = call_adapter(adapter, SearchRequest("acme ceo"))
    assert [(h.rank, h.url) for h in hits] == [(1, "https://acme.example/about"), (2, "https://news.example/acme")]
    assert hits[0].title == "About Acme" and hits[0].snippet == "Jane Doe is the CEO of Acme."
    assert hits[0].score is None


def test_no_web_section_is_empty(search_replay, adapter):
    search_replay.reply(json=NO_RESULTS)
    assert call_adapter(adapter, SearchRequest("zzzz")) == []


def test_rate_limited_wait_comes_from_ratelimit_headers(search_replay, adapter):
    search_replay.reply(429, json=RATE_LIMITED, headers={"X-RateLimit-Limit": "1, 15000", "X-RateLimit-Remaining": "0, 1000", "X-RateLimit-Reset": "1, 1419704"})
    with pytest.raises(RateLimitedError) as info:
        call_adapter(adapter, SearchRequest("acme"))
    assert info.value.retry_after == 1.0


def test_monthly_quota_exhausted_asks_for_a_long_wait(search_replay, adapter):
    search_replay.reply(429, json=RATE_LIMITED, headers={"X-RateLimit-Remaining": "0, 0", "X-RateLimit-Reset": "1, 1419704"})
    with pytest.raises(RateLimitedError) as info:
        call_adapter(adapter, SearchRequest("acme"))
    assert info.value.retry_after == 1419704


def test_retry_after_header_wins(search_replay, adapter):
    search_replay.reply(429, json=RATE_LIMITED, headers={"Retry-After": "3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9"})
    with pytest.raises(RateLimitedError) as info:
        call_adapter(adapter, SearchRequest("acme"))
    assert info.value.retry_after == 3


def test_invalid_token_is_auth_error(search_replay, adapter):
    search_replay.reply(422, json=INVALID_TOKEN)
    with pytest.raises(AuthError) as info:
        call_adapter(adapter, SearchRequest("acme"))
    assert info.value.reason == "invalid_api_key" and KEY not in str(info.value)


def test_server_error(search_replay, adapter):
    search_replay.reply(500, text="<html>oops</html>")
    with pytest.raises(UnavailableError):
        call_adapter(adapter, SearchRequest("acme"))


def test_malformed_json(search_replay, adapter):
    search_replay.reply(200, text="{not json")
    with pytest.raises(ContentError):
        call_adapter(adapter, SearchRequest("acme"))


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("TRAWL_TEST_BRAVE_UNSET", raising=False)
    a = BraveAdapter(SearchProviderConfig(name="brave", kind="brave", base_url="http://127.0.0.1:9", api_key_env="TRAWL_TEST_BRAVE_UNSET"))
    with pytest.raises(AuthError, match="TRAWL_TEST_BRAVE_UNSET"):
        call_adapter(a, SearchRequest("acme"))
