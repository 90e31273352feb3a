"""What every search adapter shares: the key, the HTTP round trip, and turning failures into trawl errors.

An adapter (``searxng``, ``brave``, ``tavily``, ``serper``) only says how to
build its request (``build_request``) and how to read its response
(``parse_response``); ``SearchAdapter.search`` sends it with aiohttp and maps
what can go wrong onto ``pipelines.errors``:

    429                         RateLimitedError (retry_after from Retry-After or the adapter's headers)
    500-599, connection failed  UnavailableError (retry_after set when the answer has Retry-After)
    timeout                     TimeoutError_
    401, 403, missing key       AuthError
    other 4xx                   BadRequestError
    body not JSON / wrong shape ContentError (reason 'malformed_response')
    2xx with an error body      what the adapter's ``failure_in_body`` says (e.g. SearXNG's empty
                                results with ``unresponsive_engines``): a failure, never "no results"

The API key is read from the environment variable the config names, at each
call, and is scrubbed from every error message.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import aiohttp

from pipelines.errors import AuthError, BadRequestError, ContentError, RateLimitedError, TimeoutError_, TrawlError, UnavailableError
from pipelines.retry_after import parse_retry_after  # re-exported: providers import it from here
from pipelines.search.config import SearchProviderConfig
from pipelines.search.types import SearchHit, SearchRequest

__all__ = ["HTTPRequest", "SearchAdapter", "parse_retry_after", "site_filter_query", "MAX_RESPONSE_BYTES"]

MAX_RESPONSE_BYTES = 8_000_000
_TIME_RANGES = ("day", "week", "month", "year")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


@dataclass(frozen=True)
class HTTPRequest:
    """One request as the adapter wants it sent."""

    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json_body: dict[str, Any] | None = None


def site_filter_query(query: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> str:
    """Append search-engine site operators: '(site:a OR site:b) -site:c'."""
    parts = [query]
    if include:
        sites = [f"site:{d}" for d in include]
        parts.append(sites[0] if len(sites) == 1 else "(" + " OR ".join(sites) + ")")
    parts.extend(f"-site:{d}" for d in exclude)
    return " ".join(parts)


class SearchAdapter:
    """Base of the provider adapters; subclasses set the class attributes and the two hooks."""

    kind: ClassVar[str] = ""
    api_version: ClassVar[str] = ""
    default_base_url: ClassVar[str | None] = None
    needs_key: ClassVar[bool] = True
    site_operators_default: ClassVar[bool] = False
    max_count: ClassVar[int] = 100

    def __init__(self, config: SearchProviderConfig) -> None:
        self.config = config
        self.name = config.name
        base_url = config.base_url or self.default_base_url
        if not base_url:
            raise BadRequestError(f"search provider '{config.name}': base_url is required", reason="missing_base_url")
        self.base_url = base_url.rstrip("/")
        self.site_operators = self.site_operators_default if config.site_operators is None else config.site_operators

    # -- hooks -------------------------------------------------------------------------------------------------
    def build_request(self, req: SearchRequest, api_key: str | None) -> HTTPRequest:
        raise NotImplementedError

    def parse_response(self, payload: Any, req: SearchRequest) -> list[SearchHit]:
        raise NotImplementedError

    def failure_in_body(self, payload: Any, text: str, headers: dict[str, str]) -> TrawlError | None:
        """The error a 2xx answer's body reports (None when it is an answer); adapters say what theirs look like."""
        return None

    def error_body(self, code: Any, payload: Any, text: str, headers: dict[str, str]) -> TrawlError:
        """The error for a 2xx answer whose body is an error object; ``code`` is the status the body gives, if any.

        With a 4xx/5xx ``code`` the error is typed as that status would be (``classify``); without one it is
        retryable (``UnavailableError``, reason ``error_body``): the provider did not answer the question.
        """
        detail = _detail(payload, text)
        if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600:
            err = self.classify(code, payload, text, headers)
            err.message = f"search provider '{self.name}' answered HTTP 200 with an error body (status {code}): {detail}"
            err.args = (err.message,)
            return err
        return UnavailableError(f"search provider '{self.name}' answered HTTP 200 with an error body: {detail}", reason="error_body")

    def retry_after(self, headers: dict[str, str]) -> float | None:
        return parse_retry_after(headers.get("Retry-After"))

    def classify(self, status: int, payload: Any, text: str, headers: dict[str, str]) -> TrawlError:
        """The error for a non-2xx answer; adapters refine it from the provider's error body."""
        detail = _detail(payload, text)
        message = f"search provider '{self.name}' answered HTTP {status}: {detail}"
        if status == 429:
            return RateLimitedError(message, retry_after=self.retry_after(headers), reason="http_429")
        if status >= 500 or status == 408:
            err = UnavailableError(message, reason=f"http_{status}")
            err.retry_after = self.retry_after(headers)  # a 503 may say when to come back
            return err
        if 300 <= status < 400:  # redirects are not followed: keys must not travel to another host
            where = headers.get("Location", "?")
            return BadRequestError(
                f"search provider '{self.name}' redirects to {where}; point base_url there", reason=f"http_{status}"
            )
        if status in (401, 403):
            return AuthError(message, reason=f"http_{status}")
        return BadRequestError(message, reason=f"http_{status}")

    # -- shared ------------------------------------------------------------------------------------------------
    def query_text(self, req: SearchRequest) -> str:
        query = " ".join(req.query.split())
        if self.site_operators and (req.include_domains or req.exclude_domains):
            query = site_filter_query(query, req.include_domains, req.exclude_domains)
        return query

    def count(self, req: SearchRequest) -> int:
        return max(1, min(req.count, self.max_count))

    def time_range(self, req: SearchRequest) -> str | None:
        return req.time_range if req.time_range in _TIME_RANGES else None

    def api_key(self) -> str | None:
        env = self.config.api_key_env
        if not env:
            if self.needs_key:
                raise AuthError(
                    f"search provider '{self.name}' ({self.kind}) needs an API key: set api_key_env to the name "
                    "of the environment variable that holds it",
                    reason="missing_api_key",
                )
            return None
        key = os.environ.get(env, "").strip()
        if not key:
            if self.needs_key:
                raise AuthError(
                    f"search provider '{self.name}': environment variable {env} is not set", reason="missing_api_key"
                )
            return None
        return key

    def options(self) -> dict[str, str]:
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in self.config.options.items()}

    async def search(self, session: aiohttp.ClientSession, req: SearchRequest) -> list[SearchHit]:
        """One HTTP round trip; raises a trawl error, never an aiohttp or json one."""
        key = self.api_key()
        try:
            return await self.fetch_hits(session, req, key)
        except TrawlError as err:
            raise _scrubbed(err, key) from None

    async def fetch_hits(self, session: aiohttp.ClientSession, req: SearchRequest, key: str | None) -> list[SearchHit]:
        """The hits for ``req``: one request by default; an adapter that pages overrides this."""
        return await self.round_trip(session, self.build_request(req, key), req)

    async def round_trip(self, session: aiohttp.ClientSession, request: HTTPRequest, req: SearchRequest) -> list[SearchHit]:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        try:
            async with session.request(
                request.method,
                request.url,
                params=request.params or None,
                headers=request.headers,
                json=request.json_body,
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                body = await resp.content.read(MAX_RESPONSE_BYTES + 1)
                status, headers = resp.status, dict(resp.headers)
        except TimeoutError:
            raise TimeoutError_(f"search provider '{self.name}' timed out after {self.config.timeout_s:g}s") from None
        except aiohttp.ClientError as err:
            raise UnavailableError(
                f"search provider '{self.name}' unreachable: {type(err).__name__}: {err}", reason="connection"
            ) from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise ContentError(f"search provider '{self.name}' sent more than {MAX_RESPONSE_BYTES} bytes", reason="too_large")
        text = body.decode("utf-8", errors="replace")
        try:
            payload = json.loads(text) if text.strip() else None
        except ValueError:
            payload = None
            if 200 <= status < 300:
                raise ContentError(
                    f"search provider '{self.name}' sent a body that is not JSON: {text[:120]!r}", reason="malformed_response"
                ) from None
        if not 200 <= status < 300:
            raise self.classify(status, payload, text, headers)
        failure = self.failure_in_body(payload, text, headers)
        if failure is not None:
            raise failure
        try:
            hits = self.parse_response(payload, req)
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise ContentError(
                f"search provider '{self.name}' sent JSON of an unexpected shape ({type(err).__name__}: {err})",
                reason="malformed_response",
            ) from None
        return hits[: req.count]

    def hit(self, *, url: Any, title: Any, snippet: Any, rank: int, score: Any = None) -> SearchHit:
        return SearchHit(
            url=str(url).strip(),
            title=_text(title),
            snippet=_text(snippet),
            rank=rank,
            provider=self.name,
            score=float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None,
        )


def _text(value: Any) -> str:
    """Plain text: highlight tags (Brave's <strong>) and entities removed, whitespace collapsed."""
    if value is None:
        return ""
    return " ".join(html.unescape(_TAG.sub("", str(value))).split())


def _detail(payload: Any, text: str) -> str:
    if isinstance(payload, dict):
        for key in ("detail", "message", "error", "errors"):
            value = payload.get(key)
            if isinstance(value, dict):
                value = value.get("detail") or value.get("message") or value.get("error") or value.get("code") or value
            if value:
                return str(value)[:200]
    text = " ".join(text.split())
    return text[:200] if text and not text.startswith("<") else "(no detail)"


def _scrubbed(err: TrawlError, key: str | None) -> TrawlError:
    if key and key in err.message:
        err.message = err.message.replace(key, "***")
        err.args = (err.message,)
    return err
