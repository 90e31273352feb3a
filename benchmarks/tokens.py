"""Tokens: LLM input tokens per cell with BM25 chunk ranking vs. showing the judge whole pages, and the accuracy of both.

The judge sees the ``chunks_per_page`` best chunks of each page (ranked by
BM25 against the question); "whole page" is the largest budget the spec
allows (``chunks_per_page: 20``), which covers every page of the local world
unless the table says otherwise (``pages over budget``). Each variant runs
the same job (default 5 rows x 10 columns, zero latency) into its own output
folder (no cache shared), and is scored against the world's planted facts.

The world's own pages fit in one chunk, so ranking cannot save anything on
them. The ``_long`` variants fetch through ``benchmarks/long_pages.py``, a
proxy that adds ~6,500 characters of fact-free corporate prose to every
company page; the ``_distractors`` variants add the text of 6 pages about
*other* companies instead (their CEOs, cities, rounds). ``_200`` variants use
the smallest chunk size on the plain world.

    .venv/bin/python benchmarks/tokens.py              # ~2 min on 2 cores
    .venv/bin/python benchmarks/tokens.py --rows 2 --columns 2 --variants ranked,whole
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import BENCH_COLUMNS, bench_spec, llm_calls_of, machine_info, markdown_table, run_trawl_timed, score_cells, start_ray, write_results  # noqa: E402

VARIANTS = {  # name -> (chunk_chars, chunks_per_page, long-page filler or None)
    "ranked": (800, 3, None),
    "whole": (800, 20, None),
    "ranked_long": (800, 3, "neutral"),
    "whole_long": (800, 20, "neutral"),
    "ranked_distractors": (800, 3, "distractors"),
    "whole_distractors": (800, 20, "distractors"),
    "ranked_200": (200, 3, None),
    "whole_200": (200, 20, None),
}
DEFAULT_VARIANTS = "ranked,whole,ranked_long,whole_long"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"Comma-separated, from {', '.join(VARIANTS)}.")
    parser.add_argument("--results-dir", default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from benchmarks.long_pages import LongPageProxy
    from pipelines.store.reader import read_table
    from pipelines.world import WorldConfig, start_world

    columns = {k: json.loads(json.dumps(v)) for k, v in list(BENCH_COLUMNS.items())[: args.columns]}
    start_ray()
    machine = machine_info()
    runs: dict[str, dict] = {}
    with start_world(WorldConfig(companies=max(args.rows, 5), seed=args.seed)) as world, \
            tempfile.TemporaryDirectory(prefix="trawl-bench-tokens-") as tmp, \
            LongPageProxy(world, filler="neutral", ip="127.0.0.2") as neutral, \
            LongPageProxy(world, filler="distractors", ip="127.0.0.3") as distractors:
        proxies = {"neutral": neutral.ip, "distractors": distractors.ip}
        for name in args.variants.split(","):
            chunk_chars, per_page, long_pages = VARIANTS[name]
            fetch = {"resolve": {"*.example": proxies[long_pages]}} if long_pages else {}
            spec = bench_spec(world, rows=world.companies[: args.rows], columns=columns, output=os.path.join(tmp, name),
                              name=f"tokens-{name}", research={"chunk_chars": chunk_chars, "chunks_per_page": per_page},
                              fetch=fetch)
            run = run_trawl_timed(spec)
            cells = run["cells"]
            calls = llm_calls_of(run["output"], run["job_id"])
            by_stage: dict[str, int] = {}
            for c in calls:
                by_stage[c["stage"]] = by_stage.get(c["stage"], 0) + int(c["gen_ai.usage.input_tokens"] or 0)
            pages = read_table(run["output"], "pages", job_id=run["job_id"]).select(["status", "chunks"]).to_pylist()
            chunks = sorted(p["chunks"] for p in pages if p["status"] == "ok")
            n = len(cells)
            runs[name] = {
                "chunk_chars": chunk_chars, "chunks_per_page": per_page, "long_pages": long_pages, "cells": n,
                "input_tokens_per_cell": round(sum(c["input_tokens"] or 0 for c in cells) / n, 1) if n else None,
                "judge_input_tokens_per_cell": round(by_stage.get("judge", 0) / n, 1) if n else None,
                "output_tokens_per_cell": round(sum(c["output_tokens"] or 0 for c in cells) / n, 1) if n else None,
                "llm_calls": len(calls), "input_tokens_by_stage": by_stage,
                "pages": len(chunks), "chunks_per_page_median": chunks[len(chunks) // 2] if chunks else None,
                "chunks_per_page_max": chunks[-1] if chunks else None,
                "pages_over_budget": sum(c > per_page for c in chunks),
                "accuracy": score_cells(cells, world), "wall_s": run["wall_s"], "statuses": run["statuses"],
            }
    for name, run in runs.items():
        base = runs.get(name.replace("ranked", "whole"))
        if name.startswith("ranked") and base and base["input_tokens_per_cell"]:
            run["input_tokens_vs_whole"] = round(run["input_tokens_per_cell"] / base["input_tokens_per_cell"], 3)
    data = {"benchmark": "tokens", "machine": machine, "rows": args.rows, "columns": list(columns), "runs": runs}
    table = markdown_table(
        ["variant", "added to pages", "chunk chars", "chunks/page shown", "input tokens/cell", "judge input tokens/cell", "vs whole page",
         "page chunks median/max", "pages over budget", "accuracy"],
        [[name, r["long_pages"] or "no", r["chunk_chars"], r["chunks_per_page"], r["input_tokens_per_cell"], r["judge_input_tokens_per_cell"],
          r.get("input_tokens_vs_whole", "-"), f"{r['chunks_per_page_median']}/{r['chunks_per_page_max']}",
          r["pages_over_budget"], f"{r['accuracy']['correct']}/{r['accuracy']['total']}"] for name, r in runs.items()])
    md = f"{args.rows} rows x {len(columns)} columns, zero latency; one output folder per variant.\n\n{table}\n"
    write_results("tokens", data, md, args.results_dir)
    print(md)
    return data


if __name__ == "__main__":
    main()
