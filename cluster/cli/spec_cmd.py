"""`trawl validate`: check a job spec and show what it will do."""

from __future__ import annotations

from pathlib import Path

import typer

from cluster.cli.common import fail_spec
from pipelines.dag import plan_summary
from pipelines.errors import SpecError
from pipelines.spec import load_job


def validate(
    spec: Path = typer.Argument(..., help="Job spec YAML file.", metavar="JOB.yaml"),
) -> None:
    """Check a job spec: list every problem (exit 1), or print the cell DAG summary.

    Example:  trawl validate examples/companies.yaml
    """
    try:
        job = load_job(spec)
    except SpecError as err:
        fail_spec(spec, err)
    plan = plan_summary(job)
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
    for name, column in job.columns.items():
        if column.depends_on:
            typer.echo(f"  {name} <- {', '.join(column.depends_on)}")


COMMANDS = {"validate": validate}
