"""`trawl llm-stats`: LLM calls per provider and model, from the output folder's llm_calls table."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from cluster.cli.common import JsonOption, OutputOption, fail
from pipelines.errors import TrawlError
from pipelines.spec import DEFAULT_OUTPUT

console = Console()


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _failures(by_type: dict[str, int]) -> str:
    return ", ".join(f"{etype} {n}" for etype, n in by_type.items()) or "-"


def _render(rows: list[dict], title: str) -> Table:
    table = Table(title=title)
    for name in ("provider", "model", "calls", "upstream", "fallback", "failures", "p50 s", "p95 s", "tokens in", "tokens out", "cost $", "cache hits"):
        table.add_column(name, justify="left" if name in ("provider", "model", "failures") else "right")
    for r in rows:
        table.add_row(
            r["provider"], r["model"], str(r["calls"]), str(r["upstream_calls"]), str(r["fallback_calls"]),
            f"{r['failures']}: {_failures(r['failures_by_type'])}" if r["failures"] else "0",
            _seconds(r["p50_s"]), _seconds(r["p95_s"]), str(r["input_tokens"]), str(r["output_tokens"]),
            f"{r['cost_usd']:.4f}", f"{r['cache_hit_rate']:.0%}",
        )
    return table


def llm_stats(
    job: Optional[str] = typer.Argument(None, help="Job id or name; default: every job in the folder."),
    output: OutputOption = DEFAULT_OUTPUT,
    as_json: JsonOption = False,
):
    """Per provider and model: calls, fallbacks, failures by type, p50/p95 latency, tokens, cost, cache hit rate.

    Example: trawl llm-stats companies --output ./trawl-data
    """
    from pipelines.llm.stats import llm_call_stats
    from pipelines.store.reader import find_job

    job_id = None
    try:
        if job:
            try:
                job_id = find_job(output, job)["job_id"]
            except TrawlError:
                job_id = job  # llm_calls written before (or without) a jobs row still count
        rows = llm_call_stats(output, job_id)
    except TrawlError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        typer.echo(f"no LLM calls recorded in {output}" + (f" for job {job}" if job else ""))
        return
    console.print(_render(rows, f"LLM calls{' of ' + job_id if job_id else ''} in {output}"))


COMMANDS = {"llm-stats": llm_stats}
