"""Extraction as batched Ray tasks, fed by fetch results that stay in the object store.

``ExtractBatcher`` collects ObjectRefs of ``FetchResult``s, waits until they
are ready *without pulling them to the driver* (``ray.wait(fetch_local=False)``),
and submits ``extract_batch`` tasks of up to ``batch_size`` pages. Ray hands
the page bodies straight from the fetcher's object to the task's worker; the
driver only ever sees the extracted text.
"""

from __future__ import annotations

import asyncio
import time

import ray

from actors import objects
from pipelines.extract import ExtractedPage, extract_page
from pipelines.settings import PdfSettings

__all__ = ["extract_batch", "warm_up_extraction", "ExtractBatcher"]

_WARM_HTML = (b"<html><head><title>warm-up</title></head><body><article><p>Warm-up page. "
              b"Importing trafilatura and running it once costs a cold worker about a second.</p></article></body></html>")


@ray.remote(num_cpus=1, max_retries=3)
def extract_batch(chunk_chars: int, pdf: PdfSettings | None, *fetched) -> list[ExtractedPage]:
    node = ray.get_runtime_context().get_node_id()
    return [extract_page(f, chunk_chars=chunk_chars, node_id=node, pdf=pdf) for f in fetched]


@ray.remote(num_cpus=1, max_retries=0)
def _warm_extraction_worker() -> bool:
    from pipelines.fetch.result import FetchResult

    extract_page(FetchResult(url="http://warm.up/", final_url="http://warm.up/", status="ok", content_type="text/html",
                             body=_WARM_HTML, bytes=len(_WARM_HTML)))
    return True


def warm_up_extraction(workers: int | None = None) -> list[ray.ObjectRef]:
    """Start (or reuse) ``workers`` extraction workers (default: the cluster's CPUs) and import trafilatura in them.

    A cold worker spends about a second importing trafilatura before its first
    page; doing it while the first cells are still expanding and searching
    keeps that second off a row's critical path. Returns the tasks' refs.
    """
    n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    return [_warm_extraction_worker.options(name="extract.warm_up").remote() for _ in range(n)]


class ExtractBatcher:
    """Turns (url, fetch ObjectRef) into awaited ``ExtractedPage``s, in batches."""

    def __init__(self, *, job_id: str, chunk_chars: int, batch_size: int = 16, linger_s: float = 0.02,
                 max_batches_in_flight: int | None = None, warm_up: bool = True, pdf: PdfSettings | None = None) -> None:
        self.job_id = job_id
        self.pdf = pdf  # caps on reading PDFs (fetch.pdf)
        self.chunk_chars = chunk_chars
        self.batch_size = batch_size
        self.linger_s = linger_s
        cpus = int(ray.cluster_resources().get("CPU", 2))
        self.cpus = max(1, cpus)
        self.max_batches = max_batches_in_flight or max(2, 2 * cpus)
        self._warm_refs: list[ray.ObjectRef] = []
        if warm_up:
            self.warm_up()
        self._waiting: dict[ray.ObjectRef, tuple[str, asyncio.Future]] = {}
        self._ready: list[tuple[ray.ObjectRef, asyncio.Future, float]] = []
        self._batches = 0
        self._loop_task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self.batches_submitted = 0

    def warm_up(self) -> None:
        """Warm one extraction worker per CPU (once): trafilatura's import then stays off the first pages' path."""
        if not self._warm_refs:
            self._warm_refs = warm_up_extraction(self.cpus)

    async def extract(self, url: str, fetch_ref: ray.ObjectRef) -> ExtractedPage:
        fut = asyncio.get_running_loop().create_future()
        self._waiting[fetch_ref] = (url, fut)
        if self._loop_task is None:
            self._loop_task = asyncio.ensure_future(self._run())
        self._wake.set()
        return await fut

    async def _run(self) -> None:
        while True:
            if not self._waiting and not self._ready:
                self._wake.clear()
                await self._wake.wait()
            if self._waiting:
                refs = list(self._waiting)
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
                now = time.monotonic()
                for ref in ready:
                    _, fut = self._waiting.pop(ref)
                    self._ready.append((ref, fut, now))
            self._dispatch()
            await asyncio.sleep(0.005 if self._waiting or self._ready else 0)

    def _dispatch(self) -> None:
        if not self._ready or self._batches >= self.max_batches:
            return
        if len(self._ready) < self.batch_size and time.monotonic() - self._ready[0][2] < self.linger_s and self._batches > 0:
            return  # a batch is running: let more pages gather for a little while
        # Spread the ready pages over every CPU instead of queueing a full batch on one: a row's first pages
        # are on its critical path, and a CPU busy now is free again after one small batch (13 ready pages
        # with one CPU busy went as one task of 13, 90 ms, instead of 7 now and 6 when the other CPU is
        # free; benchmarks/critical_path.py). The size is set once per pass, so the pass's batches are even;
        # under load (more than CPUs x batch_size ready), they are full.
        size = min(self.batch_size, max(1, -(-len(self._ready) // self.cpus)))
        while self._ready and self._batches < self.max_batches:
            batch, self._ready = self._ready[:size], self._ready[size:]
            self._batches += 1
            self.batches_submitted += 1
            ref = extract_batch.options(name=f"extract[job={self.job_id}, n={len(batch)}]").remote(
                self.chunk_chars, self.pdf, *(r for r, _, _ in batch)
            )
            asyncio.ensure_future(self._finish(ref, [f for _, f, _ in batch]))

    async def _finish(self, ref: ray.ObjectRef, futures: list[asyncio.Future]) -> None:
        try:
            pages = await objects.get_object(ref)
            for fut, page in zip(futures, pages):
                if not fut.done():
                    fut.set_result(page)
        except Exception as exc:  # noqa: BLE001 - the task failed after its retries: fail these pages, not the job
            for fut in futures:
                if not fut.done():
                    fut.set_exception(exc)
        finally:
            self._batches -= 1
            self._wake.set()

    async def aclose(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
