"""`trawl demo`: the local world, an example job, the results table, and where to go next."""

from __future__ import annotations

import os

import yaml
from rich.console import Console
from rich.table import Table

from cluster.dashboard import dashboard_lines
from pipelines.store.catalog import duckdb_cli_hint

__all__ = ["run_demo", "results_table", "accuracy"]

DEMO_COLUMNS = ("ceo", "founded", "hq_city", "employees", "product", "funding", "ceo_previous")


def results_table(output: str, job_id: str, limit: int = 50) -> Table:
    """The wide ``results`` view (the newest job: the one just run), as a rich table."""
    from pipelines.store.query import query

    data = query(output, f"SELECT * FROM results LIMIT {int(limit)}")
    table = Table(title=f"results ({job_id})", show_lines=False)
    for name in data.column_names:
        table.add_column(name, overflow="fold", max_width=28)
    for row in data.to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    return table


def accuracy(output: str, job_id: str, truth_path: str) -> dict:
    """Score the job's answers against the world's planted facts (harness only: the pipeline never sees them)."""
    from pipelines.store.reader import read_table
    from pipelines.world.truth import load_truth, score_results

    cells = [c for c in read_table(output, "cells", job_id=job_id).to_pylist()]
    return score_results(cells, load_truth(truth_path))


def _accuracy_line(output: str, job_id: str, truth_path: str) -> str:
    try:
        score = accuracy(output, job_id, truth_path)
    except Exception as exc:  # noqa: BLE001 - scoring is a bonus; never fail the demo over it
        return f"(could not score against the planted facts: {exc})"
    overall = score["overall"]
    return f"Accuracy against the world's planted facts: {overall['correct']}/{overall['total']} ({100 * score['accuracy']:.0f}%)"


def run_demo(*, companies: int, output: str, seed: int, hold: bool, quiet: bool, execute, console: Console) -> None:
    from pipelines.spec import load_job
    from pipelines.world import WorldConfig, start_world

    output = os.path.abspath(output)
    os.makedirs(output, exist_ok=True)
    console.print(f"[bold]Starting the local world[/] ({companies} fictional companies, seed {seed}) ...")
    with start_world(WorldConfig(companies=companies, seed=seed)) as world:
        spec_path = os.path.join(output, "demo-job.yaml")
        spec = world.job_spec(output=output)
        with open(spec_path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(spec, fh, sort_keys=False, allow_unicode=True)
        console.print(
            f"  site http://127.0.0.1:{world.site_port} · search {world.search_base_url} · LLM {world.llm_base_url}\n"
            f"  job spec: {spec_path}"
        )
        job = load_job(spec_path)
        result = execute(job, "run", address=None, dashboard=True, quiet=quiet)
        console.print(results_table(output, job.job_id))
        console.print(_accuracy_line(output, job.job_id, world.ground_truth_path))
    console.print(
        "\n[bold]Next[/]\n"
        f"  SQL:       trawl query \"SELECT company, ceo, founded FROM results\" --output {output}\n"
        f"  evidence:  trawl query \"SELECT row_key, \\\"column\\\", url, text FROM excerpts WHERE relevant LIMIT 20\" --output {output}\n"
        f"  LLM calls: trawl llm-stats --output {output}\n"
        f"  DuckDB:    {duckdb_cli_hint(output)}"
    )
    url = result.connection.dashboard_url
    for line in dashboard_lines(url, job.job_id):
        console.print(line, highlight=False)
    if url and hold:
        console.print(f"  dashboard: {url}  (Jobs, Actors and Metrics views) — press Enter to stop Ray and exit.")
        try:
            input()
        except (EOFError, KeyboardInterrupt):
            pass
    elif url:
        console.print(
            f"  dashboard: {url} was up during the run; `trawl demo --hold` keeps it open after the results, "
            "or start a Ray you keep (`ray start --head`) and run jobs with `--address auto`."
        )
