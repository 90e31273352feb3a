"""Scale: 10, 100 and 1,000 rows with zero injected latency, against the machine's extraction limit.

With no latency anywhere, a crawl is bounded by CPU, and most of it is
main-text extraction. For each size this runs the job (default: 1 column,
`ceo`, 4 keywords x 10 results, up to 12 pages per cell) and reports wall
time, pages/s, extraction seconds per page (inside the extraction tasks),
peak driver RSS and peak object-store use (sampled), and CPU seconds per
process group (driver, Ray workers and actors, the world's own servers).

The extraction limit is measured right after each run, on the same pages
(bodies read back from the run's page store, at most --limit-pages of them):
``pipelines.extract.extract_page`` (trafilatura + chunking, exactly what
trawl's extraction tasks run) in a process pool with one warm worker per
core. ``trawl pages/s / limit pages/s`` is the share of the machine's
extraction capacity trawl turns into pages while also searching, judging and
writing — and while the local world's servers run on the same cores.

    .venv/bin/python benchmarks/scale.py                       # 10, 100, 1000 rows x 1 column (~6-8 min on 2 cores)
    .venv/bin/python benchmarks/scale.py --rows 10,100 --columns 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import (  # noqa: E402
    BENCH_COLUMNS,
    TRAWL_OUTSIDE_EXTRACTION,
    CPUAccounting,
    MemorySampler,
    add_design_arg,
    apply_design,
    bench_spec,
    machine_info,
    markdown_table,
    run_trawl_timed,
    start_ray,
    write_results,
)


def _extract_timed(item: tuple) -> tuple[bool, float]:
    from benchmarks.baselines import _Fetched
    from pipelines.extract import extract_page

    url, final_url, body, content_type, charset, chunk_chars = item
    started = time.process_time()
    page = extract_page(_Fetched(url, final_url, "ok", content_type=content_type, charset=charset, body=body, bytes=len(body)),
                        chunk_chars=chunk_chars)
    return page.ok, time.process_time() - started


def _warm(_: int) -> bool:
    import trafilatura  # noqa: F401

    _extract_timed(("http://warm.up/", "http://warm.up/", b"<html><body><p>warm up</p></body></html>", "text/html", None, 800))
    return True


def extraction_limit(output: str, job_id: str, *, max_pages: int, workers: int, chunk_chars: int) -> dict:
    """Pages/s of extract_page alone on ``workers`` processes over (a sample of) the pages the run fetched."""
    from pipelines.fetch.page_store import PageStore
    from pipelines.store.reader import read_table

    pages = read_table(output, "pages", job_id=job_id).select(["url", "status"]).to_pylist()
    urls = [p["url"] for p in pages if p["status"] == "ok"]
    step = max(1, len(urls) // max_pages)
    store = PageStore(os.path.join(output, "page-store"), ttl_s=None)
    items = []
    for url in urls[::step][:max_pages]:
        stored = store.get(url)
        if stored is not None:
            items.append((url, stored.final_url, stored.body, stored.content_type, stored.charset, chunk_chars))
    if not items:
        return {"pages": 0}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_warm, range(workers)))
        started = time.perf_counter()
        results = list(pool.map(_extract_timed, items, chunksize=16))
        wall = time.perf_counter() - started
    cpu = sum(c for _, c in results)
    return {"pages": len(items), "workers": workers, "wall_s": round(wall, 3), "pages_per_s": round(len(items) / wall, 1),
            "cpu_s_per_page": round(cpu / len(items), 4), "ok": sum(ok for ok, _ in results)}


def run_size(world, rows: int, columns: dict, tmp: str, args) -> dict:
    spec = bench_spec(world, rows=world.companies[:rows], columns=columns, output=os.path.join(tmp, f"scale-{rows}"),
                      name=f"scale-{rows}")
    with MemorySampler(interval_s=0.5) as mem, CPUAccounting(interval_s=0.5) as cpu:
        run = run_trawl_timed(spec)
    wall, research = run["wall_s"], run["research_s"]
    counters = run["counters"]
    pages = counters.get("pages_ok", 0) + counters.get("pages_skipped", 0)
    limit = extraction_limit(run["output"], run["job_id"], max_pages=args.limit_pages, workers=os.cpu_count() or 2,
                             chunk_chars=800)
    pps, pps_research = (pages / wall if wall else 0.0), (pages / research if research else 0.0)
    lim = limit.get("pages_per_s")
    cpu_result = cpu.result()
    return {
        "rows": rows, "cells": rows * len(columns), "statuses": run["statuses"], "wall_s": wall,
        "startup_s": run["startup_s"], "research_s": research, "pages": pages, "pages_per_s": round(pps, 2),
        "pages_per_s_research": round(pps_research, 2), "page_fan_in": counters.get("page_fan_in", 0),
        "llm_calls": counters.get("llm_calls", 0), "searches": counters.get("searches", 0),
        "extract_s_per_page": round(counters.get("extract_ms", 0) / 1000 / pages, 4) if pages else None,
        "memory": mem.result(), "cpu": cpu_result, "extraction_limit": limit,
        "ratio_to_limit": round(pps / lim, 3) if lim else None,
        "ratio_to_limit_research": round(pps_research / lim, 3) if lim else None,
        **cpu_ratios(cpu_result["cpu_s_by_group"], pages, pps_research, cores=os.cpu_count() or 2),
    }


def cpu_ratios(by_group: dict[str, float], pages: int, pages_per_s: float, cores: int) -> dict:
    """Issue 16's CPU figures from CPU seconds by process group.

    - ``cpu_outside_over_extraction``: trawl's CPU outside extraction (``TRAWL_OUTSIDE_EXTRACTION``: driver,
      research workers, fetchers, writer, quota, gateways) divided by the extraction tasks' CPU;
    - ``cpu_ms_per_page``: the same two per page (ms), so that a cheaper extraction, which raises the ratio,
      can be told from a dearer trawl;
    - ``limit_with_world_pages_per_s``: ``cores`` / (extraction + world servers' CPU per page): what the machine
      could do if trawl cost nothing, with the world's servers sharing its cores; ``ratio_to_limit_with_world``
      is the research throughput against it.
    """
    extraction = by_group.get("ray_extract", 0.0)
    outside = sum(by_group.get(g, 0.0) for g in TRAWL_OUTSIDE_EXTRACTION)
    world = sum(v for k, v in by_group.items() if k.startswith("world_"))
    limit = cores / ((extraction + world) / pages) if pages and extraction + world else None
    return {
        "cpu_outside_over_extraction": round(outside / extraction, 3) if extraction else None,
        "cpu_ms_per_page": {"outside_extraction": round(outside / pages * 1000, 2) if pages else None,
                            "extraction": round(extraction / pages * 1000, 2) if pages else None,
                            "world": round(world / pages * 1000, 2) if pages else None},
        "limit_with_world_pages_per_s": round(limit, 1) if limit else None,
        "ratio_to_limit_with_world": round(pages_per_s / limit, 3) if limit else None,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="10,100,1000", help="Comma-separated row counts.")
    parser.add_argument("--columns", type=int, default=1, help="First N benchmark columns (ceo, founded, ...).")
    parser.add_argument("--limit-pages", type=int, default=2000, help="Pages sampled for the extraction-limit measurement.")
    parser.add_argument("--results-dir", default=None)
    parser.add_argument("--seed", type=int, default=7)
    add_design_arg(parser)
    args = parser.parse_args(argv)
    design = apply_design(args)
    sizes = [int(x) for x in args.rows.split(",") if x.strip()]
    columns = {k: json.loads(json.dumps(v)) for k, v in list(BENCH_COLUMNS.items())[: args.columns]
               if not v.get("depends_on")}

    from pipelines.world import WorldConfig, start_world

    start_ray()
    machine = machine_info()
    runs = []
    with start_world(WorldConfig(companies=max(sizes), seed=args.seed)) as world, \
            tempfile.TemporaryDirectory(prefix="trawl-bench-scale-") as tmp:
        for n in sizes:
            runs.append(run_size(world, n, columns, tmp, args))
            print(json.dumps({k: runs[-1][k] for k in ("rows", "wall_s", "research_s", "pages", "pages_per_s_research",
                                                       "ratio_to_limit_research")}), flush=True)
    data = {"benchmark": "scale", "machine": machine, "columns": list(columns), "runs": runs}
    table = markdown_table(
        ["rows", "cells", "wall s (start-up)", "pages", "pages/s (research)", "limit pages/s", "trawl / limit (research)",
         "extract s/page (trawl)", "extract CPU s/page (limit)", "driver peak RSS MiB", "object store peak MiB",
         "CPU s: extraction / world servers / total", "CPU outside extraction ÷ extraction (ms/page)",
         "trawl / limit with world"],
        [[r["rows"], r["cells"], f"{r['wall_s']} ({r['startup_s']})", r["pages"],
          f"{r['pages_per_s']} ({r['pages_per_s_research']})", r["extraction_limit"].get("pages_per_s"),
          f"{r['ratio_to_limit']} ({r['ratio_to_limit_research']})", r["extract_s_per_page"],
          r["extraction_limit"].get("cpu_s_per_page"),
          r["memory"]["driver_peak_rss_mib"], r["memory"]["object_store_peak_used_mib"],
          f"{r['cpu']['cpu_s_by_group'].get('ray_extract', 0)} / "
          f"{round(sum(v for k, v in r['cpu']['cpu_s_by_group'].items() if k.startswith('world_')), 1)} / {r['cpu']['cpu_s_total']}",
          f"{r['cpu_outside_over_extraction']} ({r['cpu_ms_per_page']['outside_extraction']} / "
          f"{r['cpu_ms_per_page']['extraction']})",
          f"{r['ratio_to_limit_with_world']} (limit {r['limit_with_world_pages_per_s']})"]
         for r in runs])
    md = (f"Zero injected latency; columns: {', '.join(columns)}; 4 keywords x 10 results, up to 12 pages per cell; "
          f"one world of {max(sizes)} companies.\n\n{table}\n")
    data["design"] = design
    suffix = "" if design.endswith("default") else "_" + design.replace("=", "_")
    write_results("scale" + suffix, data, md, args.results_dir)
    print(md)
    return data


if __name__ == "__main__":
    main()
