"""How every CLI table is printed: ``--format table|csv|json``, key columns whole at any width.

A table is a list of row dicts plus ``Col`` specs. As a rich table, key
columns (``priority=0``) never wrap or get cut: they are as wide as their
longest value. When the console is too narrow for every column at its
natural width (80 columns, or a pipe, where rich assumes 80), the columns with
the highest ``priority`` number are left out first and a note says which, so
``trawl llm-stats | cat`` still shows provider and model names whole
(rich's column options: https://rich.readthedocs.io/en/stable/tables.html#column-options).
``csv`` and ``json`` print every column, untruncated, for scripts.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["Col", "TableFormat", "FORMAT_OPTION", "emit"]

# Width rich spends per column besides its content: one padding space each side and one border.
_COLUMN_CHROME = 3
# Narrowest a ``fold`` column is made before columns are left out instead.
FOLD_MIN_WIDTH = 16


class TableFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FORMAT_OPTION = typer.Option(TableFormat.table, "--format", "-f", help="table (for people), csv or json (every column, for scripts).")


@dataclass(frozen=True)
class Col:
    """One column: ``key`` in the row dicts, its ``title``, how a value prints, and how soon it is dropped when narrow.

    ``priority`` 0 marks a key column (always shown); higher numbers are dropped first. Only ``fold``
    columns (long text: URLs, titles) may wrap onto more lines, whole, when narrow; no column is ever cut.
    """

    key: str
    title: str
    fmt: Callable[[Any], str] = lambda v: "" if v is None else str(v)
    priority: int = 1
    right: bool = False
    fold: bool = False


def emit(rows: list[dict], cols: list[Col], fmt: TableFormat, title: str | None = None, console: Console | None = None) -> None:
    """Print ``rows`` as a table (fitted to the console), CSV (header + rows) or a JSON list of objects (raw values)."""
    if fmt == TableFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    if fmt == TableFormat.csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([c.key for c in cols])
        for row in rows:
            writer.writerow(["" if row.get(c.key) is None else _csv_value(row.get(c.key)) for c in cols])
        sys.stdout.write(buf.getvalue())
        return
    console = console or Console()
    shown, hidden = _fit(rows, cols, console.width)
    table = Table(title=title)
    for c in shown:
        width = _natural(rows, c)
        table.add_column(Text(c.title), justify="right" if c.right else "left", no_wrap=not c.fold,
                         min_width=min(width, FOLD_MIN_WIDTH) if c.fold else width, overflow="fold")
    for row in rows:
        table.add_row(*(Text(c.fmt(row.get(c.key))) for c in shown))
    console.print(table)
    if hidden:
        console.print(f"({len(hidden)} column(s) left out at width {console.width}: {', '.join(c.title for c in hidden)}; "
                      "widen the terminal or use --format csv/json)")


def _csv_value(value: Any) -> Any:
    return json.dumps(value, default=str) if isinstance(value, (dict, list)) else value


def _natural(rows: list[dict], col: Col) -> int:
    return max([len(col.title), *(len(col.fmt(r.get(col.key))) for r in rows)])


def _fit(rows: list[dict], cols: list[Col], width: int) -> tuple[list[Col], list[Col]]:
    """The columns that fit ``width`` (fold columns at ``FOLD_MIN_WIDTH`` at least), dropping the highest priority numbers first."""
    natural = {c.key: min(_natural(rows, c), FOLD_MIN_WIDTH) if c.fold else _natural(rows, c) for c in cols}
    shown = list(cols)
    hidden: list[Col] = []
    while sum(natural[c.key] + _COLUMN_CHROME for c in shown) + 1 > width:
        droppable = [c for c in shown if c.priority > 0]
        if not droppable:
            break
        drop = max(droppable, key=lambda c: (c.priority, cols.index(c)))
        shown.remove(drop)
        hidden.append(drop)
    return shown, hidden
