"""Research workers: async actors, spread over the nodes, that run the cell workflow for the driver.

Each worker is a thin shell over ``pipelines.cell_worker.CellWorker`` and runs
cells with the same ``RayServices`` the driver uses, but with its own
in-process LLM and search gateways (no hop per call): their caches are the
job's SQLite files (every worker on a node sharing the folder sees every
answer), their providers' rpm/tpm/search rpm come as leases from the job's
quota actor (``actors.quota``) and ``max_concurrency`` is split between the
driver and the workers. Pages come from the job's fetcher actors through the
worker's own extraction batcher; records go from the worker straight to the
writer, in batches.

``make_services`` builds the services for a worker and for the driver alike.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import ray

from actors.extract import ExtractBatcher
from actors.metrics import JobMetrics
from actors.quota import quota_client
from actors.renderer import RenderTier
from actors.services import RayServices
from pipelines.cell_worker import CellWorker, WorkerReport
from pipelines.extract_store import ExtractedStore
from pipelines.fetch.guard import AddressGuard
from pipelines.llm.gateway import Gateway
from pipelines.quota import QuotaClient
from pipelines.research import CellTask
from pipelines.search.gateway import SearchGateway
from pipelines.tasks.python_cache import PythonResultCache

__all__ = ["ResearchWorker", "WorkerSetup", "make_services", "start_research_workers", "default_worker_count"]

logger = logging.getLogger(__name__)

CPUS_PER_WORKER = 4  # the default: one research worker per 4 CPUs of a node, at least one per node with CPUs


@dataclass(frozen=True)
class WorkerSetup:
    """What every research worker of a job is built from (pickled once per worker)."""

    job: Any  # pipelines.spec.JobSpec
    paths: Any  # cluster.job_workers.WorkerPaths
    llm_settings: Any  # resolved pipelines.llm.config.LLMSettings
    writer: Any  # the writer actor's handle
    fetchers: Any  # actors.fetcher.FetcherPool
    quota: Any  # the quota actor's handle
    count: int  # research workers in the job (the driver is participant 0 of count + 1)


def make_services(job, paths, llm_settings, *, writer, fetchers, quota: QuotaClient, batcher, render_tier, progress,
                  metrics, start_workers=None, llm_cache=None) -> RayServices:
    """``RayServices`` with in-process gateways sharing the job's quota (a worker's, or the driver's)."""
    services: RayServices | None = None

    def sink(table: str):
        return lambda records: services.record(table, records) if services is not None else None

    llm = Gateway(llm_settings, budget=job.budget, record_sink=sink("llm_calls"), cache_dir=paths.llm_cache_dir, quota=quota)
    search = SearchGateway(job.search, record_sink=sink("search_calls"), cache_dir=paths.search_cache_dir, quota=quota)
    services = RayServices(
        job_id=job.job_id, llm_gateway=None, search_gateway=None, fetchers=fetchers, start_workers=start_workers,
        writer=writer, batcher=batcher, progress=progress, metrics=metrics, llm_cache=llm_cache, local_llm=llm,
        local_search=search,
        extracted=ExtractedStore(os.path.join(paths.state_dir, "extracted"), chunk_chars=job.research.chunk_chars,
                                 ttl_s=job.fetch.page_store_ttl_s),
        host_allowed=AddressGuard(job.fetch.allow_hosts).host_allowed,
        python_cache=PythonResultCache(paths.python_cache_dir), render_tier=render_tier,
    )
    return services


class _Counts:
    """The ``progress`` a worker's services count into: counters only; the driver keeps the real one."""

    def __init__(self) -> None:
        self.counters: Counter = Counter()
        self.in_flight = 0

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n


class _ResearchWorker:
    def __init__(self, setup: WorkerSetup, index: int) -> None:
        job = setup.job
        self.index = index
        self._counts = _Counts()
        self._batcher = ExtractBatcher(job_id=job.job_id, chunk_chars=job.research.chunk_chars,
                                       batch_size=job.run.extract_batch_size, warm_up=False, pdf=job.fetch.pdf)
        self._render = RenderTier(job.fetch, batcher=self._batcher, job_id=job.job_id)
        quota = quota_client(setup.quota, job.job_id, index=index + 1, count=setup.count + 1)
        self._services = make_services(job, setup.paths, setup.llm_settings, writer=setup.writer, fetchers=setup.fetchers,
                                       quota=quota, batcher=self._batcher, render_tier=self._render,
                                       progress=self._counts, metrics=JobMetrics(job.job_id))
        self._worker = CellWorker(self._services, self._counts.counters, self._flush,
                                  max_in_flight=job.run.max_cells_in_flight, cell_timeout_s=job.run.cell_timeout_s,
                                  name=f"research[{index}]@{ray.get_runtime_context().get_node_id()[:12]}")

    async def _flush(self) -> None:
        failed = await self._services.records.flush()
        if failed:
            raise failed[0]  # the driver must not take outcomes whose records were lost: it sends the cells again

    async def ready(self) -> str:
        """The node this worker runs on, once its one-time imports are done (the driver waits for it before
        sending cells: the warm-up thread competing for the GIL held a row's first LLM calls ~80 ms)."""
        await self._services.warmed()
        return ray.get_runtime_context().get_node_id()

    async def stats(self) -> dict:
        """Cells this worker holds now (running or waiting for a slot), for tests and the curious."""
        return {"index": self.index, "in_flight": len(self._worker._tasks)}

    async def submit(self, tasks: list[CellTask]) -> None:
        self._worker.submit(tasks)

    async def finished(self, wait_s: float = 1.0) -> WorkerReport:
        return await self._worker.finished(wait_s)

    async def close(self) -> None:
        """Stop researching, send every record, close browsers and gateways."""
        await self._worker.aclose()
        await self._services.drain()
        await self._render.aclose()
        await self._batcher.aclose()
        if self._services.local_llm is not None:
            await self._services.local_llm.aclose()
        if self._services.local_search is not None:
            await self._services.local_search.aclose()


# max_restarts: a worker process that dies is started again (its cells are sent again by the driver);
# no max_task_retries: the driver decides what to re-send, so nothing runs twice behind its back.
ResearchWorker = ray.remote(num_cpus=0, max_concurrency=10_000, max_restarts=-1)(_ResearchWorker)


def default_worker_count(nodes: list[dict]) -> list[str]:
    """Node ids to place the default workers on: one per ``CPUS_PER_WORKER`` CPUs of each live node with CPUs."""
    placed: list[str] = []
    for node in sorted(nodes, key=lambda n: n.get("NodeID", "")):  # the same order on every run: rows meet the same node
        cpus = int(node.get("Resources", {}).get("CPU", 0))
        if node.get("Alive") and cpus > 0:
            placed += [node["NodeID"]] * max(1, cpus // CPUS_PER_WORKER)
    return placed


def start_research_workers(setup, node_ids: list[str], job_id: str) -> list:
    """One worker per entry of ``node_ids``, pinned there (a worker whose node is lost is dropped by the driver,
    which moves its rows). ``setup``: a ``WorkerSetup``'s ObjectRef, which the caller keeps for the whole run."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    handles = []
    for index, node_id in enumerate(node_ids):
        handles.append(ResearchWorker.options(
            name=f"trawl.research[{index}]", namespace=f"trawl.{job_id}",
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
        ).remote(setup, index))
    return handles
