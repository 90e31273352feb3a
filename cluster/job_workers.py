"""The Ray actors of one job run, owned by one object: started lazily, then flushed and killed.

``JobWorkers`` is what ``cluster.runner.run_job`` drives: ``start_writer``
before anything is recorded (a ``DeferredWriter``: the actor itself starts
with the others), ``start`` (idempotent) on the first call the job's caches
cannot answer, ``close`` to flush the gateways' telemetry and close the
output, and ``kill`` in every case, so no actor of the run outlives it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass

import ray

from actors.fetcher import FetcherPool
from actors.llm_gateway import start_llm_gateway
from actors.quota import start_quota
from actors.research_worker import WorkerSetup, start_research_workers
from actors.search_gateway import start_search_gateway
from actors.writer import DeferredWriter, writer_name

__all__ = ["JobWorkers", "WorkerPaths", "GATEWAY_FLUSH_TIMEOUT_S"]

logger = logging.getLogger(__name__)

# How long closing waits for a gateway's last telemetry records; a gateway that is gone by then loses them.
GATEWAY_FLUSH_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class WorkerPaths:
    """Local folders of the run (on the driver's node, where writer and gateways run)."""

    output: str  # the output folder or URI
    state_dir: str  # caches and page store
    llm_cache_dir: str
    search_cache_dir: str
    python_cache_dir: str  # results of kind: python functions (pipelines.tasks.python_cache)

    @classmethod
    def for_job(cls, job, output: str, state_dir: str) -> WorkerPaths:
        cache_root = os.path.join(state_dir, "cache")
        return cls(output, state_dir, job.llm.cache_dir or os.path.join(cache_root, "llm"), os.path.join(cache_root, "search"),
                   os.path.join(cache_root, "python"))


class JobWorkers:
    """Writer, LLM gateway, search gateway and fetchers of one job run.

    ``llm_settings``: resolved settings (profile read, keys checked);
    ``spent``: (tokens, USD) of earlier runs of a resumed job, counted against its budget.
    """

    def __init__(self, job, paths: WorkerPaths, llm_settings, spent: tuple[int, float] = (0, 0.0),
                 research_nodes: list[str] | None = None) -> None:
        """``research_nodes``: one node id per research worker to start (None or empty: research in the driver,
        with the LLM and search gateway actors)."""
        self.job, self.paths, self.llm_settings, self.spent = job, paths, llm_settings, spent
        self.research_nodes = research_nodes or []
        self.writer = None
        self.llm = self.search = self.fetchers = None
        self.quota = None
        self.research: list = []

    @property
    def started(self) -> bool:
        return self.fetchers is not None

    def start_writer(self) -> DeferredWriter:
        """The job's writer; its actor starts with ``start`` (a run its caches answer writes in the driver)."""
        self.writer = DeferredWriter(self.paths.output, job_id=self.job.job_id)
        return self.writer

    def start(self):
        """Start the gateways and fetchers once; returns (llm gateway, search gateway, fetchers).

        With research workers: the fetchers, the quota actor and the workers; the gateways are None
        (each worker and the driver run their own)."""
        if not self.started and self.research_nodes:
            self._start_research()
        elif not self.started:
            self._start_gateways()
        return self.llm, self.search, self.fetchers

    def start_quota(self):
        """The quota actor (once): leases of the providers' limits and the job's spending."""
        if self.quota is None:
            self.quota = start_quota(self.job, self.llm_settings, self.spent, participants=len(self.research_nodes) + 1)
        return self.quota

    def _start_gateways(self) -> None:
        """The earlier design (``run.research_workers: 0``): one LLM and one search gateway actor, and the fetchers."""
        self.writer.handle()  # before the gateways: they look it up by name
        job, name = self.job, writer_name(self.job.job_id)
        self.llm = start_llm_gateway(
            self.llm_settings, budget=job.budget, writer=name, cache_dir=self.paths.llm_cache_dir,
            name=f"trawl.llm_gateway[{job.job_id}]",
            spent={job.job_id: self.spent} if self.spent[0] or self.spent[1] else None,
        )
        self.search = start_search_gateway(job.search, writer=name, cache_dir=self.paths.search_cache_dir,
                                           name=f"trawl.search_gateway[{job.job_id}]")
        self.fetchers = self._fetcher_pool()

    def _start_research(self) -> None:
        job = self.job
        # Fetchers first: a job's first pages wait on them, and Ray starts a node's actor processes a few at a
        # time (as many as it has CPUs). The writer and the quota actor are not waited on before the first answers.
        fetchers = self._fetcher_pool()
        try:
            writer = self.writer.handle()  # the workers hold its handle
            self.start_quota()
            # a worker needs the job's settings, not its rows or spec text (each cell carries its own row)
            settings_only = dataclasses.replace(job, rows=[], spec_yaml="")
            setup = WorkerSetup(settings_only, self.paths, self.llm_settings, writer, fetchers, self.quota,
                                len(self.research_nodes))
            # Kept in the object store by this reference for the whole run: a restarted worker reads its constructor
            # arguments again, and Ray does not keep them alive for restarts (ray-project/ray#53727).
            self._setup_ref = ray.put(setup)
            self.research = start_research_workers(self._setup_ref, self.research_nodes, job.job_id)
        except BaseException:
            fetchers.kill()  # not started as far as the job knows: nothing else would end them
            raise
        self.fetchers = fetchers

    def _fetcher_pool(self) -> FetcherPool:
        return FetcherPool(self.job.fetch, page_store_dir=os.path.join(self.paths.state_dir, "page-store"),
                           job_id=self.job.job_id)

    def driver_done(self) -> None:
        """The driver has no cell left and starts none: its share of the providers' concurrency goes to the workers."""
        if self.quota is not None:
            self.quota.leave.remote(0)

    def close_research(self) -> None:
        """Ask every research worker to stop and send its last records (best effort per worker)."""
        refs = [w.close.remote() for w in self.research]
        for ref in refs:
            try:
                ray.get(ref, timeout=GATEWAY_FLUSH_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - a dead worker's unsent records are lost, not the run
                logger.warning("a research worker's last records were not flushed: %r", exc)

    def record_job(self, record: dict) -> None:
        """Write the job's row (``jobs`` table) and wait for the writer to take it (kept in the driver until it starts)."""
        ref = self.writer.send([("jobs", [record])])
        if ref is not None:
            ray.get(ref)

    def flush_gateways(self) -> None:
        """Wait until each gateway's telemetry records have reached the writer (best effort per gateway)."""
        for gateway in self._gateways():
            try:
                ray.get(gateway.flush.remote(), timeout=GATEWAY_FLUSH_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - a dead gateway's last records are lost, not the run
                logger.warning("a gateway's last telemetry records were not flushed: %r", exc)

    def close(self, final_record: dict) -> None:
        """Flush the research workers and gateways, write the job's final row, close the output (compaction, DuckDB views)."""
        self.close_research()
        self.flush_gateways()
        self.record_job(final_record)
        self.writer.close()

    def kill(self) -> None:
        """Kill every actor of the run (without restart)."""
        writer = self.writer.handle() if self.writer is not None and self.writer.started else None
        for handle in [*self.research, self.quota, *self._gateways(), writer]:
            if handle is not None:
                ray.kill(handle, no_restart=True)
        if self.fetchers is not None:
            self.fetchers.kill()

    def _gateways(self) -> list:
        return [g for g in (self.llm, self.search) if g is not None]
