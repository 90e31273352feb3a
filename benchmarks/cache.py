"""Cache: the same job run twice into the same output folder (``run_job(mode="run")`` twice).

The first run pays every LLM call, search and page fetch (with the critical
path's injected latencies: LLM 1.0 s, search 0.3 s, page 0.2 s); the second
should answer every LLM call from the LLM cache, every search from the search
cache and every page from the page store and extract store. Both runs start
their actors as ``trawl run`` does, on the first cache miss (the writer too:
``actors.writer.DeferredWriter``), so start-up is ~0 and research includes
the actors' start when the run needs them; a run its caches answer starts
no actor at all. Reported: both runs' wall time (start-up and research), the second
run's uncached LLM calls (``llm_calls.cache_hit``), uncached searches
(``search_calls.cache_hit``), pages not served by the page store
(``pages.from_page_store``), and whether the answers are identical.

    .venv/bin/python benchmarks/cache.py                # 5 rows x 10 columns, ~1 min
    .venv/bin/python benchmarks/cache.py --rows 2 --columns 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import BENCH_COLUMNS, add_design_arg, apply_design, bench_spec, machine_info, markdown_table, run_trawl_timed, start_ray, write_results  # noqa: E402


def _between(output: str, job_id: str, table: str, since: float, until: float | None) -> list[dict]:
    """Records of ``table`` whose ``started_at`` falls in [since, until): one run's calls."""
    from pipelines.store.reader import read_table

    try:
        rows = read_table(output, table, job_id=job_id).to_pylist()
    except Exception:  # noqa: BLE001 - nothing recorded
        return []
    lo = datetime.fromtimestamp(since, timezone.utc)
    hi = datetime.fromtimestamp(until, timezone.utc) if until else None
    return [r for r in rows if r["started_at"] >= lo and (hi is None or r["started_at"] < hi)]


def _run_stats(run: dict, until: float | None = None) -> dict:
    output, job_id, since = run["output"], run["job_id"], run["started_epoch"]
    calls = _between(output, job_id, "llm_calls", since, until)
    searches = _between(output, job_id, "search_calls", since, until)
    return {
        "wall_s": run["wall_s"], "startup_s": run["startup_s"], "research_s": run["research_s"],
        "statuses": run["statuses"], "llm_calls": len(calls), "llm_uncached": sum(not c["cache_hit"] for c in calls),
        "searches": len(searches), "searches_uncached": sum(not s["cache_hit"] for s in searches),
        "pages": run["pages"],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--llm-latency", type=float, default=1.0)
    parser.add_argument("--search-latency", type=float, default=0.3)
    parser.add_argument("--page-latency", type=float, default=0.2)
    parser.add_argument("--results-dir", default=None)
    parser.add_argument("--seed", type=int, default=7)
    add_design_arg(parser)
    args = parser.parse_args(argv)
    design = apply_design(args)

    from pipelines.store.reader import read_table
    from pipelines.world import WorldConfig, start_world

    columns = {k: json.loads(json.dumps(v)) for k, v in list(BENCH_COLUMNS.items())[: args.columns]}
    for v in columns.values():  # keep only dependencies that are in the chosen columns
        if v.get("depends_on") and not set(v["depends_on"]) <= set(columns):
            raise SystemExit("--columns must include every column the chosen ones depend on")
    start_ray()
    machine = machine_info()
    config = WorldConfig(companies=max(args.rows, 5), seed=args.seed, llm_latency_s=args.llm_latency,
                         search_latency_s=args.search_latency, site_latency_s=args.page_latency)
    with start_world(config) as world, tempfile.TemporaryDirectory(prefix="trawl-bench-cache-") as tmp:
        spec = bench_spec(world, rows=world.companies[: args.rows], columns=columns, output=os.path.join(tmp, "out"),
                          name="cache", fetch={"per_domain_concurrency": 16}, llm_provider={"max_concurrency": 256},
                          search_provider={"max_concurrency": 64})
        # as `trawl run` does: gateways, fetchers and extraction workers start on the first cache miss
        first = run_trawl_timed(spec, eager=False)
        second = run_trawl_timed(spec, eager=False)
        pages = read_table(second["output"], "pages", job_id=second["job_id"]).to_pylist()
        second_pages_from_store = sum(bool(p["from_page_store"]) for p in pages)
        answers = lambda run: {(c["row_key"], c["column"]): c["answer"] for c in run["cells"]}  # noqa: E731
        identical = answers(first) == answers(second)
        runs = {"first": _run_stats(first, until=second["started_epoch"]), "second": _run_stats(second)}
    runs["second"]["pages_from_page_store"] = second_pages_from_store
    runs["second"]["pages_total"] = len(pages)
    summary = {
        "speedup_wall": round(runs["first"]["wall_s"] / runs["second"]["wall_s"], 2),
        "speedup_research": round(runs["first"]["research_s"] / max(runs["second"]["research_s"], 1e-3), 2),
        "second_run_uncached_llm_calls": runs["second"]["llm_uncached"],
        "second_run_uncached_searches": runs["second"]["searches_uncached"],
        "answers_identical": identical,
    }
    data = {"benchmark": "cache", "machine": machine, "rows": args.rows, "columns": list(columns),
            "latencies": {"llm_s": args.llm_latency, "search_s": args.search_latency, "page_s": args.page_latency},
            "runs": runs, "summary": summary}
    table = markdown_table(
        ["run", "wall s", "start-up s", "research s", "LLM calls", "uncached LLM calls", "searches", "uncached searches"],
        [[name, r["wall_s"], r["startup_s"], r["research_s"], r["llm_calls"], r["llm_uncached"], r["searches"],
          r["searches_uncached"]] for name, r in runs.items()])
    md = (f"{args.rows} rows x {len(columns)} columns, the same job run twice into one output folder; LLM "
          f"{args.llm_latency} s, search {args.search_latency} s, page {args.page_latency} s.\n\n{table}\n\n"
          f"Second run: {summary['second_run_uncached_llm_calls']} uncached LLM calls, "
          f"{summary['second_run_uncached_searches']} uncached searches, {second_pages_from_store}/{len(pages)} pages from "
          f"the page store, answers identical: {identical}. Speed-up: {summary['speedup_wall']}x wall, "
          f"{summary['speedup_research']}x research (start-up excluded).\n")
    data["design"] = design
    suffix = "" if design.endswith("default") else "_" + design.replace("=", "_")
    write_results("cache" + suffix, data, md, args.results_dir)
    print(md)
    return data


if __name__ == "__main__":
    main()
