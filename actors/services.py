"""The research pipeline's services, backed by Ray actors and tasks.

``RayServices`` implements ``pipelines.research.Services``: LLM and search
calls go to their gateway actors, pages come from the sharded fetchers
through the extraction batcher, records go to the writer in batches. Page
fan-in lives here: every cell of the job that needs a URL awaits the same
future, so the URL is fetched and extracted once per job.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict, defaultdict

import ray
from ray.exceptions import RayActorError, RayTaskError

from actors.extract import ExtractBatcher
from actors import objects
from actors.metrics import JobMetrics
from pipelines.errors import TrawlError, UnavailableError
from pipelines.extract import ExtractedPage, page_record
from pipelines.extract_store import ExtractedStore
from pipelines.llm.cache_reader import CacheReader
from pipelines.llm.types import LLMRequest, LLMResult
from pipelines.search.gateway import SearchGateway
from pipelines.search.types import SearchHit, SearchRequest

__all__ = ["RayServices"]


class RayServices:
    def __init__(self, *, job_id: str, llm_gateway, search_gateway, fetchers, writer, batcher: ExtractBatcher,
                 progress, metrics: JobMetrics | None = None, page_memo_size: int = 4096,
                 record_batch: int = 500, record_linger_s: float = 0.5, actor_wait_s: float = 120.0,
                 page_attempts: int = 3, llm_cache: CacheReader | None = None,
                 search_cache: SearchGateway | None = None, extracted: ExtractedStore | None = None,
                 host_allowed=lambda host, port: False, start_workers=None) -> None:
        """``llm_cache``/``search_cache``: read-only views of the gateways' caches, so hits skip the actor hop.
        ``extracted``: pages extracted before (``host_allowed`` is the job's allow-list for private hops).
        ``start_workers``: called once, on the first call none of those can answer; returns the
        (llm gateway, search gateway, fetchers) that were not given up front."""
        self._start_workers = start_workers
        self.extracted = extracted
        self.host_allowed = host_allowed
        self._stores: set[asyncio.Future] = set()
        self.job_id = job_id
        self.llm_cache = llm_cache
        self.search_cache = search_cache
        self.actor_wait_s = actor_wait_s
        self.page_attempts = page_attempts
        self.llm_gateway = llm_gateway
        self.search_gateway = search_gateway
        self.fetchers = fetchers
        self.writer = writer
        self.batcher = batcher
        self.progress = progress
        self.metrics = metrics
        self._pages: OrderedDict[str, asyncio.Future] = OrderedDict()
        self._page_memo_size = page_memo_size
        self._pending: dict[str, list[dict]] = defaultdict(list)
        self._pending_n = 0
        self._last_flush = time.monotonic()
        self._record_batch = record_batch
        self._record_linger_s = record_linger_s
        self._writes: list[ray.ObjectRef] = []
        # The judge ranks chunks on this event loop; bm25s/numpy take ~0.4 s to import, so import them now,
        # off the loop, while the first cells are still waiting for their keywords.
        threading.Thread(target=_warm_ranking, name="trawl.warm-ranking", daemon=True).start()

    # --- remote calls ---------------------------------------------------------

    async def _remote(self, stage: str, call):
        """Await ``call()``'s ObjectRef; while the gateway is away (killed, or its node lost) send it again.

        The gateways restart by themselves (``max_restarts=-1``), but Ray's own
        task retries can run out while a lost node is still being detected and
        the actor rebuilt elsewhere. Re-sending is safe: call ids are
        deterministic and the gateway's cache answers a call that already
        finished. After ``actor_wait_s`` the call fails with a recorded reason.
        """
        started = time.perf_counter()
        deadline = time.monotonic() + self.actor_wait_s
        backoff = 0.25
        try:
            while True:
                try:
                    return await objects.get_object(call())
                except RayTaskError as exc:
                    if isinstance(exc.cause, TrawlError):  # the original keeps its reason, retry_after and message
                        raise exc.cause from None
                    raise UnavailableError(f"{stage} failed: {type(exc.cause).__name__}: {str(exc.cause)[:200]}", reason=f"{stage}_error") from None
                except RayActorError as exc:
                    if time.monotonic() + backoff > deadline:
                        raise UnavailableError(f"{stage} actor unavailable for {self.actor_wait_s:g}s: {str(exc)[:200]}",
                                               reason=f"{stage}_actor_died") from None
                    self.count("actor_retries")
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            if self.metrics:
                self.metrics.observe(stage, time.perf_counter() - started)

    async def llm(self, req: LLMRequest) -> LLMResult:
        if self.llm_cache is not None and (hit := self.llm_cache.lookup(req)) is not None:
            result, record = hit  # answered here: no hop to the gateway for what its cache already holds
            self.record("llm_calls", [record])
            return result
        self._ensure_workers()
        return await self._remote(req.stage, lambda: self.llm_gateway.complete.remote(req))

    async def search(self, req: SearchRequest) -> list[SearchHit]:
        if self.search_cache is not None and (hit := self.search_cache.cached(req)) is not None:
            hits, records = hit
            self.record("search_calls", records)
            return hits
        self._ensure_workers()
        return await self._remote("search", lambda: self.search_gateway.search.remote(req))

    def _ensure_workers(self) -> None:
        if self._start_workers is not None:
            self.llm_gateway, self.search_gateway, self.fetchers = self._start_workers()
            self._start_workers = None  # only once it worked: a failure fails this call, the next one tries again
            self.count("workers_started")

    async def page(self, url: str) -> ExtractedPage:
        fut = self._pages.get(url)
        if fut is not None:
            self._pages.move_to_end(url)
            self.count("page_fan_in")
            return await asyncio.shield(fut)
        fut = asyncio.ensure_future(self._fetch_and_extract(url))
        self._pages[url] = fut
        while len(self._pages) > self._page_memo_size:
            old_url, old = next(iter(self._pages.items()))
            if not old.done():
                break
            del self._pages[old_url]
        return await asyncio.shield(fut)

    async def _fetch_and_extract(self, url: str) -> ExtractedPage:
        started = time.perf_counter()
        if self.extracted is not None:
            page = await asyncio.to_thread(self.extracted.get, url, host_allowed=self.host_allowed)
            if page is not None:  # extracted before, by this job or another: no fetcher, no extraction task
                page.fetch_ms = (time.perf_counter() - started) * 1000.0
                page.fetcher = "extract-store"
                self.count("pages_from_extract_store")
                return self._finish_page(page, started)
        page = await self._fetch_and_extract_remote(url)
        if self.extracted is not None and page.status == "ok":
            # kept in the background: the cell does not wait for the disk
            self._stores.add(fut := asyncio.ensure_future(asyncio.to_thread(self.extracted.put, page)))
            fut.add_done_callback(self._stores.discard)
        return self._finish_page(page, started)

    async def _fetch_and_extract_remote(self, url: str) -> ExtractedPage:
        self._ensure_workers()
        # A fetcher or extraction worker lost after Ray's own retries (its node went away) fails the whole
        # batch that waited on it; fetching and extracting are idempotent, so the page is simply tried again.
        for attempt in range(1, self.page_attempts + 1):
            try:
                page = await self.batcher.extract(url, self.fetchers.fetch(url))
                break
            except Exception as exc:  # noqa: BLE001 - after the last attempt this page fails, not the job
                page = ExtractedPage(url=url, final_url=url, status="failed",
                                     reason=f"internal: {type(exc).__name__}: {str(exc)[:200]}")
                if attempt < self.page_attempts:
                    self.count("page_retries")
                    await asyncio.sleep(0.5 * attempt)
        return page

    def _finish_page(self, page: ExtractedPage, started: float) -> ExtractedPage:
        if self.metrics:
            self.metrics.observe("page", time.perf_counter() - started)
            if page.extract_ms:
                self.metrics.observe("extract", page.extract_ms / 1000.0)
        self.progress.count("extract_ms", int(round(page.extract_ms)))
        self.count(f"pages_{page.status}")
        self.record("pages", [page_record(page, self.job_id)])
        return page

    # --- records and counters -------------------------------------------------

    def record(self, table: str, records: list[dict]) -> None:
        if not records:
            return
        if self.metrics:
            self.metrics.records(table, records)
        self._pending[table].extend(records)
        self._pending_n += len(records)
        if self._pending_n >= self._record_batch or time.monotonic() - self._last_flush > self._record_linger_s:
            self.flush_records()

    def flush_records(self) -> None:
        if self._pending_n:
            batches = [(t, recs) for t, recs in self._pending.items() if recs]
            self._writes.append(self.writer.append_many.remote(batches))
            self._pending = defaultdict(list)
            self._pending_n = 0
        self._last_flush = time.monotonic()
        if len(self._writes) > 32:  # bound un-acknowledged writes (backpressure on the writer)
            done, self._writes = ray.wait(self._writes, num_returns=len(self._writes) - 16)
            ray.get(done)

    def count(self, counter: str, n: int = 1) -> None:
        self.progress.count(counter, n)
        if self.metrics:
            self.metrics.count(counter, n)

    async def drain(self) -> None:
        """Send every buffered record and wait until the writer has them (and the extract store its pages)."""
        if self._stores:
            await asyncio.gather(*list(self._stores), return_exceptions=True)
        self.flush_records()
        if self.metrics:
            self.metrics.sync()  # the last cells have left the flight
        if self._writes:
            await asyncio.gather(*(objects.get_object(w) for w in self._writes))
            self._writes = []


def _warm_ranking() -> None:
    from pipelines.ranking import rank_chunks

    try:
        rank_chunks("warm up", ["warm up the ranking"], 1)
    except Exception:  # noqa: BLE001 - only a warm-up; the first real call will report any problem
        pass
