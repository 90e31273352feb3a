"""Run a job on Ray: start the actors, drive the cell DAG, close the output cleanly.

``run_job`` is what `trawl run`, `trawl resume`, `trawl rerun` and `trawl demo`
call. It works the same on the embedded local Ray and on a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import ray

from actors.extract import ExtractBatcher
from actors.metrics import JobMetrics
from actors.quota import quota_client
from actors.renderer import RenderTier
from actors.research_pool import ResearchPool
from actors.research_worker import default_worker_count, make_services
from actors.services import RayServices
from cluster.interrupt import quiet_abandoned_calls, sigterm_as_interrupt
from cluster.job_workers import JobWorkers, WorkerPaths
from cluster.local import Connection, connect
from pipelines.coordinator import CellSelector, Progress, build_dag, cells_to_rerun, run_cells
from pipelines.errors import SpecError
from pipelines.extract_store import ExtractedStore
from pipelines.fetch.checks import fetch_settings_problems
from pipelines.fetch.guard import AddressGuard
from pipelines.llm.budget import check_cost_cap_priced
from pipelines.llm.cache_reader import CacheReader
from pipelines.llm.profiles import check_api_keys, resolve_settings
from pipelines.search.gateway import SearchGateway
from pipelines.status import JobStatus
from pipelines.store.filesystem import is_uri, local_state_dir
from pipelines.store.reader import previous_state, read_table
from pipelines.tasks.python_cache import PythonResultCache
from pipelines.version import __version__

__all__ = ["RunResult", "JobRun", "run_job", "previous_state"]

TRAWL_VERSION = __version__  # recorded in every jobs row
# Cells the driver researches at once before the research workers are launched (its caches answered everything
# so far) and when none is left: a few, so a re-run its caches answer never needs the workers.
DRIVER_CELLS_WITH_WORKERS = 8

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    job_id: str
    run_id: str
    mode: str
    output: str
    progress: Progress
    wall_s: float
    connection: Connection
    statuses: dict[str, int] = field(default_factory=dict)  # final, whole job
    interrupted: bool = False


def _spent(output: str, job_id: str) -> tuple[int, float]:
    """Tokens and cost of every uncached LLM attempt recorded for the job so far."""
    calls = read_table(output, "llm_calls", job_id=job_id)  # empty when nothing was recorded yet
    tokens, cost = 0, 0.0
    for rec in calls.select(["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "cost_usd", "cache_hit"]).to_pylist():
        if not rec["cache_hit"]:
            tokens += (rec["gen_ai.usage.input_tokens"] or 0) + (rec["gen_ai.usage.output_tokens"] or 0)
            cost += rec["cost_usd"] or 0.0
    return tokens, cost


def _job_record(job, status: str, created: datetime) -> dict:
    return {
        "job_id": job.job_id,
        "name": job.name,
        "status": status,
        "spec_yaml": job.spec_yaml,
        "spec_path": job.spec_path,
        "key_field": job.key,
        "columns_json": job.columns_json(),
        "rows": len(job.rows),
        "cells": len(job.rows) * len(job.columns),
        "created_at": created,
        "updated_at": datetime.now(timezone.utc),
        "trawl_version": TRAWL_VERSION,
    }


def _cache_views(job, llm_settings, paths: WorkerPaths):
    """Read-only views of the gateways' caches for the driver (same folders, on this node, where the gateways run).

    A call either view can answer never reaches a gateway actor; a re-run of a
    job is mostly such calls. Any problem opening them just means no fast path.
    """
    llm_view = search_view = None
    try:
        llm_view = CacheReader(llm_settings, paths.llm_cache_dir)
    except Exception as exc:  # noqa: BLE001
        logger.warning("LLM cache not readable on the driver (every call goes to the gateway): %r", exc)
    try:
        search_view = SearchGateway(job.search, cache_dir=paths.search_cache_dir)
    except Exception as exc:  # noqa: BLE001
        logger.warning("search cache not readable on the driver (every search goes to the gateway): %r", exc)
    return llm_view, search_view


def _extract_store(job, state_dir: str) -> ExtractedStore:
    """Extracted pages next to the page store, under the page store's TTL."""
    return ExtractedStore(os.path.join(state_dir, "extracted"), chunk_chars=job.research.chunk_chars,
                          ttl_s=job.fetch.page_store_ttl_s)


