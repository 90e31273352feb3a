"""Read the output folder's Parquet tables, deduplicated by key (latest write wins).

Layout, shared with the writer and the DuckDB views::

    <output>/<table>/job_id=<id>/part-<time_ns>-<pid>-<seq>.parquet

``<output>`` is a local folder or a filesystem URI (``s3://bucket/prefix``,
``file:///shared/trawl``; see ``pipelines.store.filesystem``): URI outputs are
listed and read through pyarrow filesystems, local ones with plain paths.

Part names sort in write order, so "latest" means: the last row for a key in
the last file (by name) that holds it. This is the same rule the DuckDB views
apply, so Python readers and SQL see the same rows before and after
compaction.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.errors import StoreError
from pipelines.reasons import error_column, split_reason
from pipelines.status import CellStatus
from pipelines.store.filesystem import RemoteOutput, remote_output
from pipelines.store.schemas import CELL_STATUSES, KEYS, SCHEMAS

__all__ = [
    "partition_dir",
    "part_files",
    "job_ids_on_disk",
    "dedup_latest",
    "read_table",
    "previous_state",
    "list_jobs",
    "find_job",
    "check_job_id",
    "job_columns",
]

_JOB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
PART_GLOB = "part-*.parquet"


def check_job_id(job_id: Any) -> str:
    """job_id names a folder, so it must be a plain, non-empty name."""
    if not isinstance(job_id, str) or not _JOB_ID_RE.match(job_id):
        raise StoreError(f"invalid job_id {job_id!r}: use letters, digits, '.', '_' and '-'")
    return job_id


def check_table(table: str) -> None:
    if table not in SCHEMAS:
        raise StoreError(f"unknown table '{table}' (tables: {', '.join(SCHEMAS)})")


def partition_dir(output_dir: str | os.PathLike[str], table: str, job_id: str) -> Path:
    return Path(output_dir) / table / f"job_id={check_job_id(job_id)}"


def job_ids_on_disk(output_dir: str | os.PathLike[str], table: str) -> list[str]:
    remote = remote_output(output_dir)
    if remote is not None:
        return [name[len("job_id="):] for name in remote.subdirs(remote.path(table)) if name.startswith("job_id=")]
    root = Path(output_dir) / table
    if not root.is_dir():
        return []
    return sorted(p.name[len("job_id="):] for p in root.iterdir() if p.is_dir() and p.name.startswith("job_id="))


def part_files(output_dir: str | os.PathLike[str], table: str, job_id: str | None = None) -> list[Path]:
    """Part files of one partition (or all partitions), each partition in write order.

    For a URI output the items are paths inside its filesystem (str), not local Paths.
    """
    check_table(table)
    jobs = [job_id] if job_id is not None else job_ids_on_disk(output_dir, table)
    files: list = []  # Paths, or str paths inside a URI output's filesystem
    remote = remote_output(output_dir)
    for jid in jobs:
        if remote is not None:
            files += remote.files(remote.path(table, f"job_id={check_job_id(jid)}"), PART_GLOB)
            continue
        files += sorted(partition_dir(output_dir, table, jid).glob(PART_GLOB))
    return files


def dedup_latest(table: pa.Table, keys: Iterable[str]) -> pa.Table:
    """Keep the last row of each key (rows are in write order); survivors keep their relative order."""
    keys = list(keys)
    if table.num_rows == 0:
        return table
    order = pa.array(range(table.num_rows), type=pa.int64())
    indexed = table.select(keys).append_column("__i", order)
    last = indexed.group_by(keys, use_threads=False).aggregate([("__i", "max")]).column("__i_max")
    if len(last) == table.num_rows:
        return table
    return table.take(pc.take(last, pc.sort_indices(last)))


def _read_files(files: list, table: str, remote: RemoteOutput | None = None) -> pa.Table:
    schema = SCHEMAS[table]
    parts = []
    for path in files:
        try:
            part = remote.read_parquet(path) if remote is not None else pq.read_table(path)
        except FileNotFoundError:
            raise
        except (pa.ArrowException, OSError) as err:
            raise StoreError(f"cannot read {path}: {err}") from None
        if table == "cells" and "error" in part.column_names and "reason" not in part.column_names:
            part = _split_error_column(part)  # a file written before cells.error was split
        missing = [f for f in schema if f.name not in part.column_names]
        for field in missing:  # files from an older schema: absent columns read as null
            part = part.append_column(field, pa.nulls(part.num_rows, field.type))
        parts.append(part.select(schema.names).cast(schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def read_table(output_dir: str | os.PathLike[str], table: str, job_id: str | None = None) -> pa.Table:
    """One table (optionally one job's partition), one row per key, latest write wins."""
    remote = remote_output(output_dir)
    try:
        data = _read_files(part_files(output_dir, table, job_id), table, remote)
    except FileNotFoundError:  # the writer compacted a partition between listing and reading: list again
        data = _read_files(part_files(output_dir, table, job_id), table, remote)
    data = dedup_latest(data, KEYS[table])
    if table == "cells":  # the compatibility column, as in the DuckDB view
        data = data.append_column("error", pa.array(error_column(data.column("reason").to_pylist(), data.column("message").to_pylist()), pa.string()))
    return data


def _split_error_column(part: pa.Table) -> pa.Table:
    pairs = [split_reason(e) for e in part.column("error").to_pylist()]
    part = part.drop_columns(["error"])
    part = part.append_column("reason", pa.array([r for r, _ in pairs], pa.string()))
    return part.append_column("message", pa.array([m for _, m in pairs], pa.string()))


def previous_state(output_dir: str | os.PathLike[str], job_id: str) -> tuple[dict[tuple[str, str], str], dict[str, dict[str, str]]]:
    """What earlier runs of a job left: ``{(row_key, column): status}`` of every recorded cell, and the
    answers of done cells as ``{row_key: {column: answer}}`` (for resume and rerun).

    A job with nothing written yet has ``({}, {})``. Raises ``StoreError`` naming the job when its
    ``cells`` table exists but cannot be read: a resume must not mistake that for "nothing done".
    """
    try:
        cells = read_table(output_dir, "cells", job_id)
    except StoreError as err:
        raise StoreError(f"cells of job {job_id} cannot be read, so it cannot be resumed: {err}") from None
    statuses: dict[tuple[str, str], str] = {}
    answers: dict[str, dict[str, str]] = {}
    for rec in cells.select(["row_key", "column", "status", "answer"]).to_pylist():
        statuses[(rec["row_key"], rec["column"])] = rec["status"]
        if rec["status"] == CellStatus.DONE:
            answers.setdefault(rec["row_key"], {})[rec["column"]] = rec["answer"] or ""
    return statuses, answers


def list_jobs(output_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every job in the folder, newest first: id, name, status, rows, cells, times and cell counts by status."""
    jobs = read_table(output_dir, "jobs").to_pylist()
    counts: dict[str, dict[str, int]] = {}
    cells = read_table(output_dir, "cells").select(["job_id", "status"])
    if cells.num_rows:
        grouped = cells.group_by(["job_id", "status"], use_threads=False).aggregate([("status", "count")])
        for jid, status, n in zip(*(grouped.column(c).to_pylist() for c in ("job_id", "status", "status_count"))):
            counts.setdefault(jid, {})[status] = n
    out = []
    for job in jobs:
        by_status: dict[str, int] = {s: 0 for s in CELL_STATUSES}
        by_status.update(counts.get(job["job_id"], {}))
        planned = job.get("cells") or 0
        recorded = sum(by_status.values())
        by_status[CellStatus.PENDING] += max(planned - recorded, 0)  # cells never written yet are pending
        out.append({
            "job_id": job["job_id"],
            "name": job["name"],
            "status": job["status"],
            "rows": job["rows"],
            "cells": job["cells"],
            "created_at": job["created_at"],
            "updated_at": job["updated_at"],
            "counts": by_status,
        })
    out.sort(key=lambda j: (j["created_at"] is not None, j["created_at"]), reverse=True)
    return out


def find_job(output_dir: str | os.PathLike[str], job_id_or_name: str) -> dict[str, Any]:
    """The jobs-table record for a job id, or the newest job with that name. Raises StoreError if none."""
    jobs = read_table(output_dir, "jobs").to_pylist()
    jobs.sort(key=lambda j: (j["created_at"] is not None, j["created_at"]), reverse=True)
    for job in jobs:
        if job["job_id"] == job_id_or_name:
            return job
    for job in jobs:
        if job["name"] == job_id_or_name:
            return job
    known = ", ".join(sorted({j["job_id"] for j in jobs})) or "none"
    raise StoreError(f"no job '{job_id_or_name}' in {output_dir} (jobs: {known})")


def job_columns(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's columns from columns_json ([] when missing or malformed)."""
    try:
        columns = json.loads(job.get("columns_json") or "[]")
    except ValueError:
        return []
    return [c for c in columns if isinstance(c, dict) and isinstance(c.get("name"), str)]
