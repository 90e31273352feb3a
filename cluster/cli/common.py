"""What every CLI module shares: the one error helper and the shared options.

Options are ``typing.Annotated`` aliases (typer's way of sharing a parameter
declaration, https://typer.tiangolo.com/tutorial/options/help/), used as
``output: OutputOption = DEFAULT_OUTPUT``; a command module lists its commands
in ``COMMANDS`` (and sub-apps in ``GROUPS``) and ``cluster.cli`` registers them,
so there is one way to add a command.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.text import Text

from pipelines.errors import SpecError

__all__ = [
    "fail", "fail_spec", "OutputOption", "AddressOption", "ProvidersOption", "DashboardOption", "QuietOption",
    "OutFileOption", "JsonOption", "stderr",
]

logger = logging.getLogger(__name__)

stderr = Console(stderr=True, highlight=False, soft_wrap=True)  # messages stay whole: copyable, greppable


def fail(message: object, code: int = 1) -> NoReturn:
    """Print ``error: <message>`` on stderr (the message verbatim, never read as markup) and exit with ``code``."""
    stderr.print(Text.assemble(("error: ", "red"), str(message)))
    raise typer.Exit(code)


def fail_spec(source: object, exc: SpecError) -> NoReturn:
    """Every problem of a bad spec, one per line with its field path, then exit 1."""
    stderr.print(Text(f"{source}: {len(exc.problems)} problem(s):", style="red"))
    for problem in exc.problems:
        stderr.print(Text(f"  - {problem}"))
    raise typer.Exit(1)


OutputOption = Annotated[str, typer.Option("--output", "-o", envvar="TRAWL_OUTPUT", help="Output folder of the jobs.")]
AddressOption = Annotated[Optional[str], typer.Option(
    "--address", envvar="RAY_ADDRESS", help="Ray cluster address; default: a local Ray started for this run.")]
ProvidersOption = Annotated[Optional[str], typer.Option(
    "--providers", envvar="TRAWL_PROVIDERS",
    help="LLM provider profiles file (default: $TRAWL_PROVIDERS, then ~/.config/trawl/providers.yaml).")]
DashboardOption = Annotated[bool, typer.Option(help="Start the Ray dashboard with a local Ray.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No live progress view.")]
OutFileOption = Annotated[Optional[Path], typer.Option("--out", help="Write to this file instead of stdout.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
