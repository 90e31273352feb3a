"""`trawl llm-stats`: LLM calls per provider and model, from the output folder's llm_calls table."""

from __future__ import annotations

from typing import Optional

import typer

from cluster.cli.common import OutputOption, fail
from cluster.cli.tables import FORMAT_OPTION, Col, TableFormat, emit
from pipelines.errors import TrawlError
from pipelines.spec import DEFAULT_OUTPUT


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _cost(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.4f}"


def _failures(row: dict) -> str:
    by_type = ", ".join(f"{etype} {n}" for etype, n in row["failures_by_type"].items())
    return f"{row['failures']}: {by_type}" if row["failures"] else "0"


# Key columns first; the higher the priority number, the sooner a column is left out at narrow widths.
STATS_COLUMNS = [
    Col("provider", "provider", priority=0),
    Col("model", "model", priority=0),
    Col("calls", "calls", _count, 1, right=True),
    Col("cost_usd", "cost $", _cost, 1, right=True),
    Col("failures_text", "failures", priority=3, fold=True),
    Col("p50_s", "p50 s", _seconds, 2, right=True),
    Col("input_tokens", "tokens in", _count, 2, right=True),
    Col("output_tokens", "tokens out", _count, 2, right=True),
    Col("cache_hit_rate", "cache hits", lambda v: f"{v:.0%}", 3, right=True),
    Col("p95_s", "p95 s", _seconds, 4, right=True),
    Col("upstream_calls", "upstream", _count, 4, right=True),
    Col("fallback_calls", "fallback", _count, 5, right=True),
    Col("cached_input_tokens", "cached in", _count, 5, right=True),
    Col("reasoning_tokens", "reasoning", _count, 5, right=True),
    Col("unpriced_calls", "unpriced", _count, 5, right=True),
]


def llm_stats(
    job: Optional[str] = typer.Argument(None, help="Job id or name; default: every job in the folder."),
    output: OutputOption = DEFAULT_OUTPUT,
    fmt: TableFormat = FORMAT_OPTION,
    as_json: bool = typer.Option(False, "--json", hidden=True, help="Same as --format json (kept for scripts)."),
):
    """Per provider and model: calls, fallbacks, failures by type, p50/p95 latency, tokens (cached, reasoning), cost, cache hit rate.

    A cost of "unknown" means some calls had no known price (see docs/llm-gateway.md#cost).

    Example: trawl llm-stats companies --output ./trawl-data --format csv
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
    fmt = TableFormat.json if as_json else fmt
    if not rows and fmt == TableFormat.table:
        typer.echo(f"no LLM calls recorded in {output}" + (f" for job {job}" if job else ""))
        return
    for row in rows:
        row["failures_text"] = _failures(row)
    cols = STATS_COLUMNS if fmt == TableFormat.table else [c for c in STATS_COLUMNS if c.key != "failures_text"]
    if fmt != TableFormat.table:
        rows = [{k: v for k, v in r.items() if k != "failures_text"} for r in rows]
        cols = cols + [Col("failures_by_type", "failures_by_type"), Col("failures", "failures")]
    emit(rows, cols, fmt, title=f"LLM calls{' of ' + job_id if job_id else ''} in {output}")


COMMANDS = {"llm-stats": llm_stats}
