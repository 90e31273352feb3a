"""Shared pieces of trawl's benchmarks: machine facts, the benchmark world and job, Ray, memory sampling, results.

Every benchmark script starts ONE local world and ONE Ray instance
(``ray.init(num_cpus=2)`` unless told otherwise), runs trawl and whatever it is
compared with against the same world in the same process, and writes
``benchmarks/results/<name>.json`` plus ``<name>.md`` (a short table that
BENCHMARKS.md quotes). Ratios measured in one run are what to trust on a
shared machine; absolute seconds move with the load (``machine.loadavg``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from pipelines.world.corpus import Corpus  # noqa: E402
from pipelines.world.process import DEFAULT_COLUMNS  # noqa: E402
from pipelines.world.truth import COLUMN_TRUTH, load_truth, score_answer, score_results  # noqa: E402

__all__ = [
    "ROOT", "RESULTS_DIR", "BENCH_COLUMNS", "EXTRA_TRUTH", "machine_info", "start_ray", "bench_spec", "run_trawl",
    "run_trawl_timed", "cells_of", "llm_calls_of", "score_cells", "MemorySampler", "CPUAccounting", "write_results", "markdown_table",
    "critical_path",
]

RESULTS_DIR = ROOT / "benchmarks" / "results"

# The demo's 7 questions about planted facts, plus 3 more; four of the ten depend on `ceo` (DAG depth 2).
BENCH_COLUMNS: dict[str, dict] = {
    **json.loads(json.dumps(DEFAULT_COLUMNS)),
    "ceo_since": {"question": "In what year did {ceo} become CEO of {company}?", "type": "integer", "depends_on": ["ceo"]},
    "former_ceo": {"question": "Who was the CEO of {company} before {ceo}?", "type": "text", "depends_on": ["ceo"]},
    "cto": {"question": "Who is the CTO of {company}?", "type": "text"},
}
# Ground truth of the 3 extra columns, read from the corpus (harness only; the pipeline never sees it).
EXTRA_TRUTH = {"ceo_since": ("ceo_since", "year"), "former_ceo": ("former_ceo", "person"), "cto": ("cto", "person")}


def machine_info() -> dict:
    import ray

    mem = psutil.virtual_memory()
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cores": os.cpu_count(),
        "memory_gib": round(mem.total / 2**30, 1),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "ray": ray.__version__,
        "platform": platform.platform(),
    }


def start_ray(num_cpus: int = 2, runtime_env: dict | None = None) -> None:
    """The one Ray instance of a benchmark run (run_job reuses an initialized Ray); ``runtime_env``: the job's."""
    import ray

    if not ray.is_initialized():
        # address="local": always a fresh instance of our own, never a cluster someone else started on this machine.
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                 namespace="trawl", runtime_env=runtime_env)


def bench_spec(world, *, rows: list[dict], columns: dict | None = None, output: str, name: str = "bench",
               research: dict | None = None, fetch: dict | None = None, llm_provider: dict | None = None,
               search_provider: dict | None = None, run: dict | None = None) -> dict:
    """A job spec over ``world`` with benchmark overrides merged into the world's defaults."""
    spec = world.job_spec(columns=columns if columns is not None else json.loads(json.dumps(BENCH_COLUMNS)),
                          rows=rows, output=output, name=name)
    spec["research"].update(research or {})
    spec["fetch"].update(fetch or {})
    spec["llm"]["providers"][0].update(llm_provider or {})
    spec["search"]["providers"][0].update(search_provider or {})
    if run:
        spec["run"] = dict(run)
    if RUN_OVERRIDES:
        spec["run"] = {**spec.get("run", {}), **RUN_OVERRIDES}
    return spec


# run.* settings every bench_spec of this process gets (``--research-workers`` of the scripts that take it)
RUN_OVERRIDES: dict = {}


def add_design_arg(parser) -> None:
    """``--research-workers N`` (0: the cell workflow in the driver, the design before research workers)."""
    parser.add_argument("--research-workers", type=int, default=None,
                        help="run.research_workers for every job of this run (default: the setting's default; "
                             "0: research in the driver, the design before research workers).")


