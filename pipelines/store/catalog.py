"""DuckDB views over the output folder's Parquet tables.

``<output>/trawl.duckdb`` holds only views, no data:

- one view per table (``cells``, ``pages``, ``llm_calls``...), one row per key,
  latest write wins (same rule as ``pipelines.store.reader``). A table with
  no files yet is an empty view with the right columns, so queries never
  fail just because e.g. no LLM call has been recorded.
- ``results``: the newest job as a table, one row per entity (named by the
  job's key field), one column per question, typed by the column's type, and
  ``results_<job name>`` for every job (names made SQL-safe: lower case,
  ``_`` for anything else). Only ``done`` cells have values; others are NULL.

Types in ``results``: integer -> BIGINT, number -> DOUBLE, boolean ->
BOOLEAN, date -> DATE, list -> VARCHAR[], text/url -> VARCHAR. A date that
is not a full ``YYYY-MM-DD`` (e.g. just a year) is NULL there, on purpose:
the column stays a real DATE you can compare and sort; the text as found is
in ``cells.answer`` and ``cells.value_json``.

The file is rebuilt under a temporary name and renamed into place, so it is
open only for the moment of the rebuild and a reader never sees half a
catalog.

Portable: the file's views name the Parquet files *relative to the output
folder* (``cells/job_id=*/part-*.parquet``), so a copied or moved folder's
database reads its own files, never the original's. DuckDB resolves a
relative path against the client's working directory, or against the
folders in its ``file_search_path`` setting
(https://duckdb.org/docs/stable/configuration/overview.html), so open it
from the folder (``cd OUT && duckdb -readonly trawl.duckdb``) or run
``SET file_search_path = 'OUT'`` first. ``trawl query`` builds its views
fresh with absolute paths, so it works from anywhere.

Readable by older clients: the file is written with DuckDB's
``storage_compatibility_version`` = ``STORAGE_VERSION`` (v1.0.0, storage
format 64), which every DuckDB since 1.0 reads (the CLI 1.5.6 reads
formats 64-68; DuckDB 2.0's own default is newer):
https://duckdb.org/docs/stable/internals/storage.html. It holds only views,
so nothing newer is needed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.errors import StoreError
from pipelines.reasons import ERROR_SQL
from pipelines.store.filesystem import is_uri
from pipelines.store.reader import job_columns, part_files, read_table
from pipelines.store.schemas import KEYS, SCHEMAS

__all__ = ["CATALOG_FILE", "CATALOG_STAMP", "STORAGE_VERSION", "RESULT_TYPES", "table_sql", "view_statements", "results_view_statements", "results_sql", "results_view_name", "refresh_catalog", "duckdb_cli_hint", "quote_ident", "quote_literal"]

CATALOG_FILE = "trawl.duckdb"
CATALOG_STAMP = ".trawl.duckdb.sha256"  # what the catalog was built from (refresh_catalog)
STORAGE_VERSION = "v1.0.0"  # the oldest format DuckDB 1.x+ clients read; see the module docstring
RESULT_TYPES = {"integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE", "list": "VARCHAR[]", "text": "VARCHAR", "url": "VARCHAR"}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_string(t):
        return "VARCHAR"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_float64(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_list(t):
        return _duck_type(t.value_type) + "[]"
    raise StoreError(f"no DuckDB type for {t}")


def table_sql(output_dir: str | os.PathLike[str], table: str, relative: bool = False) -> str:
    """SELECT over a table's part files, one row per key (latest wins); an empty typed SELECT when there are none.

    ``relative``: name the files relative to ``output_dir`` (for the portable catalog file).
    """
    schema = SCHEMAS[table]
    if not part_files(output_dir, table):
        cols = ", ".join(f"CAST(NULL AS {_duck_type(f.type)}) AS {quote_ident(f.name)}" for f in schema)
        return f"SELECT {cols} WHERE false"
    base = Path(table) if relative else Path(output_dir).resolve() / table
    pattern = (base / "job_id=*" / "part-*.parquet").as_posix()
    keys = ", ".join(quote_ident(k) for k in KEYS[table])
    cols = ", ".join(quote_ident(f.name) for f in schema)
    return (
        f"SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {keys} "
        f"ORDER BY filename DESC, file_row_number DESC) AS __rank "
        f"FROM read_parquet({quote_literal(pattern)}, filename = true, file_row_number = true, "
        f"hive_partitioning = false, union_by_name = true)) WHERE __rank = 1"
    )


def _typed(column_type: str) -> str:
    """Typed value of one cell, from value_json (falling back to the answer text); invalid JSON reads as NULL."""
    raw = "json_extract_string(CASE WHEN json_valid(value_json) THEN value_json END, '$')"
    text = f"coalesce({raw}, answer)"
    if column_type == "list":
        return "TRY_CAST(json_extract(CASE WHEN json_valid(value_json) THEN value_json END, '$') AS VARCHAR[])"
    sql_type = RESULT_TYPES.get(column_type, "VARCHAR")
    return text if sql_type == "VARCHAR" else f"TRY_CAST(trim({text}) AS {sql_type})"


def results_sql(job: dict[str, Any], cells_source: str = "cells") -> str:
    """One row per entity of ``job`` (a jobs-table record), one typed column per question."""
    key_field = job.get("key_field") or "row_key"
    parts = [f"row_key AS {quote_ident(key_field)}"]
    for column in job_columns(job):
        name = column["name"]
        parts.append(
            f"any_value({_typed(column.get('type', 'text'))}) FILTER (WHERE {quote_ident('column')} = {quote_literal(name)} "
            f"AND status = 'done') AS {quote_ident(name)}"
        )
    return (
        f"SELECT {', '.join(parts)} FROM {cells_source} WHERE job_id = {quote_literal(job['job_id'])} "
        f"GROUP BY row_key ORDER BY row_key"
    )


def results_view_name(job_name: str) -> str:
    return "results_" + (re.sub(r"[^a-z0-9]+", "_", job_name.lower()).strip("_") or "job")


def view_statements(output_dir: str | os.PathLike[str], relative: bool = False) -> list[str]:
    """CREATE VIEW statements for every table and the results views, in dependency order."""
    statements = [f"CREATE OR REPLACE VIEW {quote_ident(t)} AS {_with_compat(t, table_sql(output_dir, t, relative))}" for t in SCHEMAS]
    return statements + results_view_statements(read_table(output_dir, "jobs").to_pylist())


def _with_compat(table: str, select: str) -> str:
    """``cells`` keeps its pre-split ``error`` column as a computed one (``reason: message``)."""
    return f"SELECT *, {ERROR_SQL} AS error FROM ({select})" if table == "cells" else select


def results_view_statements(jobs: list[dict[str, Any]]) -> list[str]:
    """CREATE VIEW statements for ``results`` and ``results_<job name>`` over a ``cells`` relation."""
    statements: list[str] = []
    jobs = list(jobs)
    jobs.sort(key=lambda j: (j["created_at"] is not None, j["created_at"], j["job_id"]))  # oldest first: newest wins a name
    per_name: dict[str, dict[str, Any]] = {}
    for job in jobs:
        per_name[results_view_name(job["name"] or job["job_id"])] = job
    for view, job in per_name.items():
        statements.append(f"CREATE OR REPLACE VIEW {quote_ident(view)} AS {results_sql(job)}")
    if jobs:
        statements.append(f"CREATE OR REPLACE VIEW results AS {results_sql(jobs[-1])}")
    else:
        statements.append("CREATE OR REPLACE VIEW results AS SELECT CAST(NULL AS VARCHAR) AS row_key WHERE false")
    return statements


def refresh_catalog(output_dir: str | os.PathLike[str]) -> Path:
    """Rebuild <output>/trawl.duckdb atomically, unless it already holds exactly these views; returns its path.

    The views name file globs, not files, so new part files of a table never change them; a new
    table partition, job or column does. ``CATALOG_STAMP`` beside the file keeps the SHA-256 of the
    statements the file was built from (with DuckDB's version and the storage format), and an equal
    one skips the rebuild: opening DuckDB and creating the views was a tenth of a second of every
    close, most of a re-run that its caches answer. Raises ``StoreError`` when the file cannot be built.
    """
    import duckdb

    if is_uri(output_dir):
        raise StoreError(f"{output_dir}: a URI output has no trawl.duckdb; `trawl query` reads it through pyarrow")
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final, stamp_file = folder / CATALOG_FILE, folder / CATALOG_STAMP
    statements = view_statements(folder, relative=True)
    stamp = hashlib.sha256("\n".join([duckdb.__version__, STORAGE_VERSION, *statements]).encode("utf-8")).hexdigest()
    try:  # the stamp names the file it was written for too: a catalog rebuilt by anything else is rebuilt here
        if stamp_file.read_text(encoding="utf-8").strip() == f"{stamp} {_file_id(final)}":
            return final
    except OSError:
        pass  # no stamp or no catalog yet: build
    tmp = folder / f".{CATALOG_FILE}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        stamp_file.unlink(missing_ok=True)  # a crash below leaves no stamp, so the next close rebuilds
        con = duckdb.connect(str(tmp), config={"storage_compatibility_version": STORAGE_VERSION})
        try:
            con.execute(f"SET file_search_path = {quote_literal(str(folder.resolve()))}")  # binds the relative paths
            for statement in statements:
                con.execute(statement)
        finally:
            con.close()
        os.replace(tmp, final)
        stamp_file.write_text(f"{stamp} {_file_id(final)}\n", encoding="utf-8")
    except (duckdb.Error, OSError) as err:
        raise StoreError(f"cannot build {final}: {err}") from None
    finally:
        for leftover in (tmp, Path(f"{tmp}.wal")):
            if leftover.exists():
                leftover.unlink()
    return final


def _file_id(path: Path) -> str:
    st = path.stat()
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def duckdb_cli_hint(output_dir: str | os.PathLike[str]) -> str:
    """The shell command that opens ``output_dir``'s catalog in the DuckDB CLI (its views resolve from the folder)."""
    return f"cd {shlex.quote(str(output_dir))} && duckdb -readonly {CATALOG_FILE}"
