"""`trawl submit`, `trawl status`, `trawl logs`, `trawl stop`: jobs on a Ray cluster through Ray's Jobs API."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cluster.cli.common import fail, fail_spec
from pipelines.errors import SpecError, TrawlError

console = Console(soft_wrap=True)  # ids and URLs stay on one line, copyable

ADDRESS_HELP = "Ray dashboard (Jobs API) address of the cluster, e.g. http://HEAD:8265."


def _address_option():
    return typer.Option(
        "http://127.0.0.1:8265", "--address", "-a", envvar=["RAY_API_SERVER_ADDRESS", "RAY_ADDRESS"], help=ADDRESS_HELP,
    )


def _time(ms: int | None) -> str:
    if not ms:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def submit(
    spec: Path = typer.Argument(..., exists=True, dir_okay=False, help="Job spec YAML."),
    address: str = _address_option(),
    output: str = typer.Option(
        None, "--output", "-o",
        help="Where the job writes, as seen from the head: an absolute path (shared by the nodes) or s3://bucket/prefix. "
             "Default: the spec's output, which must then be absolute or a URI.",
    ),
    ship_code: bool = typer.Option(True, "--ship-code/--installed-code", help="Ship this checkout's code (py_modules) or use the cluster's installed trawl."),
    pip: bool = typer.Option(False, "--pip", help="Install the pinned dependencies in the job's runtime_env (cluster has only Ray)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Stream the job's log until it ends."),
):
    """Submit a job to a Ray cluster (Jobs API); prints its submission id.

    Example: trawl submit examples/companies.yaml --address http://127.0.0.1:8265 --output s3://my-bucket/trawl
    """
    from cluster.submit import job_logs, submit_job

    try:
        sub = submit_job(spec, address, output=output, ship_code=ship_code, pip=pip)
    except SpecError as exc:
        fail_spec(spec, exc)
    except TrawlError as exc:
        fail(exc)
    console.print(f"Submitted {sub.name} ({sub.job_id}) as [bold]{sub.submission_id}[/]", highlight=False)
    console.print(f"  output    {sub.output}", highlight=False)
    console.print(f"  dashboard {address.rstrip('/')}/#/jobs", highlight=False)
    console.print(f"  follow    trawl logs {sub.submission_id} --follow --address {address}", highlight=False)
    console.print(f"  status    trawl status {sub.submission_id} --address {address}", highlight=False)
    if follow:
        try:
            for text in job_logs(address, sub.submission_id, follow=True):
                print(text, end="", flush=True)
        except TrawlError as exc:
            fail(exc)


def status(
    submission_id: str = typer.Argument(..., help="Submission id printed by `trawl submit`."),
    address: str = _address_option(),
):
    """Status of a submitted job (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED); exit code 1 if it failed.

    Example: trawl status trawl-demo-companies-55eff3d18e-20261122T031500 --address http://127.0.0.1:8265
    """
    from cluster.submit import job_status

    try:
        info = job_status(address, submission_id)
    except TrawlError as exc:
        fail(exc)
    table = Table(show_header=False, box=None)
    meta = info["metadata"]
    for label, value in (
        ("submission", info["submission_id"]), ("status", info["status"]), ("job", meta.get("trawl_job_id", "-")),
        ("output", meta.get("trawl_output", "-")), ("started", _time(info["start_time"])),
        ("ended", _time(info["end_time"])), ("message", info["message"] or "-"),
    ):
        table.add_row(label, str(value))
    console.print(table)
    if info["status"] == "FAILED":
        raise typer.Exit(1)


def logs(
    submission_id: str = typer.Argument(..., help="Submission id printed by `trawl submit`."),
    address: str = _address_option(),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new output until the job ends."),
):
    """The driver log of a submitted job.

    Example: trawl logs trawl-demo-companies-55eff3d18e-20261122T031500 --follow
    """
    from cluster.submit import job_logs

    try:
        for text in job_logs(address, submission_id, follow=follow):
            print(text, end="", flush=True)
    except TrawlError as exc:
        fail(exc)


def stop(
    submission_id: str = typer.Argument(..., help="Submission id printed by `trawl submit`."),
    address: str = _address_option(),
):
    """Stop a submitted job; `trawl resume` continues it later without recomputing done cells.

    Example: trawl stop trawl-demo-companies-55eff3d18e-20261122T031500
    """
    from cluster.submit import stop_job

    try:
        stopped = stop_job(address, submission_id)
    except TrawlError as exc:
        fail(exc)
    console.print(f"{submission_id}: {'stop requested' if stopped else 'already finished'}", highlight=False)


COMMANDS = {"submit": submit, "status": status, "logs": logs, "stop": stop}
