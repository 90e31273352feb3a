"""Rows of a job from a CSV or Parquet file (``rows_from:`` in a spec).

Every value becomes a string, because rows only ever feed question templates
and row keys. Empty CSV cells and Parquet nulls become "".
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

__all__ = ["RowsFileError", "MAX_ROWS_FILE_BYTES", "read_rows", "cell_text"]

MAX_ROWS_FILE_BYTES = 512 * 1024 * 1024


class RowsFileError(ValueError):
    """The rows file cannot be used; ``str()`` is a message for a spec problem."""


def cell_text(value: object) -> str:
    """A row value as text: None -> "", booleans as YAML writes them, numbers without surprises."""
    if value is None:
        return ""
    if isinstance(value, bytes):  # a Parquet binary column holding text
        return value.decode("utf-8", errors="replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read rows from ``path`` (.csv, .tsv or .parquet). Raises RowsFileError with a readable message."""
    p = Path(path)
    if not p.is_file():
        raise RowsFileError(f"file not found: {p}")
    size = p.stat().st_size
    if size > MAX_ROWS_FILE_BYTES:
        raise RowsFileError(f"file is larger than {MAX_ROWS_FILE_BYTES // (1024 * 1024)} MB: {p}")
    suffix = p.suffix.lower()
    if suffix in (".csv", ".tsv"):
        rows = _read_csv(p, "\t" if suffix == ".tsv" else ",")
    elif suffix in (".parquet", ".pq"):
        rows = _read_parquet(p)
    else:
        raise RowsFileError(f"unsupported file type '{p.suffix}' (use .csv, .tsv or .parquet): {p}")
    if not rows:
        raise RowsFileError(f"no rows in {p}")
    return rows


def _read_csv(path: Path, delimiter: str) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise RowsFileError(f"no header line in {path}")
            header = [h.strip() for h in header]
            _check_header(header, path)
            rows = []
            for line_no, values in enumerate(reader, start=2):
                if not values or all(not v.strip() for v in values):
                    continue  # blank lines are not rows
                if len(values) != len(header):
                    raise RowsFileError(f"line {line_no} has {len(values)} fields, the header has {len(header)}: {path}")
                rows.append({h: v.strip() for h, v in zip(header, values)})
            return rows
    except UnicodeDecodeError as err:
        raise RowsFileError(f"not UTF-8 text ({err.reason} at byte {err.start}): {path}") from None
    except csv.Error as err:
        raise RowsFileError(f"malformed CSV: {err}: {path}") from None


def _read_parquet(path: Path) -> list[dict[str, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise RowsFileError(f"unreadable Parquet ({err}): {path}") from None
    _check_header(table.column_names, path)
    for field in table.schema:
        if pa.types.is_nested(field.type):
            raise RowsFileError(f"column '{field.name}' is {field.type}; row fields must be scalars: {path}")
    return [{k: cell_text(v) for k, v in record.items()} for record in table.to_pylist()]


def _check_header(header: list[str], path: Path) -> None:
    seen: set[str] = set()
    for name in header:
        if not name:
            raise RowsFileError(f"empty column name in header: {path}")
        if name in seen:
            raise RowsFileError(f"duplicate column name '{name}' in header: {path}")
        seen.add(name)
