"""Run a job on Ray: start the actors, drive the cell DAG, close the output cleanly.

``run_job`` is what `trawl run`, `trawl resume`, `trawl rerun` and `trawl demo`
call. It works the same on the embedded local Ray and on a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import ray

from actors.extract import ExtractBatcher
from actors.fetcher import FetcherPool
from actors.llm_gateway import start_llm_gateway
from actors.metrics import JobMetrics
from actors.search_gateway import start_search_gateway
from actors.services import RayServices
from actors.writer import start_writer, writer_name
from cluster.interrupt import quiet_abandoned_calls, sigterm_as_interrupt
from cluster.local import Connection, connect
from pipelines.coordinator import CellSelector, Progress, build_dag, cells_to_rerun, run_cells
from pipelines.extract_store import ExtractedStore
from pipelines.fetch import knob
from pipelines.fetch.guard import AddressGuard
from pipelines.llm.cache_reader import CacheReader
from pipelines.errors import SpecError
from pipelines.fetch.checks import fetch_settings_problems
from pipelines.llm.profiles import check_api_keys, resolve_settings
from pipelines.search.gateway import SearchGateway
from pipelines.store.filesystem import is_uri, local_state_dir
from pipelines.store.reader import read_table

__all__ = ["RunResult", "run_job", "previous_state"]

TRAWL_VERSION = "0.1.0"


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


def previous_state(output: str, job_id: str) -> tuple[dict, dict]:
    """Statuses of every recorded cell, and the answers of done cells (row -> column -> answer)."""
    try:
        table = read_table(output, "cells", job_id=job_id)
    except Exception:  # nothing written yet
        return {}, {}
    statuses, answers = {}, {}
    for rec in table.select(["row_key", "column", "status", "answer"]).to_pylist():
        statuses[(rec["row_key"], rec["column"])] = rec["status"]
        if rec["status"] == "done":
            answers.setdefault(rec["row_key"], {})[rec["column"]] = rec["answer"] or ""
    return statuses, answers


def _spent(output: str, job_id: str) -> tuple[int, float]:
    """Tokens and cost of every uncached LLM attempt recorded for the job so far."""
    try:
        calls = read_table(output, "llm_calls", job_id=job_id)
    except Exception:  # nothing recorded yet
        return 0, 0.0
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
        "columns_json": json.dumps(
            [{"name": c.name, "type": c.type, "depends_on": list(c.depends_on)} for c in job.columns.values()]
        ),
        "rows": len(job.rows),
        "cells": len(job.rows) * len(job.columns),
        "created_at": created,
        "updated_at": datetime.now(timezone.utc),
        "trawl_version": TRAWL_VERSION,
    }


def _cache_views(job, llm_settings, llm_cache_dir: str, search_cache_dir: str):
    """Read-only views of the gateways' caches for the driver (same folders, on this node, where the gateways run).

    A call either view can answer never reaches a gateway actor; a re-run of a
    job is mostly such calls. Any problem opening them just means no fast path.
    """
    llm_view = search_view = None
    try:
        llm_view = CacheReader(llm_settings, llm_cache_dir)
    except Exception:  # noqa: BLE001
        pass
    try:
        search_view = SearchGateway(job.search, cache_dir=search_cache_dir)
    except Exception:  # noqa: BLE001
        pass
    return llm_view, search_view


def _extract_store(job, state_dir: str) -> ExtractedStore:
    """Extracted pages next to the page store, under the page store's TTL."""
    return ExtractedStore(os.path.join(state_dir, "extracted"), chunk_chars=job.research.chunk_chars,
                          ttl_s=knob(job.fetch, "page_store_ttl_s"))


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
    """
    connection = connect(address, dashboard=dashboard, job_id=job.job_id)
    # A URI output (s3://bucket/prefix) is written by the writer through pyarrow; caches and the
    # page store then stay on local disk of the node that uses them.
    output = job.output if is_uri(job.output) else os.path.abspath(job.output)
    state_dir = local_state_dir(output)
    os.makedirs(state_dir, exist_ok=True)
    run_id = f"{mode}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"

    statuses, answers = previous_state(output, job.job_id) if mode != "run" else ({}, {})
    rerun = cells_to_rerun(job, statuses, selector) if mode == "rerun" and selector else set()
    dag, skipped = build_dag(job, statuses if mode != "run" else None, rerun)
    for row, column in rerun:
        answers.get(row, {}).pop(column, None)

    # Problems a worker would only hit later are reported before anything starts: missing API keys, bad fetch settings.
    llm_settings = resolve_settings(job.llm, providers_file)
    check_api_keys(llm_settings)
    problems = fetch_settings_problems(job.fetch)
    if problems:
        raise SpecError(problems)
    writer = start_writer(output, job_id=job.job_id)
    created = datetime.now(timezone.utc)
    ray.get(writer.append.remote("jobs", [_job_record(job, "running", created)]))
    cache_root = os.path.join(state_dir, "cache")
    llm_cache_dir = job.llm.cache_dir or os.path.join(cache_root, "llm")
    spent = _spent(output, job.job_id) if mode != "run" else (0, 0.0)  # a resumed job's budget counts earlier runs

    def start_workers():
        """The gateways and fetchers (with warm extraction workers: see drive), started on the first cache miss.

        A first run misses at once (its first keyword expansion), so nothing
        waits longer than it would have; a re-run that its caches and stores
        answer entirely never starts them.
        """
        llm = start_llm_gateway(  # the settings resolved (profile read, keys checked) before anything started
            llm_settings, budget=job.budget, writer=writer_name(job.job_id),
            cache_dir=llm_cache_dir, name=f"trawl.llm_gateway[{job.job_id}]",
            spent={job.job_id: spent} if spent[0] or spent[1] else None,
        )
        search = start_search_gateway(
            job.search, writer=writer_name(job.job_id), cache_dir=os.path.join(cache_root, "search"),
            name=f"trawl.search_gateway[{job.job_id}]",
        )
        fetchers = FetcherPool(job.fetch, page_store_dir=os.path.join(state_dir, "page-store"), job_id=job.job_id)
        workers.update(llm=llm, search=search, fetchers=fetchers)
        return llm, search, fetchers

    workers: dict = {}
    if eager:
        start_workers()
    progress = Progress()
    metrics = JobMetrics(job.job_id, progress)
    started = time.time()
    interrupted = False

    async def drive() -> None:
        batcher = ExtractBatcher(job_id=job.job_id, chunk_chars=job.research.chunk_chars,
                                 batch_size=job.run.extract_batch_size, warm_up=eager)
        llm_cache, search_cache = _cache_views(job, llm_settings, llm_cache_dir, os.path.join(cache_root, "search"))

        def start_on_first_miss():
            handles = start_workers()
            # after the fetchers: Ray's SPREAD skips nodes whose CPUs the warm-up tasks already hold
            batcher.warm_up()
            return handles

        services = RayServices(
            job_id=job.job_id, llm_gateway=workers.get("llm"), search_gateway=workers.get("search"),
            fetchers=workers.get("fetchers"), start_workers=None if eager else start_on_first_miss, writer=writer,
            batcher=batcher, progress=progress, metrics=metrics, llm_cache=llm_cache, search_cache=search_cache,
            extracted=_extract_store(job, state_dir), host_allowed=AddressGuard(job.fetch.allow_hosts).host_allowed,
        )
        try:
            await run_cells(
                job, services, dag, answers=answers, skipped=skipped, run_id=run_id, progress=progress,
                max_in_flight=job.run.max_cells_in_flight, cell_timeout_s=job.run.cell_timeout_s,
            )
        finally:
            await services.drain()
            await batcher.aclose()
            for view in (llm_cache, search_cache):
                if view is not None:
                    await view.aclose()

    view = on_start(progress, connection) if on_start else None
    try:
        with sigterm_as_interrupt(), (view if view is not None else contextlib.nullcontext()):
            asyncio.run(drive())
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the cells in flight are abandoned, resume recomputes them
        interrupted = True
        quiet_abandoned_calls()
    finally:
        final_status = "interrupted" if interrupted else "done"
        gateways = [workers[k] for k in ("llm", "search") if k in workers]
        try:
            for gateway in gateways:  # their telemetry records must reach the writer before it closes
                try:
                    ray.get(gateway.flush.remote(), timeout=30)
                except Exception:  # an older gateway without flush(), or one that died: its records are best effort
                    pass
            ray.get(writer.append.remote("jobs", [_job_record(job, final_status, created)]))
            ray.get(writer.close.remote())
        finally:
            for handle in [*gateways, writer]:
                ray.kill(handle, no_restart=True)
            if "fetchers" in workers:
                workers["fetchers"].kill()

    final, _ = previous_state(output, job.job_id)
    counts: dict[str, int] = {}
    for status in final.values():
        counts[status] = counts.get(status, 0) + 1
    return RunResult(
        job_id=job.job_id, run_id=run_id, mode=mode, output=output, progress=progress,
        wall_s=time.time() - started, connection=connection, statuses=counts, interrupted=interrupted,
    )