class JobRun:
    """One run of a job, as small steps: ``plan``, ``start``, ``execute``, ``finish``, ``result``.

    Owns the run's workers (``cluster.job_workers.JobWorkers``), its progress
    counters and its Ray metrics. ``mode``: run (all cells), resume
    (unfinished cells) or rerun (selected cells and their dependents).
    """

    def __init__(self, job, *, mode: str = "run", eager: bool = False) -> None:
        self.job, self.mode, self.eager = job, mode, eager
        # A URI output (s3://bucket/prefix) is written by the writer through pyarrow; caches and the
        # page store then stay on local disk of the node that uses them.
        output = job.output if is_uri(job.output) else os.path.abspath(job.output)
        state_dir = local_state_dir(output)
        os.makedirs(state_dir, exist_ok=True)
        self.paths = WorkerPaths.for_job(job, output, state_dir)
        self.run_id = f"{mode}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.progress = Progress()
        self.interrupted = False
        self.created = datetime.now(timezone.utc)
        self.workers: JobWorkers | None = None

    def plan(self, selector: CellSelector | None) -> None:
        """The DAG of this run: earlier statuses kept (resume/rerun), chosen cells and their dependents reopened."""
        job, mode = self.job, self.mode
        statuses, self.answers = previous_state(self.paths.output, job.job_id) if mode != "run" else ({}, {})
        rerun = cells_to_rerun(job, statuses, selector) if mode == "rerun" and selector else set()
        self.dag, self.skipped = build_dag(job, statuses if mode != "run" else None, rerun)
        for row, column in rerun:
            self.answers.get(row, {}).pop(column, None)

    def start(self, providers_file: str | None) -> None:
        """Report what a worker would only hit later (missing API keys, bad fetch settings), then start the writer.

        Raises ``SpecError``/``TrawlError`` before any actor exists."""
        job = self.job
        self.llm_settings = resolve_settings(job.llm, providers_file)
        check_api_keys(self.llm_settings)
        check_cost_cap_priced(self.llm_settings.providers, job.budget)  # a cost cap needs every provider's price
        problems = fetch_settings_problems(job.fetch)
        if problems:
            raise SpecError(problems)
        spent = _spent(self.paths.output, job.job_id) if self.mode != "run" else (0, 0.0)  # a resumed job's budget counts earlier runs
        self.workers = JobWorkers(job, self.paths, self.llm_settings, spent, research_nodes=research_nodes(job))
        self.workers.start_writer()
        self.workers.record_job(_job_record(job, JobStatus.RUNNING, self.created))
        if self.eager:
            self.workers.start()
        self.metrics = JobMetrics(job.job_id, self.progress)

    def execute(self, view) -> None:
        """Research until the DAG is finished, inside ``view`` (a context manager, or None); Ctrl-C ends it early."""
        try:
            with sigterm_as_interrupt(), (view if view is not None else contextlib.nullcontext()):
                asyncio.run(self.drive())
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the cells in flight are abandoned, resume recomputes them
            self.interrupted = True
            quiet_abandoned_calls()

    async def drive(self) -> None:
        job = self.job
        batcher = ExtractBatcher(job_id=job.job_id, chunk_chars=job.research.chunk_chars,
                                 batch_size=job.run.extract_batch_size, warm_up=self.eager, pdf=job.fetch.pdf)
        caches = _cache_views(job, self.llm_settings, self.paths)
        render_tier = RenderTier(job.fetch, batcher=batcher, job_id=job.job_id)
        events: asyncio.Queue = asyncio.Queue()
        pool = None
        if self.workers.research_nodes:
            pool = ResearchPool(events, per_worker=job.run.max_cells_in_flight, on_counters=self._count_remote,
                                on_driver_done=self.workers.driver_done, node_alive=_node_alive)
            services = self._local_services(batcher, caches, render_tier, pool)
        else:
            services = self._services(batcher, caches, render_tier)
        try:
            await run_cells(
                job, services, self.dag, answers=self.answers, skipped=self.skipped, run_id=self.run_id,
                progress=self.progress, cell_timeout_s=job.run.cell_timeout_s, remote=pool, events=events,
                # with research workers the driver only bridges their start-up (or a fully cached re-run)
                max_in_flight=min(DRIVER_CELLS_WITH_WORKERS, job.run.max_cells_in_flight) if pool else job.run.max_cells_in_flight,
            )
        finally:
            if pool is not None:
                await pool.aclose()
            await services.drain()
            for gateway in (services.local_llm, services.local_search):
                if gateway is not None:
                    await gateway.aclose()
            await render_tier.aclose()  # every browser closed before the job ends
            await batcher.aclose()
            for cache in caches:
                if cache is not None:
                    await cache.aclose()

    def _services(self, batcher: ExtractBatcher, caches, render_tier: RenderTier) -> RayServices:
        workers = self.workers

        def start_on_first_miss():
            handles = workers.start()
            batcher.warm_up()  # after the actors: a job's first pages wait on the fetchers, not on warm extraction workers
            return handles

        llm_cache, search_cache = caches
        return RayServices(
            job_id=self.job.job_id, llm_gateway=workers.llm, search_gateway=workers.search, fetchers=workers.fetchers,
            start_workers=None if workers.started else start_on_first_miss, writer=workers.writer, batcher=batcher,
            progress=self.progress, metrics=self.metrics, llm_cache=llm_cache, search_cache=search_cache,
            extracted=_extract_store(self.job, self.paths.state_dir),
            host_allowed=AddressGuard(self.job.fetch.allow_hosts).host_allowed,
            python_cache=PythonResultCache(self.paths.python_cache_dir), render_tier=render_tier,
        )

    def _local_services(self, batcher: ExtractBatcher, caches, render_tier: RenderTier, pool: ResearchPool) -> RayServices:
        """The driver's services with research workers: in-process gateways (participant 0 of the job's quota).

        The driver researches cells itself only until the workers answer; the first call its caches
        cannot answer starts the fetchers, the quota actor and the workers."""
        workers = self.workers

        def start_on_first_miss():
            workers.start()
            pool.launch(workers.research, workers.research_nodes)
            batcher.warm_up()
            return None, None, workers.fetchers

        if self.eager:
            pool.launch(workers.research, workers.research_nodes)
        quota = quota_client(lambda: workers.start_quota(), self.job.job_id, index=0, count=len(workers.research_nodes) + 1)
        return make_services(self.job, self.paths, self.llm_settings, writer=workers.writer, fetchers=workers.fetchers,
                             quota=quota, batcher=batcher, render_tier=render_tier, progress=self.progress,
                             metrics=self.metrics, start_workers=None if workers.started else start_on_first_miss,
                             llm_cache=caches[0])

    def _count_remote(self, counters: dict) -> None:
        for name, n in counters.items():
            self.progress.count(name, n)

    def finish(self) -> None:
        """Close the output with the job's final status, then kill every actor of the run."""
        if self.workers is None or self.workers.writer is None:
            return
        try:
            status = JobStatus.INTERRUPTED if self.interrupted else JobStatus.DONE
            self.workers.close(_job_record(self.job, status, self.created))
        finally:
            self.workers.kill()

    def result(self, connection: Connection, wall_s: float) -> RunResult:
        final, _ = previous_state(self.paths.output, self.job.job_id)
        counts: dict[str, int] = {}
        for status in final.values():
            counts[status] = counts.get(status, 0) + 1
        return RunResult(job_id=self.job.job_id, run_id=self.run_id, mode=self.mode, output=self.paths.output,
                         progress=self.progress, wall_s=wall_s, connection=connection, statuses=counts,
                         interrupted=self.interrupted)


