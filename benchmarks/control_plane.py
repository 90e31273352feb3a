"""Control plane: the driver and the central actors against zero-latency stub services, for a fixed time.

Issue 16 ("Scale-out") moves the cell workflow out of the driver into research
workers. This measures what bounds a job when the outside world is
infinitely fast: the CPU that trawl's own central processes spend per cell.

- Stub services (``benchmarks/control_plane_stubs.py``), installed in the
  driver and, through Ray's ``worker_process_setup_hook``, in every Ray
  worker: the LLM provider client, the search adapter and fetch+extraction
  answer at once. Everything above them (gateways with cache, limits, budget
  and records; page fan-in; the extract store; the writer) is real. The
  caches start empty (a fresh output folder), so every call misses.
- The job: 10,000 rows x 1 column (``ceo``), 4 keywords x 10 results, up to
  12 pages per cell, 3 chunks per page shown to the judge: 14 LLM calls,
  4 searches and 12 pages per cell. Research runs until its first cell is
  done, then ``--warmup`` seconds more, then
  the steady window of ``--seconds`` is measured, then the run is
  interrupted like Ctrl-C (SIGINT; the runner records the job as interrupted).
- In the window: cells/s and LLM calls/s (from the job's own ``cells`` and
  ``llm_calls`` tables, by timestamp), and CPU seconds per process group
  (``harness.CPUAccounting``: driver, ``ray::`` actors by class or name;
  the CPU of this script's own measuring threads is taken off the driver).
  For each central process (driver, writer, gateways, any other single
  actor, GCS): CPU ms per cell and its ceiling, 1 / (CPU s per cell), the
  cells/s it could carry on one whole core. The job's ceiling is the lowest.

``--research-workers 0`` is today's design (the workflow in the driver);
``--research-workers N`` (or the setting's default, None) the new one;
``--both`` runs both in one invocation and prints the ratio of ceilings.

    .venv/bin/python benchmarks/control_plane.py --research-workers 0          # ~1.5 min
    .venv/bin/python benchmarks/control_plane.py --both --seconds 30
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time

import psutil

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import ROOT, CPUAccounting, machine_info, markdown_table, start_ray, write_results  # noqa: E402

# Ray imports this in every worker process of the job before it runs anything (RuntimeEnv.worker_process_setup_hook).
SETUP_HOOK = "benchmarks.control_plane_stubs.install"
# Process groups with one or more per node (they scale out with the cluster): not central.
PER_NODE_GROUPS = ("ray_research", "ray_ResearchWorker", "ray_DashboardAgent", "ray_RuntimeEnvAgent", "ray_fetcher", "ray_extract", "ray_idle", "ray_worker_starting", "ray_renderer",
                   "ray_python", "ray_system_raylet", "ray_system_runtime_env", "ray_system_log_monitor",
                   "ray_system_dashboard")
# Ray processes that exist once per cluster (the GCS answers every actor lookup and placement).
CENTRAL_SYSTEM_GROUPS = ("ray_system_gcs_server", "ray_system_monitor")
# The window ends early once this share of the job is done: the DAG's tail has fewer cells in flight.
STOP_FRACTION = 0.9
# CPUAccounting's sampling interval: no process of the job ends inside the window, so few samples suffice, and
# each one costs the driver's process CPU (subtracted from the driver anyway, see SteadyWindow).
CPU_SAMPLE_S = 5.0
# How long the window waits for a first finished cell before it starts counting the warm-up anyway.
FIRST_CELL_WAIT_S = 120.0
# A stub host no request ever reaches (port 9, discard): a call that escaped the stubs fails loudly.
NOWHERE = "http://127.0.0.1:9"


def control_spec(rows: int, output: str, *, research_workers: int | None, max_cells_in_flight: int | None,
                 cache: bool = True) -> dict:
    """The benchmark's job: ``rows`` synthetic companies x the ``ceo`` column, against the stub providers."""
    run: dict = {"research_workers": research_workers}
    if max_cells_in_flight is not None:
        run["max_cells_in_flight"] = max_cells_in_flight
    return {
        "name": "control-plane",
        "key": "company",
        "rows": [{"company": f"Stubco {i:05d}"} for i in range(1, rows + 1)],
        "columns": {"ceo": {"question": "Who is the CEO of {company}?", "type": "text"}},
        "research": {"keywords_per_cell": 4, "results_per_keyword": 10, "max_pages_per_cell": 12, "chunks_per_page": 3},
        "llm": {"cache": cache, "providers": [{
            "name": "stub", "base_url": f"{NOWHERE}/v1", "model": "gpt-4o-mini", "max_concurrency": 256,
            "price_input_per_m": 0.15, "price_output_per_m": 0.6}]},
        "search": {"cache": cache, "providers": [{"name": "stub", "kind": "searxng", "base_url": NOWHERE,
                                                  "max_concurrency": 256}]},
        "run": run,
        "output": output,
    }


