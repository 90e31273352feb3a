"""The `trawl` command: a thin layer over the library.

Each command module lists its commands in ``COMMANDS`` (name -> function; the
docstring is the help, with an ``Example:`` line) and sub-apps in ``GROUPS``;
they are registered here, the one way to add a command. Shared options and
the one error helper live in ``cluster.cli.common``. A command parses
arguments, calls one library function and formats the result; library errors
become clean messages in the CLI and nowhere else.
"""

from __future__ import annotations

import typer

from cluster.cli import cluster_cmd, dashboard_cmd, estimate_cmd, llm_cmd, run_cmd, search_cmd, spec_cmd, store_cmd, world_cmd
from pipelines.version import __version__

__all__ = ["app", "main"]

app = typer.Typer(
    name="trawl",
    help="Research a table of entities x questions on the web, on Ray, with cited answers in Parquet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"trawl {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print trawl's version and exit."),
) -> None:
    """Research a table of entities x questions on the web, on Ray, with cited answers in Parquet."""


for module in (spec_cmd, estimate_cmd, run_cmd, store_cmd, world_cmd, llm_cmd, search_cmd, cluster_cmd, dashboard_cmd):
    for name, command in module.COMMANDS.items():
        app.command(name)(command)
    for name, group in getattr(module, "GROUPS", {}).items():
        app.add_typer(group, name=name)


def main() -> None:
    app()