def apply_design(args) -> str:
    """Apply ``--research-workers`` to every later ``bench_spec``; returns a label for the results."""
    if args.research_workers is not None:
        RUN_OVERRIDES["research_workers"] = args.research_workers
        return f"research_workers={args.research_workers}"
    return "research_workers=default"


def run_trawl(spec: dict, *, mode: str = "run"):
    """Parse ``spec`` and run it with ``run_job`` on the already started Ray; returns (RunResult, seconds)."""
    from cluster.runner import run_job
    from pipelines.spec import parse_job

    job = parse_job(spec, base_dir=ROOT)
    started = time.perf_counter()
    result = run_job(job, mode=mode, dashboard=False)
    return result, time.perf_counter() - started


class _StartupClock:
    """run_job's ``on_start`` hook: wait until every actor of the job answers and the extraction workers are warm.

    Without this hook, run_job starts researching while its actors and
    extraction workers are still starting, and they start concurrently; the
    hook only makes the boundary measurable: start-up = everything the job
    starts, research = the rest.
    """

    def __init__(self, wait: bool = True) -> None:
        self.wait = wait
        self.called_at = None
        self.ready_at = None

    def __call__(self, progress, connection):
        import ray

        self.called_at = time.perf_counter()
        if not self.wait:  # lazy workers: they start inside research, on the first miss
            self.ready_at = self.called_at
            return contextlib.nullcontext()
        handles = []
        for info in ray.util.list_named_actors(all_namespaces=True):
            name, namespace = info["name"], info["namespace"]
            if name.startswith("trawl."):
                with contextlib.suppress(ValueError):
                    handles.append(ray.get_actor(name, namespace=namespace))
        from actors.extract import warm_up_extraction

        # a research worker is ready once its warm-up (imports, Public Suffix List) is done: its ``ready`` says so
        ray.get([h.ready.remote() if hasattr(h, "ready") else h.__ray_ready__.remote() for h in handles]
                + warm_up_extraction(), timeout=120)
        self.ready_at = time.perf_counter()
        return contextlib.nullcontext()


def run_trawl_timed(spec: dict, *, mode: str = "run", eager: bool = True) -> dict:
    """Run ``spec`` with run_job; wall time split into actor start-up and research (see ``_StartupClock``).

    ``eager`` (the default here) starts the gateways, fetchers and extraction
    workers before research so start-up is timed apart; ``eager=False`` is
    what ``trawl run`` does (start them on the first cache miss), and then
    start-up is only the writer and research includes the rest.
    """
    from cluster.runner import run_job
    from pipelines.spec import parse_job

    job = parse_job(spec, base_dir=ROOT)
    clock = _StartupClock(wait=eager)
    started_epoch, started = time.time(), time.perf_counter()
    result = run_job(job, mode=mode, dashboard=False, on_start=clock, eager=eager)
    wall = time.perf_counter() - started
    startup = (clock.ready_at or started) - started
    counters = result.progress.counters
    return {"wall_s": round(wall, 3), "startup_s": round(startup, 3), "research_s": round(wall - startup, 3),
            "statuses": result.statuses, "llm_calls": counters.get("llm_calls", 0), "pages": counters.get("pages_ok", 0),
            "page_fan_in": counters.get("page_fan_in", 0), "searches": counters.get("searches", 0),
            "cells": cells_of(result.output, result.job_id), "job_id": result.job_id, "output": result.output,
            "started_epoch": started_epoch, "counters": dict(counters)}


def cells_of(output: str, job_id: str) -> list[dict]:
    from pipelines.store.reader import read_table

    return read_table(output, "cells", job_id=job_id).to_pylist()


def llm_calls_of(output: str, job_id: str) -> list[dict]:
    from pipelines.store.reader import read_table

    try:
        return read_table(output, "llm_calls", job_id=job_id).to_pylist()
    except Exception:  # noqa: BLE001 - no LLM call recorded yet
        return []


