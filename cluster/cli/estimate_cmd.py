"""`trawl estimate`: LLM calls, tokens, cost and the shortest duration of a job, before it runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from cluster.cli.common import ProvidersOption, fail, fail_spec
from cluster.cli.tables import FORMAT_OPTION, Col, TableFormat, emit
from pipelines.errors import SpecError, TrawlError

__all__ = ["COMMANDS", "duration_text", "estimate_for"]



def duration_text(seconds: float | None) -> str:
    """``3d 4h``, ``5h 33m``, ``12m 5s``, ``40s``; ``no limit`` for ``None``."""
    if seconds is None:
        return "no limit"
    s = int(round(seconds))
    days, hours, minutes = s // 86_400, s % 86_400 // 3600, s % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {s % 60}s" if minutes else f"{s}s"


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.2f}"


STAGE_COLUMNS = [
    Col("stage", "stage", priority=0),
    Col("calls", "calls", lambda v: f"{v:,}", 1, right=True),
    Col("input_tokens", "tokens in", lambda v: f"{v:,}", 1, right=True),
    Col("output_tokens", "tokens out", lambda v: f"{v:,}", 1, right=True),
    Col("cost_usd", "cost $", _usd, 1, right=True),
    Col("provider", "provider", priority=2),
    Col("max_cost_usd", "if all fall back $", _usd, 3, right=True),
    Col("basis", "basis", priority=3),
    Col("model", "model", priority=4),
]
PROVIDER_COLUMNS = [
    Col("provider", "provider", priority=0),
    Col("calls", "calls", lambda v: f"{v:,}", 1, right=True),
    Col("tokens", "tokens", lambda v: f"{v:,}", 1, right=True),
    Col("rpm", "rpm", lambda v: "-" if v is None else f"{v:,}", 2, right=True),
    Col("tpm", "tpm", lambda v: "-" if v is None else f"{v:,}", 2, right=True),
    Col("min_seconds", "shortest time", duration_text, 1, right=True),
]


def estimate_for(spec: Path, output: str | None, providers: str | None):
    """(job, Estimate, job id the recorded averages came from or None); raises ``TrawlError``."""
    from pipelines.llm.estimate import estimate_job
    from pipelines.llm.profiles import resolve_settings
    from pipelines.llm.stats import recorded_stage_averages
    from pipelines.spec import load_job

    job = load_job(spec)
    settings = resolve_settings(job.llm, providers)
    recorded, source = recorded_stage_averages(output or job.output, job.job_id)
    return job, estimate_job(job, settings, recorded), (source or ("other jobs" if recorded else None))


def estimate(
    spec: Path = typer.Argument(..., help="Job spec YAML file.", metavar="JOB.yaml"),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Output folder whose recorded llm_calls refine the "
                                         "estimate; default: the spec's output."),
    providers: ProvidersOption = None,
    fmt: TableFormat = FORMAT_OPTION,
) -> None:
    """Estimate a job's LLM calls, tokens and cost per stage, and the shortest time its providers' rpm/tpm allow.

    Planned from the fan-out until the job (or another in the output folder) has recorded llm_calls, then
    from their averages. A budget the estimate already exceeds is reported. Prices: docs/llm-gateway.md#cost.

    Example:  trawl estimate examples/companies.yaml
    Example:  trawl estimate job.yaml --format json
    """
    try:
        job, est, source = estimate_for(spec, output, providers)
    except SpecError as exc:
        fail_spec(spec, exc)
    except TrawlError as exc:
        fail(exc)
    if fmt == TableFormat.json:
        sys.stdout.write(json.dumps({"job_id": job.job_id, "recorded_from": source, **est.to_dict()}, indent=2) + "\n")
        return
    stages = [s.__dict__ for s in est.stages]
    if fmt == TableFormat.csv:
        emit(stages, STAGE_COLUMNS, fmt)
        return
    console = Console(highlight=False)  # wraps its lines at the terminal's width (80 in a pipe)
    say = lambda text: console.print(text, markup=False)  # noqa: E731
    say(f"{job.name} ({job.job_id}): {est.rows:,} rows x {len(job.columns)} columns = {est.cells:,} cells"
        + (f"; averages recorded by {source}" if source else "; planned (no llm_calls recorded yet)"))
    total = {"stage": "total", "calls": est.calls, "input_tokens": est.input_tokens, "output_tokens": est.output_tokens,
             "cost_usd": est.cost_usd, "max_cost_usd": est.max_cost_usd, "provider": "", "basis": "", "model": ""}
    emit([*stages, total], STAGE_COLUMNS, fmt, console=console)
    emit([p.__dict__ for p in est.providers], PROVIDER_COLUMNS, fmt, console=console)
    say(f"shortest duration the rate limits allow: {duration_text(est.min_duration_s)}")
    if est.unpriced:
        say(f"no price known for: {', '.join(est.unpriced)} (their cost is unknown, not 0)")
    for problem in est.budget_problems:
        say(f"budget: {problem}")


COMMANDS = {"estimate": estimate}
