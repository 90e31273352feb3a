"""The one writer of an output folder: batched, idempotent Parquet appends.

Records are buffered per (table, job) and written as one Parquet part file
per flush, never one file per row; a partition that reaches
``compact_at_files`` parts is compacted on the spot, so long runs do not pile
up small files. A flush happens when a buffer holds
``max_rows`` rows or about ``max_bytes`` of text, when ``max_age_s`` has passed
since its first record (checked on every append, or by calling
:meth:`StoreWriter.flush_if_due` from a timer), and on :meth:`close`.

Idempotence: every table has a key (``schemas.KEYS``). Writing a key again
(a retried cell, a resumed job) appends a newer row; readers and the DuckDB
views keep only the latest row per key, and :meth:`compact` (run by
:meth:`close`) rewrites a partition into one file with exactly one row per
key. Files appear atomically (written under a temporary name, then renamed),
and a crash mid-compaction leaves only duplicates that readers already
resolve, never lost rows.

The output is a local folder or a filesystem URI (``s3://bucket/prefix``,
``file:///shared/trawl``; see ``pipelines.store.filesystem``). A URI output
gets the same tables and keys; it has no ``trawl.duckdb`` (DuckDB would need
its httpfs extension to read object storage), and ``trawl query`` builds its
views from Arrow tables read through pyarrow instead.

Exactly one StoreWriter per output folder at a time; the actor layer wraps
it. Plain Python, no Ray.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.errors import StoreError
from pipelines.reasons import split_error_field
from pipelines.store.catalog import refresh_catalog
from pipelines.store.filesystem import remote_output
from pipelines.store.reader import PART_GLOB, _read_files, check_job_id, check_table, dedup_latest, partition_dir
from pipelines.store.schemas import KEYS, SCHEMAS

__all__ = ["StoreWriter"]


class _Buffer:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.bytes = 0
        self.since = time.monotonic()


def _python_types(t: pa.DataType) -> tuple[str, tuple[type, ...]]:
    if pa.types.is_string(t):
        return ("text", (str,))
    if pa.types.is_integer(t):
        return ("an integer", (int,))
    if pa.types.is_floating(t):
        return ("a number", (int, float))
    if pa.types.is_boolean(t):
        return ("a boolean", (bool,))
    if pa.types.is_timestamp(t):
        return ("a datetime", (dt.datetime,))
    if pa.types.is_list(t):
        return ("a list of text", (list, tuple))
    raise StoreError(f"no Python type check for {t}")


_FIELD_TYPES = {table: {f.name: _python_types(f.type) for f in schema} for table, schema in SCHEMAS.items()}


def _type_ok(value: Any, expected: tuple[str, tuple[type, ...]]) -> bool:
    label, types = expected
    if isinstance(value, bool) and bool not in types:  # True is an int in Python, not in our tables
        return False
    if not isinstance(value, types):
        return False
    if label == "a list of text":
        items: Any = value  # a list here (checked above)
        return all(isinstance(v, str) or v is None for v in items)
    return True


def _short_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


class StoreWriter:
    """Buffered, idempotent writer for one output folder."""

    def __init__(
        self,
        output_dir: str | os.PathLike[str],
        *,
        max_rows: int = 5_000,
        max_bytes: int = 32 * 1024 * 1024,
        max_age_s: float = 2.0,
        compact_at_files: int = 64,
        compression: str = "zstd",
        auto_flush: bool = True,
    ) -> None:
        """``auto_flush=False``: ``append`` only buffers, and the owner writes what ``take`` hands it
        (``actors.writer.WriterActor`` does it in a thread of its own, so appends never wait for the disk)."""
        self._remote = remote_output(output_dir)
        if self._remote is not None:
            self.output_dir: Any = str(output_dir)  # a str inside a URI output's filesystem, else a Path
            self._remote.mkdir(self._remote.root)
        else:
            self.output_dir = Path(output_dir)
            try:
                self.output_dir.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(f"cannot create output folder {self.output_dir}: {err}") from None
        self.max_rows, self.max_bytes, self.max_age_s = max_rows, max_bytes, max_age_s
        self.compression = compression
        self.auto_flush = auto_flush
        self.compact_at_files = compact_at_files
        self._part_counts: dict[tuple[str, str], int] = {}  # part files per partition, counted once from disk
        self._buffers: dict[tuple[str, str], _Buffer] = {}
        self._touched: set[tuple[str, str]] = set()  # partitions written by this writer (compacted on close)
        self._catalog_dirty = True
        self._last_name = 0
        self._seq = 0
        self._closed = False

    # -- appending -------------------------------------------------------------------------

    def append(self, table: str, records: list[dict[str, Any]]) -> None:
        """Buffer records for ``table``.

        Raises StoreError for unknown fields, missing keys or values of the wrong type; nothing
        of that call is buffered then. Checks are plain Python (Arrow conversion happens once
        per flush), so appending one record at a time stays cheap.
        """
        if self._closed:
            raise StoreError("writer is closed")
        check_table(table)
        if not records:
            return
        fields, keys = _FIELD_TYPES[table], KEYS[table]
        by_job: dict[str, list[dict[str, Any]]] = {}
        if table == "cells":  # writers from before the reason/message split still send error="<slug>: <message>"
            records = [split_error_field(r) for r in records]
        for record in records:
            for name, value in record.items():
                expected = fields.get(name)
                if expected is None:
                    unknown = sorted(set(record) - set(fields))
                    raise StoreError(f"{table}: unknown field(s) {', '.join(unknown)}")
                if value is not None and not _type_ok(value, expected):
                    raise StoreError(f"{table}: records do not match the schema: {name}={_short_value(value)} is not {expected[0]}")
            missing = [k for k in keys if record.get(k) is None]
            if missing:
                raise StoreError(f"{table}: key field(s) {', '.join(missing)} missing in {_short(record)}")
            by_job.setdefault(check_job_id(record["job_id"]), []).append(record)
        for job_id, rows in by_job.items():
            buf = self._buffers.setdefault((table, job_id), _Buffer())
            buf.records += rows
            buf.bytes += sum(len(v) for row in rows for v in row.values() if isinstance(v, str))
        if self.auto_flush:
            self.flush_if_due()

    def due(self) -> bool:
        """Whether a buffer is full (``max_rows``, ``max_bytes``) or older than ``max_age_s``."""
        now = time.monotonic()
        return any(len(b.records) >= self.max_rows or b.bytes >= self.max_bytes or now - b.since >= self.max_age_s
                   for b in self._buffers.values())

    def flush_if_due(self) -> int:
        """Flush if any buffer is full or older than ``max_age_s``; returns rows written."""
        return self.flush() if self.due() else 0

    def pending_rows(self) -> int:
        return sum(len(b.records) for b in self._buffers.values())

    def flush(self) -> int:
        """Write every buffer as one part file per partition; returns rows written."""
        return self.write(self.take())

    def take(self) -> dict:
        """Every buffer, handed over for ``write`` (the writer keeps none of them)."""
        buffers, self._buffers = self._buffers, {}
        return buffers

    def write(self, buffers: dict) -> int:
        """Write buffers from ``take`` as one part file per partition; returns rows written.

        Buffers are written in the order they were taken, so a later write of a key wins; an owner
        that writes from a thread of its own takes and writes under one lock."""
        written = 0
        for (table, job_id), buf in buffers.items():
            data = dedup_latest(self._arrow(table, buf.records), KEYS[table])
            folder = self._partition(table, job_id)
            if not self._is_dir(folder) or table == "jobs":
                self._catalog_dirty = True  # a new partition or new job metadata changes the views
            if (table, job_id) not in self._part_counts:
                self._part_counts[(table, job_id)] = len(self._parts(folder))
            self._write_part(folder, data)
            self._touched.add((table, job_id))
            self._part_counts[(table, job_id)] += 1
            if self._part_counts[(table, job_id)] >= self.compact_at_files:  # keep long runs from piling up small files
                self._compact_partition(table, job_id)
            written += data.num_rows
        if self._catalog_dirty and written:
            self.refresh_catalog()
        return written

    @staticmethod
    def _arrow(table: str, records: list[dict[str, Any]]) -> pa.Table:
        try:
            return pa.Table.from_pylist(records, schema=SCHEMAS[table])
        except (pa.ArrowException, OverflowError) as err:  # e.g. an int beyond int64
            raise StoreError(f"{table}: {len(records)} buffered records could not be written: {err}") from None

    def _part_name(self) -> str:
        # Names sort in write order: a time that never goes backwards inside this writer,
        # and later writers (resume) start later.
        stamp = max(time.time_ns(), self._last_name + 1)
        self._last_name = stamp
        self._seq += 1
        return f"part-{stamp:020d}-{os.getpid()}-{self._seq:06d}.parquet"

    def _partition(self, table: str, job_id: str) -> Path | str:
        if self._remote is not None:
            return self._remote.path(table, f"job_id={check_job_id(job_id)}")
        return partition_dir(self.output_dir, table, job_id)

    def _is_dir(self, folder: Any) -> bool:
        return self._remote.is_dir(folder) if self._remote is not None else folder.is_dir()

    def _parts(self, folder: Any) -> list:
        if self._remote is not None:
            return self._remote.files(folder, PART_GLOB)
        return sorted(folder.glob(PART_GLOB)) if folder.is_dir() else []

    def _write_part(self, folder: Any, data: pa.Table) -> Path | str:
        if self._remote is not None:
            return self._remote.write_parquet(folder, self._part_name(), data, self.compression)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            final = folder / self._part_name()
            tmp = folder / f".{final.name}.tmp"
            pq.write_table(data, tmp, compression=self.compression)
            os.replace(tmp, final)  # readers never see a half-written file
            return final
        except OSError as err:
            raise StoreError(f"cannot write {folder}: {err}") from None

    # -- compaction and closing -------------------------------------------------------------

    def compact(self, table: str | None = None, job_id: str | None = None) -> int:
        """Rewrite partitions so each holds one file with one row per key; returns files removed.

        Without arguments, compacts every table's partition of every job this writer wrote to
        (also parts left by an earlier writer of the same job, e.g. before an actor restart).
        """
        self.flush()
        if table is not None and job_id is not None:
            targets = {(table, job_id)}
        else:
            jobs = {jid for _, jid in self._touched}
            targets = {(t, jid) for t in SCHEMAS for jid in jobs if table is None or t == table}
        removed = 0
        for tbl, jid in sorted(targets):
            removed += self._compact_partition(tbl, jid)
        return removed

    def _compact_partition(self, table: str, job_id: str, new: pa.Table | None = None) -> int:
        """The partition's part files, and ``new`` rows written after them, as one file; returns files removed."""
        folder = self._partition(table, job_id)
        files = self._parts(folder)
        if new is None and len(files) <= 1:
            return 0  # a single part was deduplicated when it was flushed
        parts = ([_read_files(files, table, self._remote)] if files else []) + ([new] if new is not None else [])
        self._write_part(folder, dedup_latest(pa.concat_tables(parts), KEYS[table]))  # newest name: wins until the old go
        self._remove(files)
        self._part_counts[(table, job_id)] = 1
        return len(files)

    def _remove(self, files: list) -> None:
        for path in files:
            if self._remote is not None:
                self._remote.delete(path)
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def refresh_catalog(self) -> None:
        """(Re)create the views in <output>/trawl.duckdb (local outputs only; see the module docstring)."""
        if self._remote is None:
            refresh_catalog(self.output_dir)
        self._catalog_dirty = False

    def close(self) -> None:
        """Write what is buffered, compact what this writer touched, and refresh the catalog. Safe to call twice.

        Each partition is written once: its buffered rows and its part files are deduplicated
        together into one file (a flush and then a compaction would write the buffer twice and read
        it back once, most of a short run's close)."""
        if self._closed:
            return
        buffers, self._buffers = self._buffers, {}
        jobs = {jid for _, jid in self._touched} | {jid for _, jid in buffers}
        for table, job_id in sorted({(t, jid) for t in SCHEMAS for jid in jobs}):
            buf = buffers.get((table, job_id))
            self._compact_partition(table, job_id, self._arrow(table, buf.records) if buf is not None else None)
        self.refresh_catalog()  # rebuilt only if the views changed (a new partition, job or column)
        self._closed = True

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _short(record: dict[str, Any]) -> str:
    text = repr({k: record[k] for k in list(record)[:4]})
    return text if len(text) < 120 else text[:117] + "..."
