"""Steady progress: how soon cells finish, with the gateways' queues in FIFO order and in priority order.

20 companies x the demo's 7 columns (140 cells, DAG depth 2) against the
local world with LLM latency 1 s per call (search 0.3 s, page 0.2 s), default
limits (LLM provider max_concurrency 32, search 8, 64 cells in flight). The
same job runs once per queue order in the same process, against the same
world, each into a fresh output folder (nothing cached between runs):

- ``fifo``: every waiter of a gateway's concurrency slot in arrival order (the
  order before issue 16);
- ``priority``: later stage first, then the older cell (``pipelines.priority``).

Reported per run, over the research time (wall minus actor start-up, see
``benchmarks.harness.run_trawl_timed``): seconds to the first finished cell,
the share of cells finished at 25 % and 50 % of the research time, the
research seconds and cells per second (throughput must not drop), accuracy.

    .venv/bin/python benchmarks/progress.py                       # ~3 min on 2 cores
    .venv/bin/python benchmarks/progress.py --llm-latency 0.05 --name progress_low_latency
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import bench_spec, machine_info, markdown_table, run_trawl_timed, score_cells, start_ray, write_results  # noqa: E402

ORDERS = ("fifo", "priority")


def progress_curve(cells: list[dict], research_started_epoch: float, research_s: float) -> dict:
    """Time to the first finished cell and the share finished at 25/50/75 % of ``research_s``.

    ``cells``: rows of the ``cells`` table (``finished_at`` timezone-aware datetimes);
    ``research_started_epoch``: ``time.time()`` when research began. Seconds are
    relative to that moment; a share is done cells over all cells.
    """
    done = sorted(_epoch(c["finished_at"]) - research_started_epoch for c in cells if c["status"] == "done")
    total = len(cells) or 1

    def share_at(fraction: float) -> float:
        return round(sum(t <= fraction * research_s for t in done) / total, 3)

    return {"first_cell_s": round(done[0], 2) if done else None, "share_at_25": share_at(0.25),
            "share_at_50": share_at(0.5), "share_at_75": share_at(0.75), "done": len(done), "cells": len(cells)}


def _epoch(value) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=20, help="Rows: companies of the world.")
    parser.add_argument("--llm-latency", type=float, default=1.0)
    parser.add_argument("--search-latency", type=float, default=0.3)
    parser.add_argument("--page-latency", type=float, default=0.2)
    parser.add_argument("--llm-rpm", type=int, default=None, help="Requests per minute of the LLM provider (default: none).")
    parser.add_argument("--research-workers", type=int, default=None,
                        help="run.research_workers (default: trawl's; 0 researches in the driver).")
    parser.add_argument("--order", action="append", choices=ORDERS, default=None,
                        help="Queue order(s) to run, in this order (default: fifo, then priority).")
    parser.add_argument("--results-dir", default=None, help="Where to write the results (default benchmarks/results).")
    parser.add_argument("--name", default="progress", help="Results file name (without extension).")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from pipelines.world import WorldConfig, start_world

    orders = args.order or list(ORDERS)
    start_ray()
    machine = machine_info()
    config = WorldConfig(companies=args.companies, seed=args.seed, llm_latency_s=args.llm_latency,
                         search_latency_s=args.search_latency, site_latency_s=args.page_latency)
    runs: dict[str, dict] = {}
    with start_world(config) as world, tempfile.TemporaryDirectory(prefix="trawl-bench-progress-") as tmp:
        for order in orders:
            spec = bench_spec(world, rows=[dict(r) for r in world.companies], columns=None, output=os.path.join(tmp, order),
                              name=f"progress-{order}")
            spec["columns"] = world.job_spec()["columns"]  # the demo's 7 questions
            spec["llm"]["queue_order"] = order
            spec["search"]["queue_order"] = order
            if args.llm_rpm:
                spec["llm"]["providers"][0]["rpm"] = args.llm_rpm
            if args.research_workers is not None:
                spec.setdefault("run", {})["research_workers"] = args.research_workers
            run = run_trawl_timed(spec)
            curve = progress_curve(run["cells"], run["started_epoch"] + run["startup_s"], run["research_s"])
            runs[order] = {"wall_s": run["wall_s"], "startup_s": run["startup_s"], "research_s": run["research_s"],
                           "cells_per_s": round(len(run["cells"]) / run["research_s"], 2) if run["research_s"] else None,
                           "llm_calls": run["llm_calls"], "pages": run["pages"], **curve,
                           "accuracy": score_cells(run["cells"], world)}
    data = {"benchmark": "progress", "machine": machine, "config": config.model_dump(include={
        "companies", "seed", "llm_latency_s", "search_latency_s", "site_latency_s"}), "llm_rpm": args.llm_rpm,
        "research_workers": args.research_workers, "runs": runs}
    table = markdown_table(
        ["queue order", "first cell s", "done at 25 %", "done at 50 %", "done at 75 %", "research s", "cells/s",
         "wall s", "LLM calls", "accuracy"],
        [[order, r["first_cell_s"], f"{r['share_at_25']:.0%}", f"{r['share_at_50']:.0%}", f"{r['share_at_75']:.0%}",
          r["research_s"], r["cells_per_s"], r["wall_s"], r["llm_calls"],
          f"{r['accuracy']['correct']}/{r['accuracy']['total']}"] for order, r in runs.items()])
    rpm = f", rpm {args.llm_rpm}" if args.llm_rpm else ""
    rpm += f", research_workers {args.research_workers}" if args.research_workers is not None else ""
    md = (f"{args.companies} companies x 7 columns; LLM {args.llm_latency} s{rpm}, search {args.search_latency} s, "
          f"page {args.page_latency} s; default limits (LLM 32 in flight, search 8, 64 cells in flight).\n"
          f"Shares are of all cells, at that fraction of the run's own research time.\n\n{table}\n")
    write_results(args.name, data, md, args.results_dir)
    print(md)
    return data


if __name__ == "__main__":
    main()
