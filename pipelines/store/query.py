"""Read-only SQL over an output folder (what ``trawl query`` runs).

Each query gets a private in-memory DuckDB with the same views as
``trawl.duckdb`` (built fresh, so it never waits for, or blocks, the writer's
lock on the catalog file, and it sees files written a moment ago). Safety
is layered:

1. Only SELECT statements (and EXPLAIN of a SELECT) are accepted, checked
   per statement with ``duckdb.extract_statements`` before anything runs:
   UPDATE, INSERT, DELETE, DROP, CREATE, COPY ... TO, ATTACH, INSTALL, LOAD,
   SET, PRAGMA, EXPORT, CALL... raise :class:`ReadOnlyQueryError`.
2. File access is limited to the output folder (``allowed_directories``
   with ``enable_external_access = false``), so ``read_csv('/etc/passwd')``
   or ``read_parquet`` of other paths fail; extension autoloading is off;
   then ``lock_configuration`` stops a query from loosening any of this.
3. The database is in memory and thrown away, so even a statement that got
   through could change nothing on disk.

A URI output (``s3://bucket/prefix``; ``pipelines.store.filesystem``) is read
through pyarrow filesystems instead: the tables a query names are read
(deduplicated, latest write wins) and registered as Arrow tables under the
same view names, so the same SQL works without DuckDB's httpfs extension and
with no file access at all. Each query reads the tables it names in full;
for large outputs, sync the folder to local disk and query the copy.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.errors import ReadOnlyQueryError, StoreError
from pipelines.store.catalog import results_sql, results_view_statements, view_statements
from pipelines.store.filesystem import is_uri
from pipelines.store.reader import find_job, read_table
from pipelines.store.schemas import SCHEMAS

__all__ = ["query", "results_table", "MAX_SQL_CHARS"]

MAX_SQL_CHARS = 100_000
_EXPLAIN = re.compile(r"^\s*explain\s+(analyze\s+)?", re.IGNORECASE)


def _lock_down(con) -> None:
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _connect_remote(output_dir: str, sql: str | None):
    """Views of a URI output as registered Arrow tables (only those the SQL names; all when sql is None)."""
    import duckdb

    words = set(re.findall(r"[a-z_][a-z0-9_]*", sql.lower())) if sql is not None else None
    wants_results = words is None or any(w == "results" or w.startswith("results_") for w in words)
    con = duckdb.connect(":memory:")
    try:
        for table in SCHEMAS:
            if words is None or table in words or (wants_results and table in ("cells", "jobs")):
                con.register(table, read_table(output_dir, table))
            else:
                con.register(table, SCHEMAS[table].empty_table())
        for statement in results_view_statements(read_table(output_dir, "jobs").to_pylist()):
            con.execute(statement)
        _lock_down(con)
    except Exception:
        con.close()
        raise
    return con


def _connect(output_dir: str | os.PathLike[str], sql: str | None = None):
    import duckdb

    if is_uri(output_dir):
        return _connect_remote(str(output_dir), sql)
    folder = Path(output_dir)
    if not folder.is_dir():
        raise StoreError(f"no output folder at {folder} (run a job first, or pass --output)")
    con = duckdb.connect(":memory:")
    try:
        for statement in view_statements(folder):
            con.execute(statement)
        # DuckDB also allows its temp_directory (default: <cwd>/.tmp); keep that inside the folder too.
        con.execute("SET temp_directory = $1", [str(folder.resolve() / ".tmp")])
        con.execute("SET allowed_directories = $1", [[str(folder.resolve()) + os.sep]])
        _lock_down(con)
    except Exception:
        con.close()
        raise
    return con


def _check_read_only(sql: str) -> None:
    import duckdb

    if len(sql) > MAX_SQL_CHARS:
        raise StoreError(f"query is longer than {MAX_SQL_CHARS:,} characters")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as err:
        raise StoreError(f"SQL error: {err}") from None
    if not statements:
        raise StoreError("empty query")
    for statement in statements:
        kind = statement.type
        if kind == duckdb.StatementType.EXPLAIN:
            inner = _EXPLAIN.sub("", statement.query, count=1)
            inner_types = [s.type for s in duckdb.extract_statements(inner)] if inner != statement.query else []
            if inner_types and all(t == duckdb.StatementType.SELECT for t in inner_types):
                continue
        elif kind == duckdb.StatementType.SELECT:
            continue
        first = statement.query.strip().split(None, 1)[0].upper() if statement.query.strip() else kind.name
        raise ReadOnlyQueryError(
            f"trawl query is read-only: {first} statements are not allowed (only SELECT queries); nothing was changed"
        )


def query(output_dir: str | os.PathLike[str], sql: str, params: list[Any] | None = None) -> pa.Table:
    """Run read-only SQL against the output folder's views; returns the last statement's result.

    Raises ReadOnlyQueryError for anything but SELECT or for file access outside the folder,
    StoreError for other SQL errors.
    """
    import duckdb

    _check_read_only(sql)
    for attempt in (1, 2):
        con = _connect(output_dir, sql)
        try:
            statements = duckdb.extract_statements(sql)
            result = None
            for i, statement in enumerate(statements):
                args = params if (params and i == len(statements) - 1) else None
                result = con.sql(statement.query, params=args) if args else con.sql(statement.query)
            if result is None:
                raise StoreError("empty query")
            return result.to_arrow_table()
        except duckdb.PermissionException as err:
            raise ReadOnlyQueryError(f"trawl query may only read files inside {output_dir}: {_first_line(err)}") from None
        except duckdb.CatalogException as err:  # a typo'd table: DuckDB's own hint points at its system tables
            from pipelines.store.schemas import TABLES

            raise StoreError(f"SQL error: {_first_line(err).split(' Did you mean')[0]} (tables: results, {', '.join(TABLES)})") from None
        except duckdb.IOException as err:
            if attempt == 1:  # the writer compacted a partition between listing and reading: list again
                continue
            raise StoreError(f"SQL error: {_first_line(err)}") from None
        except duckdb.Error as err:
            raise StoreError(f"SQL error: {_first_line(err)}") from None
        finally:
            con.close()
    raise AssertionError("unreachable")


def results_table(output_dir: str | os.PathLike[str], job_id_or_name: str) -> pa.Table:
    """The wide results table (one row per entity, typed columns) of a job given by id or name."""
    import duckdb

    job = find_job(output_dir, job_id_or_name)
    con = _connect(output_dir, "results")
    try:
        return con.sql(results_sql(job)).to_arrow_table()
    except duckdb.Error as err:
        raise StoreError(f"cannot build results for {job['job_id']}: {_first_line(err)}") from None
    finally:
        con.close()


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
