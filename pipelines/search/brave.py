"""Brave Search API adapter (web search).

Follows the Brave Search API v1 web search endpoint as documented at
https://api-dashboard.search.brave.com/app/documentation/web-search (query
parameters, response headers, error responses): ``GET {base_url}/web/search``
with the key in the ``X-Subscription-Token`` header, ``q``, ``count`` (max 20),
``country``, ``search_lang`` and ``freshness`` (``pd``/``pw``/``pm``/``py``);
results are ``web.results[]`` with ``url``, ``title`` and ``description``
(no score). Site filters go into the query as ``site:`` operators.

On 429 Brave sends ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (one
comma-separated entry per window, e.g. per second and per month); the wait is
the reset of the first exhausted window. An invalid key is answered with 422
and code ``SUBSCRIPTION_TOKEN_INVALID``, which becomes an ``AuthError``.

Brave's error body is ``{"type": "ErrorResponse", "error": {"id", "status",
"code", "detail", "meta"}}`` (same documentation, "error responses"); Brave documents
it with 4xx/5xx statuses only; a body of that shape that arrives with HTTP 200
(a proxy in front of the API) is still a failure, typed by its ``error.status``.
"""

from __future__ import annotations

from typing import Any

from pipelines.errors import AuthError, TrawlError
from pipelines.search.adapter import HTTPRequest, SearchAdapter, parse_retry_after
from pipelines.search.types import SearchHit, SearchRequest

__all__ = ["BraveAdapter"]

_FRESHNESS = {"day": "pd", "week": "pw", "month": "pm", "year": "py"}


class BraveAdapter(SearchAdapter):
    kind = "brave"
    api_version = "Brave Search API v1, GET /res/v1/web/search"
    default_base_url = "https://api.search.brave.com/res/v1"
    needs_key = True
    site_operators_default = True
    max_count = 20

    def build_request(self, req: SearchRequest, api_key: str | None) -> HTTPRequest:
        params = {"q": self.query_text(req), "count": str(self.count(req))}
        if req.region:
            params["country"] = req.region.upper()
        if req.language:
            params["search_lang"] = req.language.lower()
        if time_range := self.time_range(req):
            params["freshness"] = _FRESHNESS[time_range]
        params.update(self.options())
        headers = {"Accept": "application/json", "X-Subscription-Token": api_key or ""}
        return HTTPRequest("GET", f"{self.base_url}/web/search", params=params, headers=headers)

    def failure_in_body(self, payload: Any, text: str, headers: dict[str, str]) -> TrawlError | None:
        if not isinstance(payload, dict) or "web" in payload:
            return None
        error = payload.get("error")
        if payload.get("type") != "ErrorResponse" and not isinstance(error, dict):
            return None
        return self.error_body(error.get("status") if isinstance(error, dict) else None, payload, text, headers)

    def parse_response(self, payload: Any, req: SearchRequest) -> list[SearchHit]:
        if not isinstance(payload, dict):
            raise TypeError("response is not a JSON object")
        web = payload.get("web") or {}
        hits: list[SearchHit] = []
        for item in web.get("results") or []:
            if not isinstance(item, dict) or not item.get("url"):
                continue
            hits.append(self.hit(url=item["url"], title=item.get("title"), snippet=item.get("description"), rank=len(hits) + 1))
        return hits

    def retry_after(self, headers: dict[str, str]) -> float | None:
        explicit = parse_retry_after(headers.get("Retry-After"))
        if explicit is not None:
            return explicit
        try:
            remaining = [int(v) for v in headers.get("X-RateLimit-Remaining", "").split(",")]
            reset = [float(v) for v in headers.get("X-RateLimit-Reset", "").split(",")]
        except ValueError:
            return None
        exhausted = [r for left, r in zip(remaining, reset) if left <= 0]
        return max(exhausted) if exhausted else (min(reset) if reset else None)

    def classify(self, status: int, payload: Any, text: str, headers: dict[str, str]) -> TrawlError:
        code = ""
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            code = str(payload["error"].get("code") or "")
        if "TOKEN" in code or "SUBSCRIPTION" in code:
            return AuthError(f"search provider '{self.name}' rejected the subscription token ({code})", reason="invalid_api_key")
        return super().classify(status, payload, text, headers)