class SteadyWindow:
    """``run_job``'s ``on_start`` hook: ``warmup_s`` after the first finished cell, measure ``seconds``, then interrupt.

    The measurement runs in a thread: CPU by process group over the window
    (``CPUAccounting``) and the wall-clock bounds ``t0``/``t1`` (epoch seconds)
    that the job's tables are counted between. The interrupt is SIGINT to this
    process, which the runner handles as Ctrl-C; it is never sent once the run
    has left the hook's context (the job finished first).
    """

    def __init__(self, *, warmup_s: float, seconds: float, total_cells: int, cpu_interval_s: float = CPU_SAMPLE_S) -> None:
        self.warmup_s, self.seconds, self.total_cells, self.cpu_interval_s = warmup_s, seconds, total_cells, cpu_interval_s
        self.t0 = self.t1 = None
        self.cpu: dict | None = None
        self.progress = None
        self.interrupted = False
        self.overhead_cpu_s = 0.0
        self.research_started = self.first_cell_at = 0.0
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._measure, name="bench-steady-window", daemon=True)

    def __call__(self, progress, connection):
        self.progress, self.research_started = progress, time.time()
        self._thread.start()
        return self

    def __enter__(self) -> SteadyWindow:
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._done.set()
        self._thread.join(timeout=60)

    def _cells_done(self) -> int:
        return sum(self.progress.cells.values()) if self.progress is not None else 0

    def _measure(self) -> None:
        # Warm-up counts from the first finished cell: actor and worker start-up before it varies with the machine's load.
        first_cell_deadline = time.perf_counter() + FIRST_CELL_WAIT_S
        while self._cells_done() == 0 and time.perf_counter() < first_cell_deadline:
            if self._done.wait(0.1):
                return
        self.first_cell_at = time.time()
        if self._done.wait(self.warmup_s):
            return  # the job ended before its steady state
        own_cpu = time.thread_time()
        with CPUAccounting(interval_s=self.cpu_interval_s) as cpu:
            self.t0 = time.time()
            deadline = time.perf_counter() + self.seconds
            while (not self._done.wait(0.5) and time.perf_counter() < deadline
                   and self._cells_done() < STOP_FRACTION * self.total_cells):
                pass
            self.t1 = time.time()
            sampler_cpu = _thread_cpu_s(cpu._thread.native_id)
        self.cpu = cpu.result()
        self.overhead_cpu_s = round(time.thread_time() - own_cpu + sampler_cpu, 3)
        by_group = self.cpu["cpu_s_by_group"]  # the driver's CPU without this measurement's own threads
        by_group["driver"] = round(max(0.0, by_group.get("driver", 0.0) - self.overhead_cpu_s), 2)
        with self._lock:
            if not self._done.is_set():
                self.interrupted = True
                os.kill(os.getpid(), signal.SIGINT)


def _thread_cpu_s(native_id: int | None) -> float:
    """CPU seconds a thread of this process has used (psutil's per-thread times; 0.0 when it is gone)."""
    for thread in psutil.Process().threads():
        if thread.id == native_id:
            return thread.user_time + thread.system_time
    return 0.0


def _in_window(rows: list[dict], column: str, t0: float, t1: float) -> list[dict]:
    return [r for r in rows if r.get(column) is not None and t0 <= r[column].timestamp() < t1]