def score_cells(cells: list[dict], world) -> dict:
    """Accuracy on the planted facts: the 7 standard columns by ``score_results``, the extra ones from the corpus."""
    truth = load_truth(world.ground_truth_path)
    present = {c["column"] for c in cells}
    std = score_results(cells, truth, {k: v for k, v in COLUMN_TRUTH.items() if k in present}) if present & set(COLUMN_TRUTH) else None
    corpus = Corpus(world.config.seed, world.config.companies)
    by_name = {c.name: c for c in corpus.companies}
    correct = total = 0
    misses = list(std["misses"]) if std else []
    for cell in cells:
        spec = EXTRA_TRUTH.get(cell["column"])
        company = by_name.get(cell["row_key"])
        if spec is None or company is None:
            continue
        expected = getattr(company, spec[0])
        ok = score_answer(spec[1], cell.get("answer"), expected)
        total += 1
        correct += int(ok)
        if not ok:
            misses.append({"company": cell["row_key"], "column": cell["column"], "answer": cell.get("answer"), "truth": expected})
    if std:
        correct += std["overall"]["correct"]
        total += std["overall"]["total"]
    return {"correct": correct, "total": total, "accuracy": round(correct / total, 4) if total else 0.0, "misses": misses[:20]}


def critical_path(columns: dict, *, llm_s: float, search_s: float, page_s: float, extra_s: float = 0.0) -> dict:
    """Depth of the column DAG x (expand + search + page + judge + summarize), plus justified extras."""
    depth: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in depth:
            deps = columns[name].get("depends_on") or []
            depth[name] = 1 + max((level(d) for d in deps), default=0)
        return depth[name]

    levels = max(level(c) for c in columns)
    per_level = llm_s + search_s + page_s + llm_s + llm_s
    return {"levels": levels, "per_level_s": round(per_level, 3), "pure_s": round(levels * per_level, 3),
            "extra_s": round(extra_s, 3), "total_s": round(levels * per_level + extra_s, 3)}


class MemorySampler:
    """Samples the driver's RSS (psutil) and the object store's used bytes (raylet store stats) in a thread."""

    def __init__(self, interval_s: float = 0.5, object_store: bool = True) -> None:
        self.interval_s = interval_s
        self.object_store = object_store
        self.driver_peak = 0
        self.store_peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory-sampler", daemon=True)
        self._state = None

    def _store_used(self) -> int | None:
        if not self.object_store:
            return None
        try:
            from ray._private import internal_api

            if self._state is None:
                import ray

                self._state = internal_api.get_state_from_address(ray.get_runtime_context().gcs_address)
            reply = internal_api.get_memory_info_reply(self._state, timeout_seconds=10)
            return int(reply.store_stats.object_store_bytes_used)
        except Exception:  # noqa: BLE001 - a private API; a missed sample is fine
            return None

    def sample(self) -> None:
        self.driver_peak = max(self.driver_peak, psutil.Process().memory_info().rss)
        used = self._store_used()
        if used is not None:
            self.store_peak = max(self.store_peak, used)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        self.sample()

    def result(self) -> dict:
        return {"driver_peak_rss_mib": round(self.driver_peak / 2**20, 1),
                "object_store_peak_used_mib": round(self.store_peak / 2**20, 2), "samples": self.samples}


_VAGUE = ("ray_idle", "ray_worker_starting")
_ACTOR_CLASSES = {"LLMGatewayActor": "llm_gateway", "SearchGatewayActor": "search_gateway", "FetcherActor": "fetcher",
                  "WriterActor": "writer", "ResearchWorker": "research", "QuotaActor": "quota", "RendererActor": "renderer"}
# trawl's own processes besides extraction (issue 16's "CPU per page outside extraction"); Ray's and the world's are not
TRAWL_OUTSIDE_EXTRACTION = ("driver", "ray_research", "ray_fetcher", "ray_writer", "ray_quota", "ray_llm_gateway",
                            "ray_search_gateway", "ray_renderer")


