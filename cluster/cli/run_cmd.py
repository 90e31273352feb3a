"""`trawl run`, `trawl resume`, `trawl rerun` and `trawl demo`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from cluster.cli.common import AddressOption, DashboardOption, OutputOption, ProvidersOption, QuietOption, fail, fail_spec
from pipelines.errors import SpecError, TrawlError
from pipelines.spec import DEFAULT_OUTPUT
from pipelines.status import CellStatus

console = Console(soft_wrap=True)  # hints and commands stay on one line: copyable from a log or a pipe


def _load(spec: Path):
    from pipelines.spec import load_job

    try:
        return load_job(str(spec))
    except SpecError as exc:
        fail_spec(spec, exc)


def _job_from_ref(ref: str, output: str):
    """A job from a spec path, or from a job id / name recorded in the output folder."""
    if os.path.exists(ref):
        return _load(Path(ref))
    from pipelines.spec import parse_job
    from pipelines.store.reader import read_table

    try:
        jobs = read_table(output, "jobs").to_pylist()  # empty when the folder has no jobs yet
    except TrawlError as exc:
        fail(f"cannot read the jobs of {output}: {exc}")
    matches = [j for j in jobs if ref in (j["job_id"], j["name"])]
    if not matches:
        known = ", ".join(sorted({j["job_id"] for j in jobs})) or "none"
        fail(f"no job or spec file {ref!r} (jobs in {output}: {known})")
    rec = max(matches, key=lambda j: j["created_at"])
    base = os.path.dirname(rec["spec_path"]) if rec.get("spec_path") else None
    try:
        job = parse_job(yaml.safe_load(rec["spec_yaml"]), base_dir=base, source=rec.get("spec_path") or rec["job_id"])
    except SpecError as exc:
        fail(f"stored spec of {rec['job_id']} no longer validates: {exc}")
    job.output = output  # the folder we found it in, even if the spec said a relative path
    return job


def _execute(job, mode: str, *, address: str | None, selector=None, dashboard: bool = True, quiet: bool = False,
             providers: str | None = None):
    from cluster.progress import ProgressView
    from cluster.runner import run_job

    def view(progress, connection):
        if quiet:
            return None
        return ProgressView(progress, f"trawl {mode}: {job.job_id}", dashboard_url=connection.dashboard_url)

    try:
        result = run_job(job, mode=mode, selector=selector, address=address, dashboard=dashboard,
                         providers_file=providers, on_start=view)
    except TrawlError as exc:
        fail(str(exc))
    except OSError as exc:  # e.g. an output folder that cannot be created
        fail(f"cannot write the output {job.output!r}: {exc}")
    s = result.statuses
    total = len(job.rows) * len(job.columns)
    if result.interrupted:
        from cluster.interrupt import interrupt_summary

        for text in interrupt_summary(job_id=result.job_id, mode=mode, output=result.output, wall_s=result.wall_s,
                                      statuses=s, in_flight=result.progress.in_flight, total=total):
            console.print(text, highlight=False, soft_wrap=True)
        raise typer.Exit(130)  # 128 + SIGINT, as a shell reports an interrupted command
    line = " · ".join(f"{n} {status}" for status, n in sorted(s.items()))
    console.print(
        f"\n[bold]{'Interrupted' if result.interrupted else 'Finished'}[/] {result.job_id} ({mode}) in {result.wall_s:.1f} s: "
        f"{line or 'nothing to do'} of {total} cells."
    )
    console.print(f"Results: {result.output}  (trawl query \"SELECT * FROM results\" --output {result.output})")
    if s.get(CellStatus.FAILED) or s.get(CellStatus.BUDGET_EXHAUSTED):
        why = f"SELECT reason, count(*) AS cells FROM cells WHERE job_id = '{result.job_id}' AND reason IS NOT NULL GROUP BY reason"
        console.print(f"Why they failed: trawl query \"{why}\" --output {result.output}")
        console.print(f"Retry failed cells: trawl rerun {result.job_id} --failed --output {result.output}")
    return result


JobRefArgument = Annotated[str, typer.Argument(help="Spec file, job id or job name.")]


def run(
    spec: Path = typer.Argument(..., exists=True, dir_okay=False, help="Job spec YAML."),
    address: AddressOption = None,
    dashboard: DashboardOption = True,
    providers: ProvidersOption = None,
    quiet: QuietOption = False,
):
    """Research every cell of a job.

    Example: trawl run examples/companies.yaml
    """
    _execute(_load(spec), "run", address=address, dashboard=dashboard, quiet=quiet, providers=providers)


def resume(
    job_ref: JobRefArgument,
    output: OutputOption = DEFAULT_OUTPUT,
    address: AddressOption = None,
    dashboard: DashboardOption = True,
    providers: ProvidersOption = None,
    quiet: QuietOption = False,
):
    """Continue an interrupted job: cells already done, failed or skipped are not recomputed.

    Example: trawl resume demo-companies-1a2b3c4d
    """
    job = _job_from_ref(job_ref, output) if not os.path.exists(job_ref) else _load(Path(job_ref))
    _execute(job, "resume", address=address, dashboard=dashboard, quiet=quiet, providers=providers)


def rerun(
    job_ref: JobRefArgument,
    cells: str = typer.Option(None, "--cells", help="Cells to recompute: 'column=ceo', 'row=Acme Robotics', or both."),
    failed: bool = typer.Option(False, "--failed", help="Recompute failed (and over-budget) cells."),
    output: OutputOption = DEFAULT_OUTPUT,
    address: AddressOption = None,
    dashboard: DashboardOption = True,
    providers: ProvidersOption = None,
    quiet: QuietOption = False,
):
    """Recompute chosen cells and every cell that depends on them.

    Example: trawl rerun demo-companies-1a2b3c4d --cells column=ceo
    """
    from pipelines.coordinator import CellSelector

    if not cells and not failed:
        fail("say which cells: --cells 'column=NAME' and/or --failed")
    try:
        selector = CellSelector.parse(cells, failed=failed)
    except ValueError as exc:
        fail(exc)
    job = _job_from_ref(job_ref, output) if not os.path.exists(job_ref) else _load(Path(job_ref))
    unknown = [c for c in selector.columns if c not in job.columns]
    if unknown:
        fail(f"unknown column(s) {', '.join(unknown)} (known: {', '.join(job.columns)})")
    keys = set(job.row_keys())
    unknown = [r for r in selector.rows if r not in keys]
    if unknown:  # a typo'd row key would select nothing and rerun nothing
        fail(f"unknown row key(s) {', '.join(map(repr, unknown))} (the job has {len(keys)} rows keyed by {job.key!r})")
    _execute(job, "rerun", address=address, selector=selector, dashboard=dashboard, quiet=quiet, providers=providers)


def demo(
    companies: int = typer.Option(5, min=1, max=10_000, help="Companies in the generated world (rows)."),
    output: OutputOption = DEFAULT_OUTPUT,
    seed: int = typer.Option(7, help="World seed."),
    hold: bool = typer.Option(None, "--hold/--no-hold", help="Keep Ray and its dashboard up until Enter (default: when interactive)."),
    quiet: QuietOption = False,
):
    """Start the local world, research its companies, print the results table.

    Example: trawl demo --companies 5
    """
    from cluster.demo import run_demo

    run_demo(companies=companies, output=output, seed=seed, hold=sys.stdin.isatty() if hold is None else hold,
             quiet=quiet, execute=_execute, console=console)


COMMANDS = {"run": run, "resume": resume, "rerun": rerun, "demo": demo}
