"""The research pipeline's services, backed by Ray actors and tasks.

``RayServices`` implements ``pipelines.research.Services``: LLM and search
calls go to their gateway actors, pages come from the sharded fetchers
through the extraction batcher, records go to the writer in batches. The
policies are plain classes in ``pipelines`` and unit-tested without Ray:
page fan-in (``pipelines.fan_in.FanIn``), record batching
(``pipelines.record_batcher``, sent by ``actors.writer.BatchedRecordSink``)
and the retry while a gateway is away (``pipelines.actor_away.AwayPolicy``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time

from ray.exceptions import RayActorError, RayTaskError

from actors import objects
from actors.extract import ExtractBatcher
from actors.metrics import JobMetrics
from actors.writer import BatchedRecordSink
from pipelines.actor_away import AwayPolicy
from pipelines.errors import PermanentError, TrawlError, UnavailableError
from pipelines.extract import ExtractedPage, page_record
from pipelines.extract_store import ExtractedStore
from pipelines.fan_in import PAGE_MEMO_SIZE, FanIn
from pipelines.llm.cache_reader import CacheReader
from pipelines.llm.types import LLMRequest, LLMResult
from pipelines.search.gateway import SearchGateway
from pipelines.search.types import SearchHit, SearchRequest
from pipelines.status import PageStatus, Stage

__all__ = ["RayServices", "DRIVER_RECORD_BATCH", "DRIVER_RECORD_LINGER_S", "PAGE_ATTEMPTS"]

logger = logging.getLogger(__name__)

# The driver sends many small records (keywords, hits, excerpts, cells): 500 per append keeps the writer's
# calls to a few per second on a large job, and half a second keeps the live tables close to live.
DRIVER_RECORD_BATCH = 500
DRIVER_RECORD_LINGER_S = 0.5
# Tries of one page whose fetcher or extraction worker was lost (fetching and extracting are idempotent).
PAGE_ATTEMPTS = 3


class RayServices:
    """``Services`` over Ray for one job (see ``pipelines.research.Services`` for each call's contract).

    ``llm_cache``/``search_cache``: read-only views of the gateways' caches, so hits skip the actor hop.
    ``extracted``: pages extracted before (``host_allowed`` is the job's allow-list for private hops).
    ``start_workers``: called once, on the first call none of those can answer; returns the
    (llm gateway, search gateway, fetchers) that were not given up front.
    Raises nothing of its own: failures reach the caller as ``TrawlError`` subclasses.
    """

    def __init__(self, *, job_id: str, llm_gateway, search_gateway, fetchers, writer, batcher: ExtractBatcher,
                 progress, metrics: JobMetrics | None = None, page_memo_size: int = PAGE_MEMO_SIZE,
                 record_batch: int = DRIVER_RECORD_BATCH, record_linger_s: float = DRIVER_RECORD_LINGER_S,
                 actor_wait_s: float = AwayPolicy.wait_s, page_attempts: int = PAGE_ATTEMPTS,
                 llm_cache: CacheReader | None = None, search_cache: SearchGateway | None = None,
                 extracted: ExtractedStore | None = None, host_allowed=lambda host, port: False,
                 start_workers=None, python_cache=None, render_tier=None, local_llm=None, local_search=None) -> None:
        # python_cache: results of ``kind: python`` functions (pipelines.tasks.python_cache);
        # render_tier: actors.renderer.RenderTier for pages built by JavaScript (None: static pages only);
        # local_llm/local_search: in-process gateways (a research worker's, or the driver's with research
        # workers) used instead of the gateway actors; they keep their own caches and records.
        self.python_cache, self.render_tier = python_cache, render_tier
        self.local_llm, self.local_search = local_llm, local_search
        self.job_id = job_id
        self.llm_gateway, self.search_gateway, self.fetchers = llm_gateway, search_gateway, fetchers
        self._start_workers = start_workers
        self.llm_cache, self.search_cache = llm_cache, search_cache
        self.extracted, self.host_allowed = extracted, host_allowed
        self.batcher, self.progress, self.metrics = batcher, progress, metrics
        self.away = AwayPolicy(wait_s=actor_wait_s)
        self.page_attempts = page_attempts
        self.pages: FanIn[ExtractedPage] = FanIn(page_memo_size)
        self.records = BatchedRecordSink(writer, max_records=record_batch, linger_s=record_linger_s)
        self._stores: set[asyncio.Future] = set()
        # The judge ranks chunks on this event loop; bm25s/numpy take ~0.4 s to import, so import them now,
        # off the loop, while the first cells are still waiting for their keywords (the Public Suffix List
        # and the TLS context too: each costs its first user tens of milliseconds on the loop).
        self._warm_up = threading.Thread(target=_warm_up, name="trawl.warm-up", daemon=True)
        self._warm_up.start()

    async def warmed(self) -> None:
        """Return once the warm-up thread (ranking imports, Public Suffix List, TLS context) is done."""
        if self._warm_up.is_alive():
            await asyncio.to_thread(self._warm_up.join)

    # --- remote calls ---------------------------------------------------------

    async def _remote(self, stage: str, call):
        """Await ``call()``'s ObjectRef; while the gateway is away (killed, or its node lost) send it again.

        A provider error from a live gateway is raised as the ``TrawlError`` it was (its reason kept);
        a gateway away for longer than the policy's wait raises ``UnavailableError(<stage>_actor_died)``.
        """
        started = time.perf_counter()
        backoff = self.away.start()
        try:
            while True:
                try:
                    return await objects.get_object(call())
                except RayTaskError as exc:
                    raise _task_error(stage, exc) from None
                except RayActorError as exc:
                    if not _actor_away(exc):  # its constructor raised: Ray does not restart it, waiting cannot help
                        raise UnavailableError(f"{stage} actor failed to start: {_cause_text(exc)}",
                                               reason=f"{stage}_actor_died") from None
                    delay = backoff.next_delay()
                    if delay is None:
                        raise UnavailableError(f"{stage} actor unavailable for {self.away.wait_s:g}s: {str(exc)[:200]}",
                                               reason=f"{stage}_actor_died") from None
                    self.count("actor_retries")
                    await asyncio.sleep(delay)
        finally:
            if self.metrics:
                self.metrics.observe(stage, time.perf_counter() - started)

    async def _local(self, stage: str, call):
        started = time.perf_counter()
        try:
            return await call
        finally:
            if self.metrics:
                self.metrics.observe(stage, time.perf_counter() - started)

    async def llm(self, req: LLMRequest) -> LLMResult:
        if self.llm_cache is not None and (hit := self.llm_cache.lookup(req)) is not None:
            result, record = hit  # answered here: no hop to the gateway for what its cache already holds
            self.record("llm_calls", [record])
            return result
        self._ensure_workers()
        if self.local_llm is not None:
            return await self._local(req.stage, self.local_llm.complete(req))
        return await self._remote(req.stage, lambda: self.llm_gateway.complete.remote(req))

    async def search(self, req: SearchRequest) -> list[SearchHit]:
        if self.search_cache is not None and (hit := self.search_cache.cached(req)) is not None:
            hits, records = hit
            self.record("search_calls", records)
            return hits
        if self.local_search is not None and (hit := self.local_search.cached(req)) is not None:
            hits, records = hit
            self.record("search_calls", records)
            return hits
        self._ensure_workers()
        if self.local_search is not None:
            return await self._local(Stage.SEARCH, self.local_search.search(req))
        return await self._remote(Stage.SEARCH, lambda: self.search_gateway.search.remote(req))

    async def run_python(self, target: str, version: str, kwargs: dict[str, str]):
        """A ``kind: python`` cell's function, run in a Ray task (``actors.python_task``); a lost worker is re-sent."""
        from actors.python_task import run_python_task

        name = f"trawl.python[{target}@{version}]"
        status, value = await self._remote("python", lambda: run_python_task.options(name=name).remote(target, kwargs))
        if status != "ok":
            raise PermanentError(str(value), reason="python_error")
        return value

    def _ensure_workers(self) -> None:
        if self._start_workers is not None:
            started = self._start_workers()  # with research workers the gateways are local: None here
            self.llm_gateway, self.search_gateway, self.fetchers = started
            self._start_workers = None  # only once it worked: a failure fails this call, the next one tries again
            self.count("workers_started")

    # --- pages ----------------------------------------------------------------

    async def page(self, url: str) -> ExtractedPage:
        page, shared = await self.pages.get(url, lambda: self._fetch_and_extract(url))
        if shared:
            self.count("page_fan_in")
        return page

    async def _fetch_and_extract(self, url: str) -> ExtractedPage:
        started = time.perf_counter()
        if self.extracted is not None and self.extracted.has(url):  # a miss costs a stat, not a hop to a thread
            page = await asyncio.to_thread(self.extracted.get, url, host_allowed=self.host_allowed)
            if page is not None:  # extracted before, by this job or another: no fetcher, no extraction task
                page.fetch_ms = (time.perf_counter() - started) * 1000.0
                page.fetcher = "extract-store"
                self.count("pages_from_extract_store")
                return self._finish_page(page, started)
        page = await self._fetch_and_extract_remote(url)
        if self.extracted is not None and page.status == PageStatus.OK:
            # kept in the background: the cell does not wait for the disk
            self._stores.add(fut := asyncio.ensure_future(asyncio.to_thread(self.extracted.put, page)))
            fut.add_done_callback(self._stores.discard)
        return self._finish_page(page, started)

    async def _fetch_and_extract_remote(self, url: str) -> ExtractedPage:
        """Fetch and extract ``url``.

        A fetcher that is away (killed, or its node lost; Ray restarts it, elsewhere if need be) is waited for
        as a gateway is (``AwayPolicy``): Ray's own retries run out within seconds while a lost node is still
        being detected. Any other failure of the fetch or of the extraction task that waited on it (a lost
        extraction worker fails its whole batch), and any failure of the render tier (a renderer has one
        restart, not a wait's worth), tries the page again, up to ``page_attempts``.
        """
        self._ensure_workers()
        backoff = self.away.start()
        attempt = 1
        while True:
            rendering = False
            try:
                fetched = self.fetchers.fetch(url)
                page = await self.batcher.extract(url, fetched)
                if self.render_tier is not None:  # the browser is given the fetched document: no second request
                    rendering = True
                    page = await self.render_tier.after_static(page, fetched)
                return page
            except Exception as exc:  # noqa: BLE001 - after the last attempt this page fails, not the job
                failure = exc
                if not rendering and _actor_away(exc) and (delay := backoff.next_delay()) is not None:
                    self.count("actor_retries")
                    await asyncio.sleep(delay)
                    continue
                if attempt >= self.page_attempts:
                    break
                self.count("page_retries")
                await asyncio.sleep(0.5 * attempt)
                attempt += 1
        return ExtractedPage(url=url, final_url=url, status=PageStatus.FAILED, reason=f"internal: {_cause_text(failure)}")

    def _finish_page(self, page: ExtractedPage, started: float) -> ExtractedPage:
        if self.metrics:
            self.metrics.observe(Stage.PAGE, time.perf_counter() - started)
            if page.extract_ms:
                self.metrics.observe(Stage.EXTRACT, page.extract_ms / 1000.0)
        self.progress.count("extract_ms", int(round(page.extract_ms)))
        self.count(f"pages_{page.status}")
        self.record("pages", [page_record(page, self.job_id)])
        return page

    # --- records and counters -------------------------------------------------

    def record(self, table: str, records: list[dict]) -> None:
        if records and self.metrics:
            self.metrics.records(table, records)
        self.records.record(table, records)

    def flush_records(self) -> None:
        """Send buffered records now, without waiting for the writer."""
        self.records.send()

    def count(self, counter: str, n: int = 1) -> None:
        self.progress.count(counter, n)
        if self.metrics:
            self.metrics.count(counter, n)

    async def drain(self) -> None:
        """Send every buffered record and wait until the writer has them (and the extract store its pages).

        Raises the first failed append (the run must not report records it lost)."""
        if self._stores:
            await asyncio.gather(*list(self._stores), return_exceptions=True)
        failed = await self.records.flush()
        if self.metrics:
            self.metrics.sync()  # the last cells have left the flight
        if failed:
            raise failed[0]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _cause_text(exc: BaseException) -> str:
    """``<error type>: <message>`` of a Ray failure's cause, on one line without terminal colours (Ray's own text
    starts with a coloured ``ray::extract[...]()`` header and a traceback); for ``pages.reason`` and errors."""
    cause = exc.cause if isinstance(exc, RayTaskError) and exc.cause is not None else exc
    message = " ".join(_ANSI.sub("", str(cause)).split())
    return f"{type(cause).__name__}: {message[:200]}"


def _actor_away(exc: BaseException) -> bool:
    """Whether ``exc`` says an actor is away and may come back (killed, or on a lost node: Ray restarts it): a
    ``RayActorError`` itself, or as the cause of a task that was handed the lost actor's result (a fetch).

    An actor whose constructor raised is not away but gone: Ray does not restart it, whatever its
    ``max_restarts``, so waiting for it only delays the failure by the whole wait."""
    lost = exc.cause if isinstance(exc, RayTaskError) else exc
    return isinstance(lost, RayActorError) and not lost.actor_init_failed


def _task_error(stage: str, exc: RayTaskError) -> TrawlError:
    """The ``TrawlError`` a gateway raised (reason, retry_after and message kept), or one naming the stage."""
    if isinstance(exc.cause, TrawlError):
        return exc.cause
    return UnavailableError(f"{stage} failed: {type(exc.cause).__name__}: {str(exc.cause)[:200]}", reason=f"{stage}_error")


def _warm_up() -> None:
    from pipelines import urls
    from pipelines.llm.client import warm_up as warm_llm_client
    from pipelines.ranking import rank_chunks

    try:
        urls.warm_up()
        warm_llm_client()
        rank_chunks("warm up", ["warm up the ranking"], 1)
    except Exception as exc:  # noqa: BLE001 - only a warm-up; the first real call will report any problem
        logger.debug("warm-up failed (the first real call will report it): %r", exc)