def _process_group(proc: psutil.Process, driver_pid: int) -> str:
    if proc.pid == driver_pid:
        return "driver"
    try:
        cmd = " ".join(proc.cmdline())
    except (psutil.Error, OSError):
        return "other"
    for server in ("site", "search", "llm"):
        if f"pipelines.world.{server}_server" in cmd:
            return f"world_{server}"
    if cmd.startswith("ray::"):
        title = cmd.split()[0][5:]
        if title.startswith(("extract", "_warm_extraction")):
            return "ray_extract"
        if title == "IDLE":
            return "ray_idle"
        if title.startswith("trawl."):  # a named trawl actor: trawl.llm_gateway[job], trawl.fetcher[2]...
            return "ray_" + title[len("trawl."):].split("[")[0]
        name = title.split(".")[0].lstrip("_")  # the same actors before Ray names their process
        return "ray_" + _ACTOR_CLASSES.get(name, name)
    if "default_worker.py" in cmd:
        return "ray_worker_starting"
    for name in ("raylet", "gcs_server", "dashboard", "log_monitor", "monitor", "runtime_env"):
        if name in cmd:
            return f"ray_system_{name}"
    return f"other:{os.path.basename(cmd.split()[0]) if cmd else '?'}"


class CPUAccounting:
    """CPU seconds used by this process and its descendants (Ray, the world's servers), grouped by role.

    Sampled in a thread because actors' processes end with the job: the last
    sample of a process is what it is credited with. A Ray worker that ran
    extraction tasks is credited to ``ray_extract`` from then on.
    """

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self.root = psutil.Process()
        self._base: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._group: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cpu-accounting", daemon=True)

    def _procs(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return [self.root]

    def sample(self, baseline: bool = False) -> None:
        for proc in self._procs():
            try:
                t = proc.cpu_times()
                used = t.user + t.system
            except (psutil.Error, OSError):
                continue
            if baseline:
                self._base[proc.pid] = used
            else:
                self._base.setdefault(proc.pid, 0.0)
            self._last[proc.pid] = used
            group = _process_group(proc, self.root.pid)
            known = self._group.get(proc.pid)
            # A worker's title changes (IDLE, a task's name) and a dying process loses its command line: keep
            # the first specific role seen, except that running an extraction task makes a worker an extractor.
            if known is None or known in _VAGUE or known.startswith("other") or group == "ray_extract":
                if not (known and group.startswith("other")):
                    self._group[proc.pid] = group

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> CPUAccounting:
        self.started = time.perf_counter()
        self.sample(baseline=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        self.sample()
        self.wall_s = time.perf_counter() - self.started

    def result(self) -> dict:
        groups: dict[str, float] = {}
        for pid, last in self._last.items():
            group = self._group.get(pid, "other")
            groups[group] = groups.get(group, 0.0) + max(0.0, last - self._base.get(pid, 0.0))
        total = sum(groups.values())
        return {"cpu_s_total": round(total, 2), "wall_s": round(self.wall_s, 2),
                "cores_busy": round(total / self.wall_s, 2) if self.wall_s else None,
                "cpu_s_by_group": {k: round(v, 2) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}}


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, data: dict, markdown: str, results_dir: str | os.PathLike | None = None,
                  command: str | None = None) -> Path:
    """``<results_dir>/<name>.json`` and ``<name>.md``; returns the JSON path."""
    out = Path(results_dir) if results_dir else RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    m = data.get("machine", {})
    command = command or "benchmarks/" + " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]])
    data.setdefault("command", command)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")
    header = (f"<!-- written by: .venv/bin/python {command} -->\nMachine: {m.get('cores')} cores, {m.get('memory_gib')} GiB, "
              f"load {m.get('loadavg_1_5_15')}, {m.get('date_utc')}, Ray {m.get('ray')}\n\n")
    (out / f"{name}.md").write_text(header + markdown.strip() + "\n")
    return path
