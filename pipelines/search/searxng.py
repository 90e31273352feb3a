"""SearXNG adapter: a self-hosted metasearch instance, and the local world's index.

Follows the SearXNG Search API as documented at https://docs.searxng.org/dev/search_api.html
(SearXNG 2024.x and later): ``GET {base_url}/search?q=...&format=json`` with the
optional ``language``, ``time_range``, ``pageno``, ``categories``, ``engines``
and ``safesearch`` parameters. The JSON format must be enabled in the
instance's ``settings.yml`` (``search.formats``), otherwise it answers 403.

The API has no result-count parameter: pages (``pageno`` 1, 2, ...; about
10-20 results each) are fetched until ``count`` distinct URLs are found, a
page comes back empty, or ``MAX_PAGES`` pages were read; a failing later page
keeps what the earlier ones found. All pages of one search count as one
attempt for the rate limit. No key is needed; when ``api_key_env`` is set
(an instance behind a proxy), the key is sent as ``Authorization: Bearer``.
Results carry the engine-merged ``score``.

An answer with no results and a non-empty ``unresponsive_engines`` is a
failure of the instance, not an empty search: SearXNG lists each engine that
failed as ``[engine, message]``, the message one of its translated error texts
(``timeout``, ``HTTP error``, ``CAPTCHA``, ``too many requests``, ``access
denied`` ...), prefixed ``Suspended: `` when the engine is suspended (source:
searx/webutils.py ``get_translated_errors`` and ``get_json_response``,
github.com/searxng/searxng). When every engine listed is suspended the answer
is a ``RateLimitedError`` (reason ``engines_suspended``) whose ``retry_after``
is SearXNG's shortest default suspension, so the gateway moves on to the next
provider and leaves this one alone meanwhile; otherwise an
``UnavailableError`` (reason ``engines_unresponsive``), retried with backoff.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp

from pipelines.errors import RateLimitedError, TrawlError, UnavailableError
from pipelines.search.adapter import HTTPRequest, SearchAdapter
from pipelines.search.types import SearchHit, SearchRequest

__all__ = ["SearxngAdapter", "MAX_PAGES"]

MAX_PAGES = 5
# searx/settings.yml `search.suspended_times`: SearxEngineAccessDenied and SearxEngineTooManyRequests 180 s,
# SearxEngineCaptcha 3600 s; the shortest is how long a fully suspended instance surely stays useless.
SUSPENDED_RETRY_AFTER_S = 180.0


class SearxngAdapter(SearchAdapter):
    kind = "searxng"
    api_version = "SearXNG Search API (docs.searxng.org/dev/search_api), format=json"
    default_base_url = None
    needs_key = False
    site_operators_default = False

    async def fetch_hits(self, session: aiohttp.ClientSession, req: SearchRequest, key: str | None) -> list[SearchHit]:
        hits: list[SearchHit] = []
        seen: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            try:
                found = await self.round_trip(session, self.build_request(req, key, page), req)
            except TrawlError:
                if not hits:
                    raise
                break  # keep what the earlier pages found
            fresh = [hit for hit in found if hit.url not in seen]
            seen.update(hit.url for hit in fresh)
            start = len(hits) + 1
            hits.extend(dataclasses.replace(hit, rank=rank) for rank, hit in enumerate(fresh, start=start))
            if not fresh or len(hits) >= req.count:
                break
        return hits[: req.count]

    def build_request(self, req: SearchRequest, api_key: str | None, page: int = 1) -> HTTPRequest:
        params = {"q": self.query_text(req), "format": "json", "pageno": str(page)}
        language = _language(req.language, req.region)
        if language:
            params["language"] = language
        if time_range := self.time_range(req):
            params["time_range"] = time_range
        params.update(self.options())
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        return HTTPRequest("GET", f"{self.base_url}/search", params=params, headers=headers)

    def failure_in_body(self, payload: Any, text: str, headers: dict[str, str]) -> TrawlError | None:
        if not isinstance(payload, dict) or payload.get("results"):
            return None
        engines = _unresponsive(payload.get("unresponsive_engines"))
        if not engines:
            return None
        listed = ", ".join(f"{name} ({why})" for name, why in engines)
        message = f"search provider '{self.name}' found nothing because its engines failed: {listed}"
        if all(why.startswith("Suspended") for _, why in engines):
            return RateLimitedError(message, retry_after=SUSPENDED_RETRY_AFTER_S, reason="engines_suspended")
        return UnavailableError(message, reason="engines_unresponsive")

    def parse_response(self, payload: Any, req: SearchRequest) -> list[SearchHit]:
        results = payload["results"]
        if not isinstance(results, list):
            raise TypeError("'results' is not a list")
        hits: list[SearchHit] = []
        for item in results:
            if not isinstance(item, dict) or not item.get("url"):
                continue
            hits.append(
                self.hit(
                    url=item["url"],
                    title=item.get("title"),
                    snippet=item.get("content"),
                    rank=len(hits) + 1,
                    score=item.get("score"),
                )
            )
        return hits


def _unresponsive(value: Any) -> list[tuple[str, str]]:
    """``[[engine, message], ...]`` as pairs of text; anything else in the list is skipped."""
    if not isinstance(value, list):
        return []
    return [(str(item[0]), str(item[1])) for item in value if isinstance(item, (list, tuple)) and len(item) >= 2]


def _language(language: str | None, region: str | None) -> str | None:
    if language and region and "-" not in language:
        return f"{language}-{region.upper()}"
    return language
