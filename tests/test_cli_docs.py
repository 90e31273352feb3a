"""Docs that cannot drift: every command of the typer app itself has help with an example and a README row.

Walks ``cluster.cli.app`` (groups included), so a new command is checked the
moment it is registered; nothing here lists the commands by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from cluster.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _leaves(command, path: tuple[str, ...] = ()) -> list[tuple[str, object]]:
    """(full name, command) of every runnable command; typer vendors click, so groups are told by their ``commands``."""
    if getattr(command, "commands", None):
        return [leaf for name, sub in sorted(command.commands.items()) for leaf in _leaves(sub, (*path, name))]
    return [(" ".join(path), command)]


COMMANDS = _leaves(typer.main.get_command(app))


def _readme_commands_table() -> str:
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_the_walk_finds_every_registered_command():
    names = {name for name, _ in COMMANDS}
    assert {"run", "resume", "rerun", "demo", "llm-stats", "search", "index", "world up", "world down", "query"} <= names


@pytest.mark.parametrize("name, command", COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_command_has_help_with_an_example_and_a_readme_row(name, command):
    assert command.help and command.help.strip(), f"trawl {name} has no help text"
    assert re.search(rf"Example:\s+trawl {re.escape(name)}\b", command.help), f"trawl {name} --help shows no 'Example: trawl {name} ...'"
    assert f"`trawl {name}" in _readme_commands_table(), f"README's commands table has no row for `trawl {name}`"


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS])
def test_every_command_help_renders_in_80_columns(name):
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output