def window_counts(output: str, job_id: str, t0: float, t1: float) -> dict:
    """Cells finished, LLM calls and searches started in [t0, t1), read from the job's tables."""
    from benchmarks.control_plane_stubs import STUB_MODEL_PREFIX
    from pipelines.store.reader import read_table

    def table(name: str, columns: list[str]) -> list[dict]:
        try:
            return read_table(output, name, job_id=job_id).select(columns).to_pylist()
        except Exception:  # noqa: BLE001 - a table nothing was written to yet
            return []

    cells = _in_window(table("cells", ["status", "reason", "finished_at"]), "finished_at", t0, t1)
    calls = _in_window(table("llm_calls", ["started_at", "cache_hit", "gen_ai.response.model"]), "started_at", t0, t1)
    searches = _in_window(table("search_calls", ["started_at", "cache_hit"]), "started_at", t0, t1)
    statuses: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for c in cells:
        statuses[c["status"]] = statuses.get(c["status"], 0) + 1
        if c["reason"]:
            reasons[c["reason"]] = reasons.get(c["reason"], 0) + 1
    stubbed = sum(str(c["gen_ai.response.model"] or "").startswith(STUB_MODEL_PREFIX) for c in calls)
    return {"cells": len(cells), "statuses": statuses, "reasons": reasons, "llm_calls": len(calls),
            "llm_cache_hits": sum(bool(c["cache_hit"]) for c in calls), "llm_calls_stubbed": stubbed,
            "searches": len(searches), "search_cache_hits": sum(bool(s["cache_hit"]) for s in searches)}


def is_central(group: str) -> bool:
    """One per cluster (bounds the job however many nodes there are), as opposed to per node or scaled out."""
    if group in CENTRAL_SYSTEM_GROUPS or group == "driver":
        return True
    return group.startswith("ray_") and not group.startswith("ray_system_") and not group.startswith(PER_NODE_GROUPS)


def process_rows(cpu_by_group: dict[str, float], cells: int) -> list[dict]:
    """Per process group: CPU s in the window, CPU ms per cell and the ceiling (cells/s on one whole core)."""
    rows = []
    for group, cpu_s in cpu_by_group.items():
        per_cell = cpu_s / cells if cells else None
        rows.append({"group": group, "central": is_central(group), "cpu_s": round(cpu_s, 2),
                     "cpu_ms_per_cell": round(per_cell * 1000, 3) if per_cell is not None else None,
                     "ceiling_cells_per_s": round(1 / per_cell, 1) if per_cell else None})
    return sorted(rows, key=lambda r: (not r["central"], -r["cpu_s"]))


def run_design(research_workers: int | None, args, tmp: str) -> dict:
    """Run the job in one design for the window; returns its measurements."""
    from cluster.runner import run_job
    from pipelines.spec import parse_job

    label = f"research_workers={'default' if research_workers is None else research_workers}"
    output = os.path.join(tmp, label.replace("=", "-"))
    spec = control_spec(args.rows, output, research_workers=research_workers, max_cells_in_flight=args.max_cells_in_flight,
                        cache=not args.no_cache)
    job = parse_job(spec, base_dir=ROOT)
    window = SteadyWindow(warmup_s=args.warmup, seconds=args.seconds, total_cells=args.rows)
    started = time.perf_counter()
    result = run_job(job, dashboard=False, on_start=window, eager=True)
    wall = time.perf_counter() - started
    if window.t0 is None or window.cpu is None:
        raise SystemExit(f"{label}: the job ended within the warm-up ({args.warmup} s); use more --rows")
    span = window.t1 - window.t0
    counts = window_counts(result.output, result.job_id, window.t0, window.t1)
    processes = process_rows(window.cpu["cpu_s_by_group"], counts["cells"])
    central = [p for p in processes if p["central"] and p["ceiling_cells_per_s"]]
    bottleneck = min(central, key=lambda p: p["ceiling_cells_per_s"], default=None)
    return {
        "design": "today" if research_workers == 0 else "research workers", "label": label,
        "research_workers": research_workers, "interrupted": result.interrupted, "wall_s": round(wall, 1),
        "first_cell_s": round(window.first_cell_at - window.research_started, 2), "warmup_s": args.warmup,
        "window_s": round(span, 2), **counts,
        "cells_per_s": round(counts["cells"] / span, 2), "llm_calls_per_s": round(counts["llm_calls"] / span, 1),
        "searches_per_s": round(counts["searches"] / span, 1),
        "llm_calls_per_cell": round(counts["llm_calls"] / counts["cells"], 2) if counts["cells"] else None,
        "cores_busy": window.cpu["cores_busy"], "measurement_overhead_cpu_s": window.overhead_cpu_s,
        "processes": processes,
        "ceiling_cells_per_s": bottleneck["ceiling_cells_per_s"] if bottleneck else None,
        "bottleneck": bottleneck["group"] if bottleneck else None,
    }


