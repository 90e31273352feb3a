"""SearXNG adapter contract: the request it sends and how it reads what SearXNG documents."""

import pytest

from pipelines.errors import BadRequestError, ContentError, RateLimitedError, UnavailableError
from pipelines.search.config import SearchProviderConfig
from pipelines.search.searxng import SearxngAdapter
from pipelines.search.types import SearchRequest
from tests.fixtures_search import call_adapter

# Shaped like GET /search?format=json on SearXNG (docs.searxng.org/dev/search_api).
SUCCESS = {
    "query": "acme ceo",
    "number_of_results": 0,
    "results": [
        {
            "url": "https://acme.example/about",
            "title": "About  Acme",
            "content": "Acme's CEO is\nJane Doe.",
            "engine": "trawl-local",
            "parsed_url": ["https", "acme.example", "/about", "", "", ""],
            "template": "default.html",
            "engines": ["trawl-local"],
            "positions": [1],
            "score": 2.5,
            "category": "general",
            "publishedDate": None,
        },
        {"url": "https://news.example/acme", "title": "Acme news", "content": "", "engine": "x", "score": 1.0},
        {"title": "no url, skipped", "content": "x"},
        {"url": "https://third.example/", "title": "Third", "content": "c", "score": 0.5},
    ],
    "answers": [],
    "corrections": [],
    "infoboxes": [],
    "suggestions": ["acme chief executive"],
    "unresponsive_engines": [],
}


def adapter(url, **kw):
    return SearxngAdapter(SearchProviderConfig(name="local", kind="searxng", base_url=url + "/", **kw))


def test_request_is_get_search_with_json_format_and_options(search_replay):
    search_replay.reply(json=SUCCESS)
    a = adapter(search_replay.url, options={"categories": "general", "safesearch": 0})
    call_adapter(a, SearchRequest("  acme   ceo ", count=3, language="en", region="us", time_range="month"))
    [seen] = search_replay.requests
    assert seen.method == "GET"
    assert seen.path == "/search"
    assert seen.query == {
        "q": "acme ceo",
        "format": "json",
        "pageno": "1",
        "language": "en-US",
        "time_range": "month",
        "categories": "general",
        "safesearch": "0",
    }
    assert "authorization" not in seen.headers


def test_success_is_parsed_into_ranked_hits(search_replay):
    search_replay.reply(json=SUCCESS)
    hits = call_adapter(adapter(search_replay.url), SearchRequest("acme ceo", count=3))
    assert [h.url for h in hits] == ["https://acme.example/about", "https://news.example/acme", "https://third.example/"]
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].title == "About Acme" and hits[0].snippet == "Acme's CEO is Jane Doe."
    assert hits[0].score == 2.5 and hits[0].provider == "local"


def test_results_are_cut_to_count(search_replay):
    search_replay.reply(json=SUCCESS)
    hits = call_adapter(adapter(search_replay.url), SearchRequest("acme", count=2))
    assert len(hits) == 2


def test_empty_results(search_replay):
    search_replay.reply(json={**SUCCESS, "results": []})
    assert call_adapter(adapter(search_replay.url), SearchRequest("nothing")) == []


def test_include_domains_become_site_operators_only_when_asked(search_replay):
    req = SearchRequest("acme", include_domains=("acme.example",), exclude_domains=("spam.example",))
    call_adapter(adapter(search_replay.url), req)
    call_adapter(adapter(search_replay.url, site_operators=True), req)
    assert search_replay.requests[0].query["q"] == "acme"
    assert search_replay.requests[1].query["q"] == "acme site:acme.example -site:spam.example"


def test_rate_limited_carries_retry_after(search_replay):
    search_replay.reply(429, text="Too Many Requests", headers={"Retry-After": "7"})
    with pytest.raises(RateLimitedError) as info:
        call_adapter(adapter(search_replay.url), SearchRequest("acme"))
    assert info.value.retry_after == 7 and info.value.reason == "http_429"


