"""`trawl query` as a user (or a pasted query) would misuse it: it cannot write, attach, or read elsewhere.

The query layer's rules are unit-tested in tests/test_store_query.py; here
every case goes through the CLI and is checked for a clean message (exit 1,
no traceback), unchanged output files, and no file created anywhere.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from tests.fixtures_store import write_demo


@pytest.fixture()
def place(tmp_path, monkeypatch):
    """An output folder, a secret file next to it, a symlink and a ./.tmp file that point outside it."""
    out = write_demo(tmp_path / "trawl-data")
    secret = tmp_path / "secret.csv"
    secret.write_text("token,n\nTOPSECRET,1\n")
    os.symlink(secret, out / "link.csv")
    os.symlink(tmp_path, out / "up")
    cwd = tmp_path / "cwd"
    (cwd / ".tmp").mkdir(parents=True)
    (cwd / ".tmp" / "x.csv").write_text("token,n\nTOPSECRET,2\n")  # DuckDB's default temp_directory is <cwd>/.tmp
    monkeypatch.chdir(cwd)
    return out, secret


def _snapshot(folder) -> dict:
    files = {}
    for root, _, names in os.walk(folder, followlinks=False):
        for name in names:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            files[os.path.relpath(path, folder)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return files


def _query(out, sql: str, *extra):
    return CliRunner().invoke(app, ["query", sql, "--output", str(out), *extra])


WRITES = [
    "DELETE FROM cells",
    "UPDATE cells SET answer = 'x'",
    "INSERT INTO cells SELECT * FROM cells",
    "DROP VIEW cells",
    "CREATE TABLE t AS SELECT 1",
    "SELECT 1; DROP VIEW cells",
    "COPY cells TO 'stolen.csv'",
    "COPY (SELECT * FROM cells) TO '{tmp}/stolen.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{tmp}/dump'",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "ATTACH ':memory:' AS m",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "PRAGMA enable_profiling",
    "CALL pragma_version()",
]

OUTSIDE = [
    "SELECT * FROM read_csv('{secret}')",
    "SELECT * FROM read_text('{secret}')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM read_csv('{out}/link.csv')",
    "SELECT * FROM read_csv('{out}/up/secret.csv')",
    "SELECT * FROM read_csv('{out}/../secret.csv')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_csv('.tmp/x.csv')",
    "SELECT * FROM read_parquet('/proc/self/environ')",
]


@pytest.mark.parametrize("sql", WRITES)
def test_writes_attach_copy_and_settings_are_refused_and_change_nothing(place, sql, tmp_path):
    out, _ = place
    before_out, before_tmp = _snapshot(out), sorted(os.listdir(tmp_path))
    result = _query(out, sql.format(tmp=tmp_path))
    assert result.exit_code == 1, result.output
    assert "read-only" in result.output and "Traceback" not in result.output, result.output
    assert _snapshot(out) == before_out
    assert sorted(os.listdir(tmp_path)) == before_tmp
    assert not os.path.exists("stolen.csv")


@pytest.mark.parametrize("sql", OUTSIDE)
def test_files_outside_the_output_folder_cannot_be_read(place, sql):
    out, secret = place
    result = _query(out, sql.format(secret=secret, out=out))
    assert result.exit_code == 1, result.output
    assert "TOPSECRET" not in result.output and "root:" not in result.output
    assert "Traceback" not in result.output
    assert "may only read files inside" in result.output or "No files found" in result.output, result.output


def test_natural_misuse_gets_a_clear_message(place):
    out, _ = place
    typo = _query(out, "SELECT * FROM cels")
    assert typo.exit_code == 1 and "cels" in typo.output and "does not exist" in typo.output, typo.output
    column = _query(out, "SELECT anwser FROM cells")
    assert column.exit_code == 1 and "anwser" in column.output, column.output
    empty = _query(out, "   ")
    assert empty.exit_code == 1 and "empty query" in empty.output, empty.output
    garbage = _query(out, "SELEC * FORM cells")
    assert garbage.exit_code == 1 and "SQL error" in garbage.output, garbage.output
    missing = CliRunner().invoke(app, ["query", "SELECT 1", "--output", str(out.parent / "nowhere")])
    assert missing.exit_code == 1 and "no output folder" in missing.output, missing.output
    for result in (typo, column, empty, garbage, missing):
        assert "Traceback" not in result.output


def test_reading_inside_the_folder_still_works(place):
    out, _ = place
    result = _query(out, "SELECT count(*) AS n FROM cells", "--format", "csv")
    assert result.exit_code == 0 and result.output.replace('"', "").split() == ["n", "12"], result.output
