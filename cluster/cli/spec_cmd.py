"""`trawl validate`: check a job spec and show what it will do."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from pipelines.dag import plan_summary
from pipelines.errors import SpecError
from pipelines.spec import load_job


def validate(
    spec: Path = typer.Argument(..., help="Job spec YAML file.", metavar="JOB.yaml"),
) -> None:
    """Check a job spec: list every problem (exit 1), or print the cell DAG summary (each column's kind and inputs).

    Example:  trawl validate examples/companies.yaml
    """
    try:
        job = load_job(spec)
    except SpecError as err:
        typer.echo(f"{spec}: {len(err.problems)} problem(s)", err=True)
        for problem in err.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None
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
    kinds = Counter(column.kind for column in job.columns.values())
    typer.echo(f"  {'kinds':<{width}}  {' · '.join(f'{k} {n}' for k, n in kinds.items())}")
    name_width = max(len(name) for name in job.columns)
    for name, column in job.columns.items():
        deps = f"  <- {', '.join(column.depends_on)}" if column.depends_on else ""
        typer.echo(f"  {name:<{name_width}}  {column.kind:<8}{deps}".rstrip())


def register(app: typer.Typer) -> None:
    app.command("validate", help=validate.__doc__)(validate)