def test_server_error_is_retryable(search_replay):
    search_replay.reply(502, text="<html>bad gateway</html>")
    with pytest.raises(UnavailableError) as info:
        call_adapter(adapter(search_replay.url), SearchRequest("acme"))
    assert info.value.reason == "http_502"


def test_json_format_disabled_is_a_clear_permanent_error(search_replay):
    search_replay.reply(403, text="Forbidden")
    from pipelines.errors import AuthError

    with pytest.raises(AuthError) as info:
        call_adapter(adapter(search_replay.url), SearchRequest("acme"))
    assert "HTTP 403" in str(info.value)


def test_malformed_json(search_replay):
    search_replay.reply(200, text='{"results": [')
    with pytest.raises(ContentError) as info:
        call_adapter(adapter(search_replay.url), SearchRequest("acme"))
    assert info.value.reason == "malformed_response"


def test_wrong_shape_is_malformed(search_replay):
    search_replay.reply(200, json={"results": "nope"})
    with pytest.raises(ContentError):
        call_adapter(adapter(search_replay.url), SearchRequest("acme"))


def test_bad_request(search_replay):
    search_replay.reply(400, json={"message": "bad query"})
    with pytest.raises(BadRequestError) as info:
        call_adapter(adapter(search_replay.url), SearchRequest("acme"))
    assert "bad query" in str(info.value)


def test_connection_refused_is_unavailable():
    with pytest.raises(UnavailableError) as info:
        call_adapter(adapter("http://127.0.0.1:9"), SearchRequest("acme"))
    assert info.value.reason == "connection"


def test_config_requires_base_url():
    with pytest.raises(ValueError, match="base_url"):
        SearchProviderConfig(name="x", kind="searxng")


def test_docstring_names_the_api_version():
    import pipelines.search.searxng as module

    assert "docs.searxng.org/dev/search_api" in module.__doc__


def test_redirect_is_not_followed_and_says_where(search_replay):
    search_replay.reply(301, text="", headers={"Location": "https://searx.example/search"})
    with pytest.raises(BadRequestError) as info:
        call_adapter(adapter(search_replay.url), SearchRequest("acme"))
    assert "https://searx.example/search" in str(info.value) and len(search_replay.requests) == 1


def page(*urls):
    return {**SUCCESS, "results": [{"url": u, "title": u, "content": "", "score": 1.0} for u in urls]}


def test_pages_are_read_until_count_is_reached(search_replay):
    search_replay.reply(json=page("https://a.example/1", "https://a.example/2"))
    search_replay.reply(json=page("https://a.example/2", "https://a.example/3", "https://a.example/4"))
    hits = call_adapter(adapter(search_replay.url), SearchRequest("acme", count=3))
    assert [(h.rank, h.url) for h in hits] == [(1, "https://a.example/1"), (2, "https://a.example/2"), (3, "https://a.example/3")]
    assert [r.query["pageno"] for r in search_replay.requests] == ["1", "2"]


def test_an_empty_page_ends_the_search(search_replay):
    search_replay.reply(json=page("https://a.example/1"))
    hits = call_adapter(adapter(search_replay.url), SearchRequest("acme", count=10))
    assert len(hits) == 1 and len(search_replay.requests) == 2  # the default answer is an empty page


def test_a_failing_later_page_keeps_the_first(search_replay):
    search_replay.reply(json=page("https://a.example/1"))
    search_replay.reply(429, text="", headers={"Retry-After": "1"})
    hits = call_adapter(adapter(search_replay.url), SearchRequest("acme", count=10))
    assert [h.url for h in hits] == ["https://a.example/1"]


def test_pages_are_bounded(search_replay):
    from pipelines.search.searxng import MAX_PAGES

    for n in range(MAX_PAGES + 3):
        search_replay.reply(json=page(f"https://a.example/{n}"))
    hits = call_adapter(adapter(search_replay.url), SearchRequest("acme", count=50))
    assert len(hits) == MAX_PAGES and len(search_replay.requests) == MAX_PAGES
