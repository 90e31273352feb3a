"""`trawl dashboard`: trawl's Grafana dashboard into a running Ray, and how to attach Prometheus and Grafana."""

from __future__ import annotations

import typer
from rich.console import Console

from cluster.dashboard import auth_hint
from cluster.grafana import attach_steps, install_dashboard, session_dir

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def dashboard(
        ray_dir: str = typer.Option(None, help="Ray's temp folder (default: $RAY_TMPDIR/ray, else /tmp/ray)."),
    ) -> None:
        """Install trawl's Grafana dashboard into the running Ray session and print how to see its charts."""
        session = session_dir(ray_dir)
        try:
            path = install_dashboard(session)
        except FileNotFoundError as exc:
            console.print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        console.print(f"trawl's Grafana dashboard: {path} (Grafana folder 'Ray', title 'trawl')", highlight=False)
        for line in attach_steps(session):
            console.print(line, highlight=False, soft_wrap=True)
        if (hint := auth_hint()) is not None:
            console.print(f"# {hint}", highlight=False)
