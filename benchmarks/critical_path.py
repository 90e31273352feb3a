"""Row latency against the critical path, and trawl against a sequential and an asyncio baseline.

One row x 10 columns (4 of them depend on `ceo`: DAG depth 2) x 4 keywords x
10 results, against the local world with fixed injected latencies (LLM 1.0 s
per call, search 0.3 s, page 0.2 s). The critical path is

    depth x (expand LLM + search + page + judge LLM + summarize LLM) + robots.txt

(the one robots.txt fetch of the row's site precedes its first page; nothing
else is unavoidable: the world's LLM replies parse, so no repair retry
happens). trawl runs twice: with its defaults (real-web politeness and
provider limits) and with limits sized for the local world, whose servers are
ours (per-domain concurrency 16, LLM provider concurrency 256, search 64).
Both baselines (benchmarks/baselines.py) run in the same process against the
same world with the same limits as the tuned trawl run.

trawl's wall time is split into actor start-up (run_job start until every
actor of the job answers) and research (the rest): a one-row job pays the
start-up once; a cluster running many rows pays it once per job. A third
trawl run, ``trawl_lazy``, starts its actors as ``trawl run`` does (on the
first call its caches cannot answer, while the first LLM calls are out) on
the Ray instance the others used: its wall time is the job's on an
already-started cluster.

    .venv/bin/python benchmarks/critical_path.py                 # ~5 min on 2 cores (the sequential baseline is ~3 of them)
    .venv/bin/python benchmarks/critical_path.py --company 1     # a row whose twin site has a robots.txt Crawl-delay
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import BENCH_COLUMNS, add_design_arg, apply_design, bench_spec, critical_path, machine_info, markdown_table, run_trawl_timed, score_cells, start_ray, write_results  # noqa: E402

TUNED = {"fetch": {"per_domain_concurrency": 16}, "llm_provider": {"max_concurrency": 256},
         "search_provider": {"max_concurrency": 64}}


def _columns(n: int) -> dict:
    """The first ``n`` benchmark columns, plus whatever they depend on."""
    names = list(BENCH_COLUMNS)[:n]
    for name in list(names):
        names += [d for d in BENCH_COLUMNS[name].get("depends_on", []) if d not in names]
    return {k: json.loads(json.dumps(BENCH_COLUMNS[k])) for k in BENCH_COLUMNS if k in names}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=5, help="Companies in the world (the row is one of them).")
    parser.add_argument("--company", type=int, default=0, help="Index of the row's company in the world.")
    parser.add_argument("--columns", type=int, default=10, help="First N benchmark columns (dependencies added).")
    parser.add_argument("--llm-latency", type=float, default=1.0)
    parser.add_argument("--search-latency", type=float, default=0.3)
    parser.add_argument("--page-latency", type=float, default=0.2)
    parser.add_argument("--skip", action="append", default=[], choices=["sequential", "asyncio", "defaults", "lazy"],
                        help="Leave out a baseline or the trawl-with-defaults run.")
    parser.add_argument("--results-dir", default=None, help="Where to write the results (default benchmarks/results).")
    parser.add_argument("--name", default="critical_path", help="Results file name (without extension).")
    parser.add_argument("--seed", type=int, default=7)
    add_design_arg(parser)
    args = parser.parse_args(argv)
    design = apply_design(args)

    from benchmarks.baselines import run_asyncio, run_sequential
    from benchmarks.harness import ROOT
    from pipelines.spec import parse_job
    from pipelines.world import WorldConfig, start_world

    columns = _columns(args.columns)
    start_ray()
    machine = machine_info()
    config = WorldConfig(companies=args.companies, seed=args.seed, llm_latency_s=args.llm_latency,
                         search_latency_s=args.search_latency, site_latency_s=args.page_latency)
    runs: dict[str, dict] = {}
    with start_world(config) as world, tempfile.TemporaryDirectory(prefix="trawl-bench-cp-") as tmp:
        row = world.companies[args.company]

        def spec(name: str, **overrides) -> dict:
            return bench_spec(world, rows=[row], columns=columns, output=os.path.join(tmp, name), name=name, **overrides)

        cp = critical_path(columns, llm_s=args.llm_latency, search_s=args.search_latency, page_s=args.page_latency,
                           extra_s=args.page_latency)  # + the site's robots.txt before its first page
        if "defaults" not in args.skip:
            runs["trawl_defaults"] = run_trawl_timed(spec("trawl-defaults"))
        runs["trawl"] = run_trawl_timed(spec("trawl-tuned", **TUNED))
        if "lazy" not in args.skip:
            runs["trawl_lazy"] = run_trawl_timed(spec("trawl-lazy", **TUNED), eager=False)
        tuned_job = parse_job(spec("baseline", **TUNED), base_dir=ROOT)
        if "asyncio" not in args.skip:
            b = run_asyncio(tuned_job)
            runs["asyncio"] = {"wall_s": round(b.wall_s, 3), "research_s": round(b.wall_s, 3), "cells": b.cells,
                               "pages": b.counters.get("pages", 0), "llm_calls": b.counters.get("llm_calls", 0)}
        if "sequential" not in args.skip:
            b = run_sequential(tuned_job)
            runs["sequential"] = {"wall_s": round(b.wall_s, 3), "research_s": round(b.wall_s, 3), "cells": b.cells,
                                  "pages": b.counters.get("pages", 0), "llm_calls": b.counters.get("llm_calls", 0)}
        for run in runs.values():
            run["accuracy"] = score_cells(run.pop("cells"), world)
            run.pop("counters", None)

    trawl = runs["trawl"]
    over_cp = lambda s: round(s / cp["total_s"], 3) if cp["total_s"] else None  # noqa: E731 - no latency: no critical path
    summary = {
        "critical_path_s": cp["total_s"],
        "trawl_research_over_cp": over_cp(trawl["research_s"]),
        "trawl_wall_over_cp": over_cp(trawl["wall_s"]),
        "trawl_lazy_wall_over_cp": over_cp(runs["trawl_lazy"]["wall_s"]) if "trawl_lazy" in runs else None,
        "speedup_vs": {k: round(runs[k]["wall_s"] / trawl["wall_s"], 2) for k in ("asyncio", "sequential") if k in runs},
        "speedup_research_vs": {k: round(runs[k]["wall_s"] / trawl["research_s"], 2) for k in ("asyncio", "sequential") if k in runs},
    }
    data = {"benchmark": "critical_path", "machine": machine, "config": config.model_dump(include={
        "companies", "seed", "llm_latency_s", "search_latency_s", "site_latency_s"}), "row": row, "columns": list(columns),
        "tuned_overrides": TUNED, "critical_path": cp, "runs": runs, "summary": summary}
    table = markdown_table(
        ["run", "wall s", "start-up s", "research s", "research / critical path", "LLM calls", "pages", "accuracy"],
        [[name, r["wall_s"], r.get("startup_s", "-"), r["research_s"], over_cp(r["research_s"]),
          r.get("llm_calls", "-"), r.get("pages", "-"), f"{r['accuracy']['correct']}/{r['accuracy']['total']}"]
         for name, r in runs.items()])
    md = (f"1 row ({row['company']}) x {len(columns)} columns (DAG depth {cp['levels']}) x 4 keywords x 10 results; "
          f"LLM {args.llm_latency} s, search {args.search_latency} s, page {args.page_latency} s.\n"
          f"Critical path {cp['total_s']} s = {cp['levels']} x {cp['per_level_s']} s + {cp['extra_s']} s robots.txt.\n\n"
          f"{table}\n\ntrawl research / critical path: **{summary['trawl_research_over_cp']}** "
          f"(wall incl. actor start-up: {summary['trawl_wall_over_cp']}; wall of trawl_lazy, actors started on the "
          f"first cache miss of a started Ray: {summary['trawl_lazy_wall_over_cp']}); speed-up of trawl (wall) over "
          + ", ".join(f"{k}: {v}x" for k, v in summary["speedup_vs"].items()) + "\n")
    data["design"] = design
    suffix = "" if design.endswith("default") else "_" + design.replace("=", "_")
    write_results(args.name + suffix, data, md, args.results_dir)
    print(md)
    return data


if __name__ == "__main__":
    main()
