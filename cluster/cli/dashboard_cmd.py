"""`trawl dashboard`: trawl's Grafana dashboard into a running Ray, and how to attach Prometheus and Grafana."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console

from cluster.cli.common import fail
from cluster.dashboard import auth_hint
from cluster.grafana import attach_steps, install_dashboard, session_dir

__all__ = ["COMMANDS"]

console = Console()


def dashboard(
    ray_dir: Optional[str] = typer.Option(None, help="Ray's temp folder (default: $RAY_TMPDIR/ray, else /tmp/ray)."),
) -> None:
    """Install trawl's Grafana dashboard into the running Ray session and print how to see its charts.

    Example: trawl dashboard
    Example: trawl dashboard --ray-dir /tmp/ray
    """
    session = session_dir(ray_dir)
    try:
        path = install_dashboard(session)
    except FileNotFoundError as exc:
        fail(exc)
    console.print(f"trawl's Grafana dashboard: {path} (Grafana folder 'Ray', title 'trawl')", highlight=False)
    for line in attach_steps(session):
        console.print(line, highlight=False, soft_wrap=True)
    if (hint := auth_hint()) is not None:
        console.print(f"# {hint}", highlight=False)


COMMANDS = {"dashboard": dashboard}
