"""The `trawl` command: a thin layer over the library.

Each command group lives in its own module and registers itself on ``app``;
a command parses arguments, calls one library function and formats the
result. Library errors become clean messages here and nowhere else.
"""

from __future__ import annotations

import typer

from cluster.cli import cluster_cmd, dashboard_cmd, llm_cmd, run_cmd, search_cmd, spec_cmd, store_cmd, world_cmd

__all__ = ["app", "main"]

app = typer.Typer(
    name="trawl",
    help="Research a table of entities x questions on the web, on Ray, with cited answers in Parquet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (spec_cmd, run_cmd, store_cmd, world_cmd, llm_cmd, search_cmd, cluster_cmd, dashboard_cmd):
    module.register(app)


def main() -> None:
    app()
