"""`trawl query`, `trawl export`, `trawl jobs`: the output folder from the command line."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import typer

from cluster.cli.common import OutFileOption, OutputOption, fail
from cluster.cli.tables import FORMAT_OPTION, Col, TableFormat, emit
from pipelines.errors import TrawlError
from pipelines.spec import DEFAULT_OUTPUT, slugify
from pipelines.store.filesystem import is_uri
from pipelines.store.query import query, results_table
from pipelines.store.reader import find_job, list_jobs

TABLE_ROWS_SHOWN = 1000


class QueryFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    jsonl = "jsonl"


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(_plain(value))


def _csv_ready(table: pa.Table) -> pa.Table:
    """CSV has no lists: list columns become JSON text."""
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type) or pa.types.is_struct(field.type):
            values = [None if v is None else json.dumps(v, default=str) for v in table.column(i).to_pylist()]
            table = table.set_column(i, pa.field(field.name, pa.string()), pa.array(values, pa.string()))
    return table


def _write(table: pa.Table, fmt: str, out: Path | None) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        if out is None:
            raise TrawlError("--format parquet needs --out FILE")
        pq.write_table(table, out)
        return
    if fmt == "csv":
        buf = io.BytesIO()
        pacsv.write_csv(_csv_ready(table), buf)
        text = buf.getvalue().decode()
    elif fmt == "jsonl":
        text = "".join(json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False) + "\n" for row in table.to_pylist())
    else:  # json
        text = json.dumps([{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()], ensure_ascii=False, indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


def _print_table(table: pa.Table) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    view = Table(show_lines=False)
    for name in table.column_names:
        view.add_column(Text(name), overflow="fold")
    for row in table.slice(0, TABLE_ROWS_SHOWN).to_pylist():
        view.add_row(*(Text(_cell_text(v)) for v in row.values()))
    console = Console()
    console.print(view)
    if table.num_rows > TABLE_ROWS_SHOWN:
        console.print(f"(first {TABLE_ROWS_SHOWN:,} of {table.num_rows:,} rows; use --format csv for all)")
    else:
        console.print(f"({table.num_rows:,} row{'s' if table.num_rows != 1 else ''})")


def query_cmd(
    sql: str = typer.Argument(..., help="SQL (SELECT only). Views: results, results_<job>, jobs, cells, keywords, search_results, pages, excerpts, llm_calls, search_calls."),
    output: OutputOption = DEFAULT_OUTPUT,
    fmt: QueryFormat = typer.Option(QueryFormat.table, "--format", "-f", help="table (for people), csv, json, or parquet (needs --out)."),
    out: OutFileOption = None,
) -> None:
    """Run read-only SQL over the output folder.

    Example:  trawl query "SELECT * FROM results"
    Example:  trawl query 'SELECT "gen_ai.request.model", count(*) FROM llm_calls GROUP BY 1' --format csv
    """
    try:
        table = query(output, sql)
        if fmt == QueryFormat.table and out is None:
            _print_table(table)
        else:
            _write(table, "csv" if fmt == QueryFormat.table else fmt.value, out)
    except TrawlError as err:
        fail(err)
    except OSError as err:  # --out in a missing folder, or a folder
        fail(f"cannot write {out}: {err.strerror or err}")


def export_cmd(
    job: str = typer.Argument(..., help="Job id, or job name (the newest job with that name)."),
    output: OutputOption = DEFAULT_OUTPUT,
    fmt: ExportFormat = typer.Option(ExportFormat.csv, "--format", "-f", help="csv, parquet or jsonl."),
    out: Path | None = typer.Option(None, "--out", help="File to write; default stdout (csv, jsonl) or <job>-results.parquet."),
) -> None:
    """Write a job's results table: one row per entity, one column per question.

    Example:  trawl export demo-companies --format csv --out companies.csv
    """
    try:
        table = results_table(output, job)
        if fmt == ExportFormat.parquet and out is None:
            out = Path(f"{slugify(find_job(output, job)['name'] or job)}-results.parquet")
        _write(table, fmt.value, out)
        if out is not None:
            typer.echo(f"wrote {table.num_rows:,} rows to {out}", err=True)
    except TrawlError as err:
        fail(err)
    except OSError as err:  # --out in a missing folder, or a folder
        fail(f"cannot write {out}: {err.strerror or err}")


JOBS_COLUMNS = [
    Col("job_id", "job id", priority=0),
    Col("name", "name", priority=1, fold=True),
    Col("status", "status", priority=0),
    Col("rows", "rows", lambda v: f"{v or 0:,}", 2, right=True),
    Col("cells", "cells", lambda v: f"{v or 0:,}", 2, right=True),
    Col("counts", "cells by status", lambda v: ", ".join(f"{state} {n:,}" for state, n in (v or {}).items() if n), 3, fold=True),
    Col("created_at", "created (UTC)", lambda v: v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if v else "", 4),
]


def jobs_cmd(output: OutputOption = DEFAULT_OUTPUT, fmt: TableFormat = FORMAT_OPTION) -> None:
    """List the jobs in the output folder with their status and cells by status.

    Example:  trawl jobs --output ./trawl-data
    Example:  trawl jobs --format json
    """
    try:
        if not is_uri(output) and not Path(output).is_dir():
            raise TrawlError(f"no output folder at {output} (run a job first, or pass --output)")
        jobs = list_jobs(output)
    except TrawlError as err:
        fail(err)
    if not jobs and fmt == TableFormat.table:
        typer.echo(f"no jobs in {output}")
        return
    rows = [{c.key: job.get(c.key) for c in JOBS_COLUMNS} for job in jobs]
    emit(rows, JOBS_COLUMNS, fmt)


COMMANDS = {"query": query_cmd, "export": export_cmd, "jobs": jobs_cmd}
