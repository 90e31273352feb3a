"""PageFetcher: fetch one URL politely and safely; every problem becomes a FetchResult, never an exception.

For each URL: page store (if configured and fresh) -> for each redirect hop:
address guard on the URL -> robots.txt of the hop's origin -> per-domain slot
(concurrency + delay) -> GET without auto-redirects -> judge the response.

Choices worth knowing:

- PDFs are kept (``application/pdf`` by Content-Type, or by ``%PDF-`` magic under
  octet-stream or a wrong text type) with their own size cap, ``fetch.pdf.max_bytes``.
- Redirects are followed by hand (``max_redirects`` hops); every hop passes the
  address guard, robots.txt and politeness. A ``Refresh`` header or a
  ``<meta http-equiv=refresh>`` is a redirect hop too (``page_links``).
  A URL requested twice with the same cookies is ``redirect_loop``.
- Cookies live for one redirect chain: a jar per ``fetch()`` call, so a consent
  page that sets a cookie and redirects to itself is read, and no cookie ever
  reaches another chain, another job or a robots.txt request.
- The URL is sent byte for byte as given (``yarl.URL(..., encoded=True)``): no
  re-encoding of ``%2B`` or ``%FC``.
- The body's encoding is sniffed as a browser does (``decode``) and recorded
  with how it was chosen; ``<link rel=canonical>`` is recorded.
- 429 and 503 with a ``Retry-After`` of at most ``retry_after_max_s`` seconds are
  retried once after that wait (outside the domain slot); otherwise, or if the
  retry fails too, the page fails with ``http_429`` / ``http_503``.
- ``fetch_ms`` is the wall time of ``fetch()``, politeness waits included.
- One aiohttp session per fetcher, created on first use inside the running loop;
  proxies come only from ``FetchSettings.proxy``, never from the environment
  (``trust_env=False``); with a proxy, the proxy resolves target names (see
  docs/real-web.md for what that means for the address guard).
- Two concurrent ``fetch(url)`` calls for one URL share one request; completed
  results are not kept (the driver keeps one ObjectRef per URL; the page store
  serves later jobs).
- Page store hits skip robots.txt (no request is made) but not the address
  guard: a page reached through an allow-listed private address is a miss for
  a job that does not allow that host.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from w3lib.url import safe_url_string
from yarl import URL

from pipelines.fetch.body import TEXT_TYPES, looks_like_html, media_type, read_capped, sniff_problem
from pipelines.fetch.decode import decode_body, sniff_encoding
from pipelines.fetch.domains import domain_of
from pipelines.fetch.failures import classify_exception
from pipelines.fetch.guard import AddressGuard, address_problem, parse_ip
from pipelines.fetch.page_links import canonical_url, meta_refresh_target, refresh_target
from pipelines.fetch.page_store import PageStore, StoredPage
from pipelines.fetch.politeness import DomainLimiter
from pipelines.fetch.resolver import GuardedResolver, StaticHostMap
from pipelines.fetch.result import FetchResult, utc_now
from pipelines.fetch.robots import RobotsCache, RobotsResponse
from pipelines.pdf import PDF_TYPES, is_pdf
from pipelines.retry_after import parse_retry_after
from pipelines.settings import FetchSettings

__all__ = ["PageFetcher", "FetchResult"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,application/pdf;q=0.8,*/*;q=0.1"
# Served for any file by servers that do not know the type: read, and kept only if the bytes are a PDF.
_SNIFFED_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})


class PageFetcher:
    """Plain-Python fetcher; one per Ray fetcher actor (or per test)."""

    def __init__(self, settings: FetchSettings, *, name: str = "fetcher", page_store_dir: str | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.settings = settings
        self._sleep = sleep  # politeness gaps and Retry-After waits; injectable for tests
        self.name = name
        self.guard = AddressGuard([*settings.allow_hosts, *_proxy_host(settings.proxy)])
        self._resolver = GuardedResolver(self.guard, StaticHostMap(settings.resolve))
        self.limiter = DomainLimiter(
            settings.per_domain_concurrency,
            settings.per_domain_delay_s,
            max_delay_s=settings.max_crawl_delay_s,
            clock=clock,
            sleep=sleep,
        )
        self.robots = RobotsCache(
            settings.user_agent,
            max_entries=settings.robots_cache_size,
            ttl_s=settings.robots_ttl_s,
            unreachable_ttl_s=settings.robots_unreachable_ttl_s,
        )
        self.store = PageStore(page_store_dir, ttl_s=settings.page_store_ttl_s) if page_store_dir else None
        self._timeout = aiohttp.ClientTimeout(total=settings.total_timeout_s, sock_connect=settings.connect_timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._inflight: dict[str, asyncio.Future[FetchResult]] = {}
        self.requests = 0  # HTTP requests sent, robots.txt included (for stats and tests)

    # -- public -----------------------------------------------------------------------------------

    async def fetch(self, url: str) -> FetchResult:
        """Fetch ``url``; concurrent calls for the same URL share one fetch. Never raises for page problems."""
        task = self._inflight.get(url)
        if task is None:
            task = asyncio.ensure_future(self._fetch_once(url))
            self._inflight[url] = task
            task.add_done_callback(lambda done: self._inflight.pop(url, None) if self._inflight.get(url) is done else None)
        result = await asyncio.shield(task)
        return dataclasses.replace(result)  # each caller gets its own record (the body bytes are shared, immutable)

    async def aclose(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._resolver.close()

    def stats(self) -> dict[str, Any]:
        return {"requests": self.requests, "robots_fetches": self.robots.fetches, "domains": self.limiter.domains, "inflight": len(self._inflight)}

    # -- one URL ----------------------------------------------------------------------------------

    async def _fetch_once(self, url: str) -> FetchResult:
        started = time.monotonic()
        try:
            result = await self._fetch_with_store(url)
        except Exception as exc:  # noqa: BLE001 - the promise is "never raises"; record the surprise instead
            status, reason = classify_exception(exc)
            result = FetchResult(url=url, final_url=url, status=status, reason=reason)
        result.fetch_ms = (time.monotonic() - started) * 1000.0
        result.fetcher = self.name
        if result.status != "ok":
            result.body = None
        return result

    async def _fetch_with_store(self, url: str) -> FetchResult:
        if self.store is not None and self.store.has(url):  # a miss costs a stat, not a hop to a thread
            stored = await asyncio.to_thread(self.store.get, url)
            if stored is not None and all(self.guard.host_allowed(h, port) for h, port in stored.private_hosts):
                return FetchResult(
                    url=url,
                    final_url=stored.final_url,
                    status="ok",
                    http_status=stored.http_status,
                    content_type=stored.content_type,
                    charset=stored.charset,
                    encoding_source=stored.encoding_source,
                    canonical_url=stored.canonical_url,
                    body=stored.body,
                    bytes=len(stored.body),
                    from_page_store=True,
                    fetched_at=stored.fetched_at,
                    private_hosts=list(stored.private_hosts),
                )
        hops: list[URL] = []
        result = await self._follow(url, robots_mode=False, hops=hops)
        if result.status == "ok":
            result.private_hosts = self._private_hops(hops)
        if self.store is not None and result.status == "ok" and result.body is not None:
            page = StoredPage(
                url, result.final_url, result.http_status, result.content_type, result.charset, result.fetched_at, result.body,
                private_hosts=result.private_hosts, encoding_source=result.encoding_source, canonical_url=result.canonical_url,
            )
            await asyncio.to_thread(self.store.put, page)
        return result

    def _private_hops(self, hops: list[URL]) -> list[tuple[str, int | None]]:
        private = []
        for hop in hops:
            host = (hop.raw_host or "").lower()
            if host in self._resolver.private_hosts or (parse_ip(host) is not None and address_problem(host) is not None):
                private.append((host, hop.port))
        return private

    async def _follow(self, url: str, *, robots_mode: bool, hops: list[URL] | None = None) -> FetchResult:
        """Follow redirects by hand; each hop is guarded, robots-checked and rate-limited."""
        try:
            current = _as_given(url)
        except (ValueError, TypeError, UnicodeError) as exc:
            return FetchResult(url=url, final_url=url, status="failed", reason=f"invalid_url: {exc}")
        jar = aiohttp.CookieJar(unsafe=True)  # this chain's cookies only; unsafe: loopback/intranet hosts are IPs too
        seen: set[tuple[str, str]] = set()
        for _hop in range(self.settings.max_redirects + 1):
            current = current.with_fragment(None)
            seen.add((str(current), _cookie_header(jar, current)))
            if hops is not None:
                hops.append(current)
            result = await self._one_hop(url, current, robots_mode=robots_mode, jar=jar)
            if not isinstance(result, URL):
                return result
            nxt = result.with_fragment(None)
            if (str(nxt), _cookie_header(jar, nxt)) in seen:
                return FetchResult(url=url, final_url=str(nxt), status="failed", reason=f"redirect_loop: {nxt}", http_status=None)
            current = nxt
        return FetchResult(
            url=url,
            final_url=str(current),
            status="failed",
            reason=f"too_many_redirects: more than {self.settings.max_redirects}",
        )

    async def _one_hop(self, url: str, hop: URL, *, robots_mode: bool, jar: aiohttp.CookieJar) -> FetchResult | URL:
        """Fetch one hop: a final FetchResult, or the URL a redirect points to."""
        final = str(hop)
        problem = self.guard.check_url_parts(hop.scheme, hop.raw_host, hop.port)
        if problem is not None:
            status = "failed" if problem.startswith("invalid_url") else "blocked"
            return FetchResult(url=url, final_url=final, status=status, reason=problem)
        crawl_delay = None
        if self.settings.respect_robots and not robots_mode:
            rules = await self.robots.rules_for(_origin(hop), self._robots_response)
            if rules.problem is not None:
                return FetchResult(url=url, final_url=final, status="blocked" if rules.problem_blocks else "failed", reason=rules.problem)
            if not rules.allowed(final, self.settings.user_agent):
                return FetchResult(url=url, final_url=final, status="blocked", reason="robots_disallowed")
            crawl_delay = rules.crawl_delay
        domain = domain_of(hop.raw_host or "")
        outcome: FetchResult | URL | float = 0.0
        for attempt in (1, 2):
            async with self.limiter.slot(domain, crawl_delay):
                outcome = await self._request(url, hop, robots_mode=robots_mode, may_wait=attempt == 1, jar=jar)
            if not isinstance(outcome, float):
                return outcome
            await self._sleep(outcome)  # Retry-After, outside the slot so the domain's other pages proceed
        raise AssertionError("unreachable: the second attempt never asks to wait")

    async def _request(self, url: str, hop: URL, *, robots_mode: bool, may_wait: bool, jar: aiohttp.CookieJar) -> FetchResult | URL | float:
        session = self._get_session()
        final = str(hop)
        self.requests += 1
        cap = self.robots.max_bytes if robots_mode else self.settings.max_bytes
        pdf_cap = max(cap, self.settings.pdf.max_bytes)
        try:
            cookie = _cookie_header(jar, hop)
            async with session.get(hop, allow_redirects=False, timeout=self._timeout, headers={"Cookie": cookie} if cookie else None) as resp:
                status = resp.status
                jar.update_cookies_from_headers(resp.headers.getall("Set-Cookie", []), resp.url)
                if status in _REDIRECTS and "Location" in resp.headers:
                    try:
                        return hop.join(_as_given(resp.headers["Location"]))
                    except (ValueError, TypeError, UnicodeError):
                        return FetchResult(url=url, final_url=final, status="failed", reason="bad_redirect", http_status=status)
                refresh = None if robots_mode or not 200 <= status < 300 else refresh_target(resp.headers.get("Refresh"), final)
                if refresh is not None:
                    return _join(hop, refresh)
                ctype_header = resp.headers.get("Content-Type")
                ctype = media_type(ctype_header)
                base: dict[str, Any] = dict(url=url, final_url=final, http_status=status, content_type=ctype)
                if status in (429, 503) and not robots_mode:
                    wait = parse_retry_after(resp.headers.get("Retry-After"))
                    if wait is not None and wait <= self.settings.retry_after_max_s and may_wait:
                        return wait
                if not 200 <= status < 300:
                    return FetchResult(**base, status="failed", reason=f"http_{status}")
                if not robots_mode and ctype is not None and not (ctype in TEXT_TYPES or ctype in PDF_TYPES or ctype in _SNIFFED_TYPES):
                    return FetchResult(**base, status="skipped", reason=f"content_type: {ctype}")
                if not robots_mode and ctype in PDF_TYPES:  # an octet-stream keeps max_bytes: it is most often not a PDF
                    cap = pdf_cap
                if not robots_mode and resp.content_length is not None and resp.content_length > cap:
                    return FetchResult(**base, status="skipped", reason=f"too_large: Content-Length {resp.content_length} > {cap}")
                body, truncated = await read_capped(resp, cap)  # robots.txt: the first 512 KB are parsed
                if truncated:
                    resp.close()  # drop the connection rather than drain the rest
                if truncated and not robots_mode:
                    return FetchResult(**base, status="skipped", reason=f"too_large: over {cap} bytes", bytes=len(body))
                return self._judge_body(base, ctype_header, body, robots_mode)
        except Exception as exc:  # noqa: BLE001 - every transport problem is a recorded outcome
            status_word, reason = classify_exception(exc)
            return FetchResult(url=url, final_url=final, status=status_word, reason=reason)

    def _judge_body(self, base: dict, ctype_header: str | None, body: bytes, robots_mode: bool) -> FetchResult | URL:
        sniffed = sniff_encoding(ctype_header, body) if not robots_mode else None
        charset = sniffed.encoding if sniffed else "utf-8"  # RFC 9309: robots.txt is UTF-8
        if robots_mode:
            return FetchResult(**base, status="ok", charset=charset, body=body, bytes=len(body), fetched_at=utc_now())
        if not body.strip():
            return FetchResult(**base, status="skipped", reason="empty_body", charset=charset)
        if is_pdf(base["content_type"], body):  # by type or by %PDF- magic, never by the URL's suffix
            if not is_pdf(None, body):
                return FetchResult(**base, status="skipped", reason="pdf_error: served as PDF without a %PDF- header", bytes=len(body))
            return FetchResult(**{**base, "content_type": "application/pdf"}, status="ok", body=body, bytes=len(body), fetched_at=utc_now())
        if base["content_type"] in _SNIFFED_TYPES:
            return FetchResult(**base, status="skipped", reason=f"content_type: {base['content_type']}", bytes=len(body))
        problem = sniff_problem(body, charset)
        if problem is not None:
            return FetchResult(**base, status="skipped", reason=problem, charset=charset, bytes=len(body))
        if base["content_type"] is None:
            if not looks_like_html(body):
                return FetchResult(**base, status="skipped", reason="content_type: missing", charset=charset, bytes=len(body))
            base = {**base, "content_type": "text/html"}
        canonical = None
        if base["content_type"] != "text/plain":
            head = decode_body(body[: 4 * 65_536], charset)
            refresh = meta_refresh_target(head, base["final_url"])
            if refresh is not None:
                return _join(URL(base["final_url"], encoded=True), refresh)
            canonical = canonical_url(head, base["final_url"])
        return FetchResult(
            **base, status="ok", charset=charset, encoding_source=sniffed.source if sniffed else None, canonical_url=canonical,
            body=body, bytes=len(body), fetched_at=utc_now(),
        )

    async def robots_problem(self, url: str) -> str | None:
        """None when robots.txt lets trawl fetch ``url`` (or robots are not respected), else the reason.

        For requests made outside ``fetch`` (the render tier's browser): same cache, same rules as pages.
        """
        if not self.settings.respect_robots:
            return None
        hop = URL(url).with_fragment(None)
        rules = await self.robots.rules_for(_origin(hop), self._robots_response)
        if rules.problem is not None:
            return rules.problem
        return None if rules.allowed(str(hop), self.settings.user_agent) else "robots_disallowed"

    async def _robots_response(self, robots_url: str) -> RobotsResponse:
        result = await self._follow(robots_url, robots_mode=True)
        if result.status == "blocked":
            return RobotsResponse(None, error=result.reason, blocked=True)
        if result.reason is not None and result.reason.startswith(("redirect_loop", "too_many_redirects")):
            return RobotsResponse(404)  # RFC 9309: too many redirects may be treated as "unavailable"
        if result.http_status is None:
            return RobotsResponse(None, error=result.reason)
        return RobotsResponse(result.http_status, body=result.body or b"")

    # -- session ----------------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=self._resolver,
                limit=self.settings.max_connections,
                limit_per_host=self.settings.per_domain_concurrency,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.settings.user_agent, "Accept": _ACCEPT},
                timeout=self._timeout,
                trust_env=False,  # never a proxy (or netrc credentials) picked up from the environment
                auto_decompress=True,  # gzip, deflate, br (Brotli) and zstd (backports.zstd) bodies
                proxy=self.settings.proxy,
            )
        return self._session


def _origin(url: URL) -> str:
    return str(url.origin())


def _as_given(url: str) -> URL:
    """``url`` as a yarl URL that is sent with its bytes unchanged (only unsafe characters percent-encoded)."""
    return URL(safe_url_string(url.strip()), encoded=True)


def _join(base: URL, target: str) -> URL:
    return base.join(_as_given(target))


def _cookie_header(jar: aiohttp.CookieJar, url: URL) -> str:
    return "; ".join(f"{name}={morsel.value}" for name, morsel in sorted(jar.filter_cookies(url).items()))


def _proxy_host(proxy: str | None) -> list[str]:
    """The proxy's host:port, which the address guard lets through: the user named it (often an intranet address)."""
    if not proxy:
        return []
    parsed = URL(proxy)
    host = parsed.raw_host or ""
    return [f"[{host}]:{parsed.port}" if ":" in host else f"{host}:{parsed.port}"]