def design_markdown(run: dict) -> str:
    table = markdown_table(
        ["process group", "central", "CPU s in window", "CPU ms per cell", "ceiling cells/s (1 core)"],
        [[p["group"], "yes" if p["central"] else "per node", p["cpu_s"], p["cpu_ms_per_cell"], p["ceiling_cells_per_s"]]
         for p in run["processes"]])
    return (f"**{run['label']}** ({run['design']}): {run['cells']} cells in a {run['window_s']} s window after "
            f"{run['warmup_s']} s of warm-up (first cell done {run['first_cell_s']} s into research): **{run['cells_per_s']} cells/s**, **{run['llm_calls_per_s']} LLM calls/s** "
            f"({run['llm_calls_per_cell']} per cell), {run['searches_per_s']} searches/s, {run['cores_busy']} cores busy; "
            f"statuses {run['statuses']}.\nJob ceiling: **{run['ceiling_cells_per_s']} cells/s**, set by "
            f"`{run['bottleneck']}`.\n\n{table}\n")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="Rows of the job (1 column each).")
    parser.add_argument("--seconds", type=float, default=30.0, help="Length of the measured steady window.")
    parser.add_argument("--warmup", type=float, default=10.0, help="Seconds from the first finished cell to the window.")
    parser.add_argument("--research-workers", type=int, default=None,
                        help="run.research_workers: 0 = today's design (workflow in the driver); default: the setting's default.")
    parser.add_argument("--both", action="store_true", help="Run research_workers=0, then --research-workers; print the ratio.")
    parser.add_argument("--max-cells-in-flight", type=int, default=None, help="run.max_cells_in_flight (default: the setting's).")
    parser.add_argument("--no-cache", action="store_true", help="LLM and search caches off (default: on, empty).")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--results-dir", default=None)
    args = parser.parse_args(argv)
    designs = [0, args.research_workers] if args.both else [args.research_workers]

    from benchmarks.control_plane_stubs import install

    install()  # the driver: today's design runs the cell workflow here
    # PYTHONPATH: the hook's module must be importable in every worker, wherever Ray starts it.
    start_ray(args.num_cpus, runtime_env={"worker_process_setup_hook": SETUP_HOOK, "env_vars": {"PYTHONPATH": str(ROOT)}})
    machine = machine_info()
    runs = []
    with tempfile.TemporaryDirectory(prefix="trawl-bench-control-") as tmp:
        for research_workers in designs:
            runs.append(run_design(research_workers, args, tmp))
            print(design_markdown(runs[-1]), flush=True)
    data: dict = {"benchmark": "control_plane", "machine": machine, "rows": args.rows, "seconds": args.seconds,
                  "warmup_s": args.warmup, "shape": "1 column (ceo), 4 keywords x 10 results, 12 pages per cell, 3 chunks judged",
                  "runs": runs}
    md = ("Stub LLM, search and pages with zero latency (benchmarks/control_plane_stubs.py); "
          f"{args.rows} rows x 1 column, 4 keywords x 10 results, up to 12 pages per cell.\n\n"
          + "\n".join(design_markdown(r) for r in runs))
    if args.both and all(r["ceiling_cells_per_s"] for r in runs):
        ratio = round(runs[1]["ceiling_cells_per_s"] / runs[0]["ceiling_cells_per_s"], 2)
        data["ceiling_ratio"] = ratio
        md += f"\nCeiling of {runs[1]['label']} over today's: **{ratio}x**.\n"
        print(f"ceiling ratio (new / today): {ratio}x", flush=True)
    write_results("control_plane", data, md, args.results_dir)
    return data


if __name__ == "__main__":
    main()
