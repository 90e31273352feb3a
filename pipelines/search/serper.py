"""Serper (Google results) adapter.

Follows the Serper API as documented at https://serper.dev (playground and
API docs, "search" endpoint): ``POST https://google.serper.dev/search`` with
the key in the ``X-API-KEY`` header and a JSON body ``{"q", "num", "gl", "hl",
"tbs"}`` (``tbs`` = ``qdr:d``/``qdr:w``/``qdr:m``/``qdr:y``); results are
``organic[]`` with ``link``, ``title``, ``snippet`` and ``position`` (no
score). Site filters go into the query as ``site:`` operators, which Google
honours.

Serper's error body is ``{"message": "<text>", "statusCode": <int>}`` (e.g.
``{"message": "Not enough credits", "statusCode": 400}``; serper.dev publishes
no error reference, the shape is what its API answers, as client test suites
record it). A body of that shape with no ``organic`` is a failure even when a
proxy passes it with HTTP 200, typed by its ``statusCode``.
"""

from __future__ import annotations

from typing import Any

from pipelines.errors import BadRequestError, TrawlError
from pipelines.search.adapter import HTTPRequest, SearchAdapter
from pipelines.search.types import SearchHit, SearchRequest

__all__ = ["SerperAdapter"]

_TBS = {"day": "qdr:d", "week": "qdr:w", "month": "qdr:m", "year": "qdr:y"}


class SerperAdapter(SearchAdapter):
    kind = "serper"
    api_version = "Serper API, POST https://google.serper.dev/search (X-API-KEY)"
    default_base_url = "https://google.serper.dev"
    needs_key = True
    site_operators_default = True
    max_count = 100

    def build_request(self, req: SearchRequest, api_key: str | None) -> HTTPRequest:
        body: dict[str, Any] = {"q": self.query_text(req), "num": self.count(req)}
        if req.region:
            body["gl"] = req.region.lower()
        if req.language:
            body["hl"] = req.language.lower()
        if time_range := self.time_range(req):
            body["tbs"] = _TBS[time_range]
        body.update(self.config.options)
        headers = {"X-API-KEY": api_key or "", "Content-Type": "application/json"}
        return HTTPRequest("POST", f"{self.base_url}/search", headers=headers, json_body=body)

    def failure_in_body(self, payload: Any, text: str, headers: dict[str, str]) -> TrawlError | None:
        if not isinstance(payload, dict) or "organic" in payload or not (payload.get("message") or payload.get("statusCode")):
            return None
        return self.error_body(payload.get("statusCode"), payload, text, headers)

    def parse_response(self, payload: Any, req: SearchRequest) -> list[SearchHit]:
        if not isinstance(payload, dict):
            raise TypeError("response is not a JSON object")
        organic = sorted(
            (item for item in payload.get("organic") or [] if isinstance(item, dict) and item.get("link")),
            key=lambda item: item["position"] if isinstance(item.get("position"), int) else 10**6,
        )
        return [
            self.hit(url=item["link"], title=item.get("title"), snippet=item.get("snippet"), rank=rank)
            for rank, item in enumerate(organic, start=1)
        ]

    def classify(self, status: int, payload: Any, text: str, headers: dict[str, str]) -> TrawlError:
        message = str(payload.get("message", "")) if isinstance(payload, dict) else ""
        if status in (400, 402) and "credit" in message.lower():
            return BadRequestError(f"search provider '{self.name}': {message}", reason="quota_exceeded")
        return super().classify(status, payload, text, headers)
