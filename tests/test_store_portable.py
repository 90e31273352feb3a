"""trawl.duckdb travels with its folder, and opens in the DuckDB CLI with the command the demo prints."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.store.catalog import CATALOG_FILE, duckdb_cli_hint
from pipelines.store.writer import StoreWriter
from tests.fixtures_store import cell, write_demo


def _counts(con) -> tuple:
    return con.execute("SELECT count(*) FROM cells").fetchone() + con.execute("SELECT count(*) FROM results").fetchone()


def test_a_moved_folder_reads_its_own_files(tmp_path, monkeypatch):
    original = write_demo(tmp_path / "a" / "trawl-data")
    copy = tmp_path / "b" / "trawl-data"
    shutil.copytree(original, copy)
    with StoreWriter(original) as w:  # the original moves on; the copy must not see it
        w.append("cells", [cell("Gamma", "ceo", "Gil")])
    con = duckdb.connect(str(copy / CATALOG_FILE), read_only=True)
    try:
        con.execute(f"SET file_search_path = '{copy}'")
        assert _counts(con) == (12, 2)
    finally:
        con.close()
    shutil.rmtree(original)  # and once the original is gone, the copy still reads, opened from its folder
    monkeypatch.chdir(copy)
    con = duckdb.connect(CATALOG_FILE, read_only=True)
    try:
        assert _counts(con) == (12, 2)
    finally:
        con.close()


def test_the_file_is_in_the_storage_format_older_clients_read(tmp_path):
    out = write_demo(tmp_path / "trawl-data")
    header = (out / CATALOG_FILE).read_bytes()[:20]
    # main header: magic "DUCK" at byte 8, then the storage format number (64 = DuckDB v1.0.0, read by 1.0 and later)
    assert header[8:12] == b"DUCK" and struct.unpack("<Q", header[12:20])[0] == 64


def test_the_printed_cli_hint_works(tmp_path):
    cli = Path(sys.executable).parent / "duckdb"
    if not cli.exists():
        pytest.skip("the DuckDB CLI (pip install duckdb-cli) is not installed next to this Python")
    out = write_demo(tmp_path / "trawl data")  # a space: the hint must quote the folder
    hint = duckdb_cli_hint(out)
    command = hint.replace("duckdb -readonly", f"{cli} -readonly", 1) + " -csv -c 'SELECT company, founded FROM results ORDER BY 1'"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["company,founded", "Acme Robotics,1999", "Beta Foods,2004"]
