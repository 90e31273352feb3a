"""trawl query is read-only: no writes, no settings, no files outside the output folder."""

import pytest

from pipelines.errors import ReadOnlyQueryError, StoreError
from pipelines.store.query import query


def snapshot(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_select_returns_an_arrow_table(demo_output):
    table = query(demo_output, "SELECT \"column\", count(*) AS n FROM cells GROUP BY ALL ORDER BY 1")
    assert table.to_pylist()[0] == {"column": "ceo", "n": 2}


@pytest.mark.parametrize(
    "sql, word",
    [
        ("UPDATE cells SET answer = 'x'", "UPDATE"),
        ("INSERT INTO cells (job_id) VALUES ('x')", "INSERT"),
        ("DELETE FROM cells", "DELETE"),
        ("DROP VIEW cells", "DROP"),
        ("CREATE TABLE t AS SELECT 1", "CREATE"),
        ("COPY (SELECT * FROM cells) TO '{out}/cells/stolen.parquet'", "COPY"),
        ("ATTACH '{out}/other.duckdb' AS o", "ATTACH"),
        ("INSTALL httpfs", "INSTALL"),
        ("LOAD httpfs", "LOAD"),
        ("SET enable_external_access = true", "SET"),
        ("PRAGMA enable_profiling", "PRAGMA"),
        ("EXPORT DATABASE '{out}/dump'", "EXPORT"),
        ("CALL pragma_version()", "CALL"),
        ("SELECT 1; DROP VIEW cells", "DROP"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}/x.csv'", "EXPLAIN"),
    ],
)
def test_writes_and_settings_are_refused_and_change_nothing(demo_output, sql, word):
    before = snapshot(demo_output)
    with pytest.raises(ReadOnlyQueryError) as info:
        query(demo_output, sql.format(out=demo_output))
    assert f"{word} statements are not allowed" in str(info.value) and "read-only" in str(info.value)
    assert snapshot(demo_output) == before
    assert query(demo_output, "SELECT count(*) AS n FROM cells").to_pylist() == [{"n": 12}]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_parquet('{out}/../elsewhere/*.parquet')",
        "SELECT * FROM read_csv('{out}/../../../../etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
    ],
)
def test_files_outside_the_output_folder_cannot_be_read(demo_output, tmp_path, sql):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.parquet").write_bytes(b"x")
    with pytest.raises(ReadOnlyQueryError, match="may only read files inside"):
        query(demo_output, sql.format(out=demo_output))


def test_files_inside_the_output_folder_can_be_read(demo_output):
    table = query(demo_output, f"SELECT count(*) AS n FROM read_parquet('{demo_output}/cells/*/*.parquet')")
    assert table.to_pylist() == [{"n": 12}]


def test_sql_errors_are_store_errors_with_duckdb_message(demo_output):
    with pytest.raises(StoreError, match="SQL error"):
        query(demo_output, "SELECT nope FROM cells")
    with pytest.raises(StoreError, match="SQL error"):
        query(demo_output, "SELEC 1")


def test_missing_output_folder_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no output folder"):
        query(tmp_path / "missing", "SELECT 1")