def _node_alive(node_id: str | None) -> bool:
    """Whether ``node_id`` is a live node of the cluster (unknown: assume it is)."""
    if node_id is None:
        return True
    return any(n["NodeID"] == node_id and n["Alive"] for n in ray.nodes())


def research_nodes(job) -> list[str]:
    """One node id per research worker of ``job`` (``run.research_workers``): [] keeps research in the driver.

    The default places one worker per 4 CPUs of every live node with CPUs (at least one per such node);
    an explicit count is spread round-robin over those nodes, the biggest first."""
    wanted = job.run.research_workers
    if wanted == 0:
        return []
    default = default_worker_count(ray.nodes())
    if wanted is None or not default:
        return default
    nodes = sorted(set(default), key=lambda n: -default.count(n))
    return [nodes[i % len(nodes)] for i in range(wanted)]


def run_job(
    job,
    *,
    mode: str = "run",
    selector: CellSelector | None = None,
    address: str | None = None,
    dashboard: bool = True,
    providers_file: str | None = None,
    on_start=None,
    eager: bool = False,
) -> RunResult:
    """Run (all cells), resume (unfinished cells) or rerun (selected cells and their dependents).

    ``on_start(progress, connection)`` is called before research starts (the
    CLI starts its live view there) and must return a context manager.

    The gateways, fetchers and extraction workers start on the first call
    that the driver cannot answer from the job's caches and stores (at once,
    in a first run); ``eager=True`` starts them before ``on_start`` instead
    (the benchmarks use it to time start-up apart from research).
    Raises ``SpecError``/``TrawlError`` for problems found before anything starts.
    """
    connection = connect(address, dashboard=dashboard, job_id=job.job_id)
    run = JobRun(job, mode=mode, eager=eager)
    run.plan(selector)
    started = time.time()
    try:
        run.start(providers_file)
        started = time.time()
        run.execute(on_start(run.progress, connection) if on_start else None)
    finally:
        run.finish()
    return run.result(connection, time.time() - started)
