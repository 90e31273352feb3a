"""DuckDB views: one per table (deduplicated), and the typed wide `results` views."""

import datetime as dt

import duckdb
import pyarrow as pa

from pipelines.store.catalog import refresh_catalog
from pipelines.store.query import query, results_table
from pipelines.store.schemas import SCHEMAS
from pipelines.store.writer import StoreWriter
from tests.fixtures_store import ACME, cell, job_record


def test_results_view_has_one_typed_column_per_question(demo_output):
    table = query(demo_output, "SELECT * FROM results")
    assert table.column_names == ["company", "ceo", "founded", "revenue_musd", "public", "founded_on", "products", "site"]
    types = dict(zip(table.column_names, table.schema.types))
    assert types["company"] == pa.string() and types["ceo"] == pa.string() and types["site"] == pa.string()
    assert types["founded"] == pa.int64() and types["revenue_musd"] == pa.float64()
    assert types["public"] == pa.bool_() and types["founded_on"] == pa.date32()
    assert types["products"] == pa.list_(pa.string()) or pa.types.is_list(types["products"])
    acme, beta = table.to_pylist()
    assert acme == {"company": "Acme Robotics", **{k: v for k, v in ACME.items() if k != "founded_on"},
                    "founded_on": dt.date(1999, 3, 4)}
    # failed and skipped cells are NULL, never silently a value; a year-only date is NULL in the DATE column
    assert beta["ceo"] is None and beta["site"] is None and beta["founded_on"] is None
    assert beta["founded"] == 2004 and beta["public"] is False


def test_typed_columns_work_in_sql(demo_output):
    rows = query(demo_output, "SELECT company FROM results WHERE founded > 2000 AND NOT public").to_pylist()
    assert rows == [{"company": "Beta Foods"}]


def test_catalog_file_has_the_same_views_for_other_tools(demo_output):
    con = duckdb.connect(str(demo_output / "trawl.duckdb"), read_only=True)
    try:
        con.execute(f"SET file_search_path = '{demo_output}'")  # its views name files relative to the folder
        assert con.execute("SELECT count(*) FROM cells").fetchone() == (12,)
        assert con.execute("SELECT founded FROM results_demo_companies ORDER BY company").fetchall() == [(1999,), (2004,)]
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    finally:
        con.close()
    assert set(SCHEMAS) | {"results", "results_demo_companies"} <= views


def test_views_of_tables_without_files_are_empty_with_the_right_columns(demo_output):
    table = query(demo_output, 'SELECT * FROM llm_calls')
    assert table.num_rows == 0 and table.column_names == SCHEMAS["llm_calls"].names
    assert query(demo_output, 'SELECT count(*) AS n FROM pages').to_pylist() == [{"n": 0}]


def test_results_is_the_newest_job_and_each_job_has_its_own_view(demo_output):
    newer = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    with StoreWriter(demo_output) as w:
        w.append("jobs", [job_record(job_id="second-1", name="second", created=newer)])
        w.append("cells", [cell("Gamma", "ceo", "Gil", job_id="second-1")])
    assert query(demo_output, "SELECT company, ceo FROM results").to_pylist() == [{"company": "Gamma", "ceo": "Gil"}]
    assert query(demo_output, "SELECT count(*) AS n FROM results_demo_companies").to_pylist() == [{"n": 2}]
    assert results_table(demo_output, "demo-abc").num_rows == 2
    assert results_table(demo_output, "second").to_pylist()[0]["company"] == "Gamma"


def test_retried_cell_shows_once_in_views_before_compaction(tmp_path):
    w = StoreWriter(tmp_path)
    w.append("jobs", [job_record()])
    w.append("cells", [cell("Acme", "ceo", None, status="failed")])
    w.flush()
    w.append("cells", [cell("Acme", "ceo", "Ada")])
    w.flush()
    assert query(tmp_path, "SELECT status, answer FROM cells").to_pylist() == [{"status": "done", "answer": "Ada"}]
    assert query(tmp_path, "SELECT ceo FROM results").to_pylist() == [{"ceo": "Ada"}]


def test_bad_value_json_reads_as_null_not_an_error(tmp_path):
    with StoreWriter(tmp_path) as w:
        w.append("jobs", [job_record()])
        w.append("cells", [{**cell("Acme", "founded", 1), "value_json": "{not json", "answer": "nineteen"}])
    assert query(tmp_path, "SELECT founded FROM results").to_pylist() == [{"founded": None}]


def test_refresh_catalog_on_an_empty_folder(tmp_path):
    path = refresh_catalog(tmp_path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM results").fetchone() == (0,)
    finally:
        con.close()
