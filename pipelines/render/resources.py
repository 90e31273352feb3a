"""Every request the headless browser makes, fetched by trawl instead: address guard, robots.txt, caps.

The browser never touches the network itself. ``PageRenderer`` intercepts
each request (Playwright ``page.route``) and hands it here:

1. the scheme and host pass the ``AddressGuard`` (only http/https; private,
   loopback and link-local addresses only for ``fetch.allow_hosts``);
2. robots.txt allows the URL (the same ``RobotsCache`` rules as pages, through
   ``PageFetcher.robots_problem``);
3. the GET goes through trawl's ``GuardedResolver`` (so a name that resolves to
   a private address is refused at connect time, redirects included), one
   request per domain slot (``DomainLimiter``), redirects followed by hand, each
   hop guarded again;
4. the bytes count against the render's budget (``fetch.render.max_bytes``).

A refused or failed request is a ``Refusal`` with a reason; the renderer
aborts it in the browser and records it. Only GET is fetched: a script's
POST/PUT is refused (``method_not_allowed``) - trawl reads pages, it does not
submit forms.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from yarl import URL

from pipelines.fetch.domains import domain_of
from pipelines.fetch.failures import classify_exception
from pipelines.fetch.fetcher import PageFetcher
from pipelines.fetch.guard import AddressGuard
from pipelines.fetch.politeness import DomainLimiter
from pipelines.fetch.resolver import GuardedResolver, StaticHostMap
from pipelines.settings import FetchSettings

__all__ = ["Resource", "Refusal", "ByteBudget", "ResourceFetcher"]

logger = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Response headers handed back to the browser: the body is already decompressed and re-framed by Playwright.
_PASSED_HEADERS = ("content-type", "cache-control", "last-modified", "etag")


@dataclass
class Resource:
    """A fetched response: HTTP ``status``, the headers passed on, the decompressed ``body``."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Refusal:
    """A request trawl did not make or could not complete: ``reason`` is ``"<slug>"`` or ``"<slug>: <detail>"``."""

    url: str
    reason: str


class ByteBudget:
    """Bytes left for one render, shared by all its requests."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)


class ResourceFetcher:
    """Fetches what one renderer's browser asks for; one per renderer (its own session and domain slots)."""

    def __init__(self, settings: FetchSettings, *, name: str = "renderer") -> None:
        self.settings = settings
        self.guard = AddressGuard(settings.allow_hosts)
        self._resolver = GuardedResolver(self.guard, StaticHostMap(settings.resolve))
        self._pages = PageFetcher(settings, name=f"{name}.robots")  # robots.txt: its cache and its fetch rules
        self.limiter = DomainLimiter(settings.per_domain_concurrency, settings.per_domain_delay_s)
        self._timeout = aiohttp.ClientTimeout(total=settings.total_timeout_s, sock_connect=settings.connect_timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0

    async def get(self, url: str, budget: ByteBudget, method: str = "GET") -> Resource | Refusal:
        """Fetch ``url`` for the browser; never raises for a network or policy problem."""
        if method.upper() not in ("GET", "HEAD"):
            return Refusal(url, f"method_not_allowed: {method.upper()}")
        try:
            current = URL(url).with_fragment(None)
        except (ValueError, TypeError) as exc:
            return Refusal(url, f"invalid_url: {exc}")
        seen: set[str] = set()
        for _ in range(self.settings.max_redirects + 1):
            refusal = await self._policy_refusal(url, current)
            if refusal is not None:
                return refusal
            seen.add(str(current))
            outcome = await self._request(url, current, budget)
            if not isinstance(outcome, URL):
                return outcome
            current = outcome.with_fragment(None)
            if str(current) in seen:
                return Refusal(url, f"redirect_loop: {current}")
        return Refusal(url, f"too_many_redirects: more than {self.settings.max_redirects}")

    async def _policy_refusal(self, url: str, hop: URL) -> Refusal | None:
        problem = self.guard.check_url_parts(hop.scheme, hop.raw_host, hop.port)
        if problem is None:
            problem = await self._pages.robots_problem(str(hop))
        return Refusal(url, problem) if problem else None

    async def _request(self, url: str, hop: URL, budget: ByteBudget) -> Resource | Refusal | URL:
        if budget.left <= 0:
            return Refusal(url, f"render_budget: the page's requests used {budget.used} of {budget.limit} bytes")
        self.requests += 1
        try:
            async with self.limiter.slot(domain_of(hop.raw_host or "")):
                async with self._get_session().get(hop, allow_redirects=False) as resp:
                    if resp.status in _REDIRECTS and "Location" in resp.headers:
                        return resp.url.join(URL(resp.headers["Location"]))
                    body = await self._read(resp, budget)
                    if body is None:
                        return Refusal(url, f"render_budget: over {budget.limit} bytes for one page")
                    headers = {k: v for k in _PASSED_HEADERS if (v := resp.headers.get(k))}
                    return Resource(url, resp.status, headers, body)
        except Exception as exc:  # noqa: BLE001 - every transport problem is a recorded refusal
            _, reason = classify_exception(exc)
            return Refusal(url, reason)

    async def _read(self, resp: aiohttp.ClientResponse, budget: ByteBudget) -> bytes | None:
        buf = bytearray()
        async for chunk in resp.content.iter_chunked(65_536):
            if len(chunk) > budget.left:
                budget.used = budget.limit
                resp.close()
                return None
            budget.used += len(chunk)
            buf += chunk
        return bytes(buf)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=self._resolver, limit_per_host=self.settings.per_domain_concurrency)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=self._timeout, trust_env=False,
                headers={"User-Agent": self.settings.user_agent},
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._pages.aclose()
        try:
            await self._resolver.close()
        except Exception:  # noqa: BLE001 - closing twice is harmless
            logger.debug("resolver already closed")
        await asyncio.sleep(0)
