"""PageRenderer: load a page in headless Chromium and return the DOM its scripts built.

One browser per renderer, launched on the first render through Playwright
for Python with the system Chromium (``fetch.render.executable_path``,
Debian's ``chromium``): Playwright's own browser download is never used.
Playwright gives the browser a new, empty profile directory
(``--user-data-dir``) and deletes it when the browser closes; each render gets
its own browser context (no cookies or storage shared between pages).

Bounds:

- requests: the page itself is served from the fetcher's copy when given;
  every other request is intercepted (``page.route``) and fetched by
  ``ResourceFetcher`` (address guard, robots.txt, byte budget); as a second
  wall the browser itself resolves no names (``--host-resolver-rules``) and
  sends anything not intercepted (WebSockets, for one) to a dead proxy;
  service workers are blocked (requests a service worker makes are not
  routed; ``service_workers="block"``, https://playwright.dev/python/docs/service-workers);
- time: ``timeout_s`` for load + network settle + DOM read; a page whose
  network never settles ("networkidle": no request for 500 ms,
  https://playwright.dev/python/docs/api/class-page#page-wait-for-load-state)
  is read as it is when the time is up;
- concurrency: ``max_concurrency`` pages at once (a semaphore);
- memory: V8 heap cap (``--js-flags=--max-old-space-size``), renderer
  processes capped (``--renderer-process-limit``), each page's context closed
  after its render, and the browser's whole process tree watched after each
  render: over ``max_rss_mb`` it is closed and a fresh one starts;
- lifetime: ``aclose()`` closes the browser and stops the Playwright driver,
  so no browser process outlives the renderer (tested).

``render`` returns a ``FetchResult`` (``text/html``, the rendered DOM as
UTF-8) so extraction treats it like any page; a failure is a ``FetchResult``
with ``render_failed: ...`` / ``render_timeout`` / ``render_unavailable: ...``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

import psutil

from pipelines.fetch.result import FetchResult, utc_now
from pipelines.render.decision import browser_problem
from pipelines.render.resources import ByteBudget, Refusal, ResourceFetcher
from pipelines.settings import FetchSettings

__all__ = ["PageRenderer", "chromium_args", "browser_rss_mb"]

logger = logging.getLogger(__name__)

# The browser reaches nothing by itself: every name fails to resolve and un-intercepted traffic goes to a closed port.
_NO_NETWORK = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]


# Reading the DOM of a settled page takes milliseconds; a second is kept for it on a loaded machine.
_DOM_READ_S = 1.0
# asyncio's wall around one render, beyond timeout_s: Playwright's own timeouts normally end it first.
_HARD_WALL_EXTRA_S = 5.0


def _ms_left(deadline: float) -> float:
    return max(1.0, (deadline - time.monotonic()) * 1000)


def chromium_args(settings: FetchSettings, tag: str = "") -> list[str]:
    """Flags for Chromium on a closed network (no GPU, no QUIC, no background or update traffic).

    ``tag`` becomes ``--trawl-renderer=<tag>``, a switch Chromium ignores, so the processes of one renderer can
    be found (``ps``, tests) and told apart from other browsers on the machine."""
    r = settings.render
    return [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
        f"--js-flags=--max-old-space-size={r.js_heap_mb}", f"--renderer-process-limit={r.max_concurrency + 1}",
        *_NO_NETWORK, *([f"--trawl-renderer={tag}"] if tag else []),
    ]


def browser_rss_mb(tag: str) -> float:
    """Resident memory (MiB) of the browser started with ``--trawl-renderer=<tag>`` and all its child processes."""
    total = 0
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if f"--trawl-renderer={tag}" not in (proc.info["cmdline"] or []):
                continue
            for member in (proc, *proc.children(recursive=True)):
                total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / 2**20


class PageRenderer:
    """Plain-Python renderer; one per Ray renderer actor (or per test)."""

    def __init__(self, settings: FetchSettings, *, name: str = "renderer", tag: str = "") -> None:
        self.settings = settings
        self.name = name
        self.tag = tag or f"{name}-{os.getpid()}-{id(self):x}"  # always tagged: the memory watch finds the browser by it
        self.resources = ResourceFetcher(settings, name=name)
        self._slots = asyncio.Semaphore(settings.render.max_concurrency)
        self._start_lock = asyncio.Lock()
        self._playwright = None
        self._browser = None
        self.renders = 0
        self.restarts = 0  # browsers closed by the memory watch
        self._active = 0  # renders holding a slot
        self.refused: list[Refusal] = []  # the last renders' refused requests (bounded), for stats and tests

    async def render(self, url: str, document: FetchResult | None = None) -> FetchResult:
        """The page at ``url`` after its scripts ran; never raises for page problems.

        ``document``: the page as the fetcher got it (status ok); the browser is then served these bytes at its
        ``final_url`` instead of fetching the page a second time (its other requests are fetched as usual)."""
        problem = browser_problem(self.settings.render.executable_path)
        if problem is not None:
            return FetchResult(url=url, final_url=url, status="skipped", reason=problem, fetcher=self.name)
        started = time.monotonic()
        async with self._slots:
            self._active += 1
            try:
                browser = await self._get_browser()  # the first render's browser start is not the page's time
                # the page's own steps stop themselves within timeout_s (see _render); this is the hard wall
                result = await asyncio.wait_for(self._render(browser, url, document),
                                                self.settings.render.timeout_s + _HARD_WALL_EXTRA_S)
            except TimeoutError:
                result = FetchResult(url=url, final_url=url, status="failed",
                                     reason=f"render_timeout: over {self.settings.render.timeout_s:g}s")
            except Exception as exc:  # noqa: BLE001 - a browser crash fails this page, not the job
                logger.warning("render of %s failed: %s", url, exc)
                result = FetchResult(url=url, final_url=url, status="failed",
                                     reason=f"render_failed: {type(exc).__name__}: {str(exc)[:200]}")
            finally:
                self._active -= 1
        result.fetch_ms = (time.monotonic() - started) * 1000.0
        result.fetcher = self.name
        self.renders += 1
        await self._check_memory()
        return result

    async def _check_memory(self) -> None:
        """Restart the browser when its process tree holds more than ``max_rss_mb`` (leaks across many pages)."""
        rss_mb = browser_rss_mb(self.tag)
        if rss_mb > self.settings.render.max_rss_mb and self._active == 0:  # never under another page's feet
            logger.info("render: browser uses %.0f MB > %d MB; restarting it", rss_mb, self.settings.render.max_rss_mb)
            browser, self._browser = self._browser, None
            self.restarts += 1
            if browser is not None:
                await browser.close()

    async def _render(self, browser, url: str, document: FetchResult | None) -> FetchResult:
        deadline = time.monotonic() + self.settings.render.timeout_s
        if document is not None and (document.status != "ok" or not document.body):
            document = None
        target = document.final_url if document is not None else url
        budget = ByteBudget(self.settings.render.max_bytes)
        context = await browser.new_context(service_workers="block", java_script_enabled=True,
                                            user_agent=self.settings.user_agent)
        try:
            page = await context.new_page()
            await page.route("**/*", lambda route: self._serve(route, budget, document))
            response = await page.goto(target, wait_until="domcontentloaded", timeout=_ms_left(deadline))
            if response is None or not 200 <= response.status < 300:
                status = response.status if response is not None else None
                return FetchResult(url=url, final_url=url, status="failed", http_status=status,
                                   reason=f"http_{status}" if status else "render_failed: no response")
            await self._settle(page, deadline)
            html = await page.content()
        finally:
            await context.close()
        body = html.encode("utf-8")
        return FetchResult(url=url, final_url=url, status="ok", http_status=response.status, content_type="text/html",
                           charset="utf-8", body=body, bytes=budget.used, fetched_at=utc_now())

    async def _settle(self, page, deadline: float) -> None:
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        try:  # leave _DOM_READ_S of the time for reading the DOM
            await page.wait_for_load_state("networkidle", timeout=max(1.0, _ms_left(deadline) - _DOM_READ_S * 1000))
        except PlaywrightTimeout:
            logger.info("render: network did not settle; reading the DOM as it is")

    async def _serve(self, route, budget: ByteBudget, document: FetchResult | None) -> None:
        request = route.request
        if request.url.startswith(("data:", "blob:")):
            await route.continue_()  # in-page bytes, no network
            return
        if not request.url.startswith(("http://", "https://")):  # file:, ftp:, chrome: ... never
            self.refused = [*self.refused[-99:], Refusal(request.url[:200], f"blocked_scheme: {request.url.split(':', 1)[0]}")]
            await route.abort("blockedbyclient")
            return
        if (document is not None and document.body is not None  # _render keeps only an ok document with a body
                and request.is_navigation_request() and request.url.split("#")[0] == document.final_url):
            ctype = f"{document.content_type or 'text/html'}; charset={document.charset}" if document.charset else document.content_type
            budget.used += len(document.body)
            await route.fulfill(status=document.http_status or 200, headers={"content-type": ctype or "text/html"},
                                body=document.body)
            return
        outcome = await self.resources.get(request.url, budget, method=request.method)
        if isinstance(outcome, Refusal):
            self.refused = [*self.refused[-99:], outcome]
            logger.info("render: refused %s (%s)", outcome.url, outcome.reason)
            await route.abort("blockedbyclient")
            return
        await route.fulfill(status=outcome.status, headers=outcome.headers, body=outcome.body)

    async def _get_browser(self):
        async with self._start_lock:
            if self._browser is None or not self._browser.is_connected():
                from playwright.async_api import async_playwright

                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.settings.render.executable_path, headless=True,
                    args=chromium_args(self.settings, self.tag), chromium_sandbox=False,
                )
        return self._browser

    async def aclose(self) -> None:
        """Close the browser (all its processes) and the Playwright driver; the renderer can start again later."""
        browser, self._browser = self._browser, None
        driver, self._playwright = self._playwright, None
        try:
            if browser is not None:
                await browser.close()
        finally:
            if driver is not None:
                await driver.stop()
            await self.resources.aclose()

    def stats(self) -> dict:
        return {"renders": self.renders, "requests": self.resources.requests, "refused": len(self.refused),
                "restarts": self.restarts, "rss_mb": round(browser_rss_mb(self.tag), 1)}
