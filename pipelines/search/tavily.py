"""Tavily Search adapter.

Follows the Tavily Search API as documented at
https://docs.tavily.com/documentation/api-reference/endpoint/search:
``POST {base_url}/search`` with ``Authorization: Bearer <key>`` and a JSON body
(``query``, ``max_results`` up to 20, ``topic``, ``search_depth``,
``time_range`` day/week/month/year, ``include_domains``, ``exclude_domains``);
results are ``results[]`` with ``url``, ``title``, ``content`` and a relevance
``score``. Domain filters use the native lists, not query operators. Region is
not sent (Tavily's ``country`` takes country names; set it in ``options`` if
needed). HTTP 432/433 (plan or pay-as-you-go limit reached) are not worth
retrying: they become ``BadRequestError`` with reason ``quota_exceeded``.

Tavily's documented error body (every error response on the same page) is
``{"detail": {"error": "<message>"}}``; a body of that shape with no
``results`` is a failure even with HTTP 200, never an empty search.
"""

from __future__ import annotations

from typing import Any

from pipelines.errors import BadRequestError, TrawlError
from pipelines.search.adapter import HTTPRequest, SearchAdapter
from pipelines.search.types import SearchHit, SearchRequest

__all__ = ["TavilyAdapter"]


class TavilyAdapter(SearchAdapter):
    kind = "tavily"
    api_version = "Tavily Search API, POST /search (Bearer auth)"
    default_base_url = "https://api.tavily.com"
    needs_key = True
    site_operators_default = False
    max_count = 20

    def build_request(self, req: SearchRequest, api_key: str | None) -> HTTPRequest:
        body: dict[str, Any] = {
            "query": self.query_text(req),
            "max_results": self.count(req),
            "topic": "general",
            "search_depth": "basic",
            "include_answer": False,
            "include_raw_content": False,
            "include_images": False,
        }
        if self.time_range(req):
            body["time_range"] = self.time_range(req)
        if req.include_domains:
            body["include_domains"] = list(req.include_domains)
        if req.exclude_domains:
            body["exclude_domains"] = list(req.exclude_domains)
        body.update(self.config.options)
        headers = {"Authorization": f"Bearer {api_key or ''}", "Content-Type": "application/json", "Accept": "application/json"}
        return HTTPRequest("POST", f"{self.base_url}/search", headers=headers, json_body=body)

    def failure_in_body(self, payload: Any, text: str, headers: dict[str, str]) -> TrawlError | None:
        if not isinstance(payload, dict) or "results" in payload or not (payload.get("detail") or payload.get("error")):
            return None
        return self.error_body(None, payload, text, headers)

    def parse_response(self, payload: Any, req: SearchRequest) -> list[SearchHit]:
        results = payload["results"]
        if not isinstance(results, list):
            raise TypeError("'results' is not a list")
        hits: list[SearchHit] = []
        for item in results:
            if not isinstance(item, dict) or not item.get("url"):
                continue
            hits.append(
                self.hit(url=item["url"], title=item.get("title"), snippet=item.get("content"), rank=len(hits) + 1, score=item.get("score"))
            )
        return hits

    def classify(self, status: int, payload: Any, text: str, headers: dict[str, str]) -> TrawlError:
        if status in (432, 433):
            return BadRequestError(f"search provider '{self.name}': plan or usage limit reached (HTTP {status})", reason="quota_exceeded")
        return super().classify(status, payload, text, headers)
