"""`trawl validate`: check a job spec and show what it will do."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import typer

from cluster.cli.common import fail_spec
from cluster.cli.tables import FORMAT_OPTION, Col, TableFormat, emit
from pipelines.dag import plan_summary
from pipelines.errors import SpecError
from pipelines.spec import load_job


def validate(
    spec: Path = typer.Argument(..., help="Job spec YAML file.", metavar="JOB.yaml"),
    fmt: TableFormat = FORMAT_OPTION,
) -> None:
    """Check a job spec: list every problem (exit 1), or print the cell DAG summary (each column's kind and inputs) and the planned LLM estimate.

    Example:  trawl validate examples/companies.yaml
    Example:  trawl validate examples/companies.yaml --format json
    """
    try:
        job = load_job(spec)
    except SpecError as err:
        fail_spec(spec, err)
    plan = plan_summary(job)
    if fmt != TableFormat.table:
        _print_plan_data(job, plan, fmt)
        return
    lines = [
        (f"{spec}", "OK"),
        ("job id", job.job_id),
        ("rows", f"{plan['rows']:,}"),
        ("columns", f"{plan['columns']:,}  ({', '.join(job.columns)})"),
        ("cells", f"{plan['cells']:,}"),
        ("dependency depth", f"{plan['depth']}"),
        ("keywords", f"{plan['keywords']:,}  (at most)"),
        ("planned fan-out", f"{plan['planned_fanout']:,}  search results (cells x keywords x results per keyword)"),
        ("max pages", f"{plan['max_pages']:,}  (cells x max pages per cell, before page fan-in)"),
        ("output", job.output),
    ]
    width = max(len(label) for label, _ in lines[1:])
    typer.echo(f"{lines[0][0]}: {lines[0][1]}")
    for label, value in lines[1:]:
        typer.echo(f"  {label:<{width}}  {value}")
    kinds = Counter(column.kind for column in job.columns.values())
    typer.echo(f"  {'kinds':<{width}}  {' · '.join(f'{k} {n}' for k, n in kinds.items())}")
    name_width = max(len(name) for name in job.columns)
    for name, column in job.columns.items():
        deps = f"  <- {', '.join(column.depends_on)}" if column.depends_on else ""
        typer.echo(f"  {name:<{name_width}}  {column.kind:<8}{deps}".rstrip())
    _print_estimate(job)


def _print_plan_data(job, plan: dict, fmt: TableFormat) -> None:
    """The summary for scripts: JSON (with ``depends_on`` and the estimate) or CSV ``field,value`` rows."""
    data = {"job_id": job.job_id, **plan, "output": job.output}
    if fmt == TableFormat.csv:
        emit([{"field": k, "value": v} for k, v in data.items()], [Col("field", "field"), Col("value", "value")], fmt)
        return
    data["kinds"] = {name: c.kind for name, c in job.columns.items()}
    data["depends_on"] = {name: list(c.depends_on) for name, c in job.columns.items() if c.depends_on}
    est, problem = _estimate(job)
    data["llm_estimate"] = est.to_dict() if est is not None else {"unavailable": problem}
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _estimate(job):
    """(Estimate, None), or (None, why not): a missing profile file must not fail validation."""
    from pipelines.errors import TrawlError
    from pipelines.llm.estimate import estimate_job
    from pipelines.llm.profiles import resolve_settings

    try:
        return estimate_job(job, resolve_settings(job.llm)), None
    except SpecError as err:
        return None, "; ".join(map(str, err.problems))
    except TrawlError as err:
        return None, str(err)


def _print_estimate(job) -> None:
    """One line of `trawl estimate`, planned; never fails validation (a profile file may be missing here)."""
    from cluster.cli.estimate_cmd import duration_text

    est, problem = _estimate(job)
    if est is None:
        typer.echo(f"  llm estimate: unavailable ({problem})")
        return
    cost = "cost unknown" if est.cost_usd is None else f"${est.cost_usd:,.2f}"
    took = "no rpm/tpm limit" if est.min_duration_s is None else f"at least {duration_text(est.min_duration_s)}"
    typer.echo(f"  llm estimate: {est.calls:,} calls, {est.input_tokens + est.output_tokens:,} tokens, {cost}, {took}, planned "
               "(details: trawl estimate)")
    for problem in est.budget_problems:
        typer.echo(f"  budget: {problem}")


COMMANDS = {"validate": validate}
