"""StoreWriter: batched, idempotent Parquet appends; compaction; readers see the latest row per key."""

import datetime as dt

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.errors import StoreError
from pipelines.store.catalog import CATALOG_STAMP, refresh_catalog
from pipelines.store.reader import list_jobs, part_files, previous_state, read_table
from pipelines.store.schemas import SCHEMAS
from pipelines.store.writer import StoreWriter
from tests.fixtures_store import cell, job_record


def test_round_trip_keeps_values_and_schema(tmp_path):
    now = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    record = cell("Acme", "ceo", "Ada", confidence=0.9, citations=["https://acme.example/team"], started_at=now, llm_calls=3)
    with StoreWriter(tmp_path) as w:
        w.append("cells", [record])
    table = read_table(tmp_path, "cells")
    assert table.drop_columns(["error"]).schema == SCHEMAS["cells"]  # error: computed from reason and message
    row = table.to_pylist()[0]
    assert row["answer"] == "Ada" and row["value_json"] == '"Ada"' and row["confidence"] == 0.9
    assert row["citations"] == ["https://acme.example/team"] and row["started_at"] == now and row["llm_calls"] == 3
    assert row["reason"] is None and row["message"] is None and row["error"] is None


def test_appends_are_buffered_not_one_file_per_row(tmp_path):
    w = StoreWriter(tmp_path, max_age_s=3600)
    for i in range(100):
        w.append("keywords", [{"job_id": "j", "row_key": f"r{i}", "column": "c", "position": 0, "keyword": "k"}])
    assert part_files(tmp_path, "keywords") == [] and w.pending_rows() == 100
    assert w.flush() == 100
    assert len(part_files(tmp_path, "keywords")) == 1


def test_buffer_flushes_by_size(tmp_path):
    w = StoreWriter(tmp_path, max_rows=10, max_age_s=3600)
    w.append("keywords", [{"job_id": "j", "row_key": f"r{i}", "column": "c", "position": 0} for i in range(25)])
    assert len(part_files(tmp_path, "keywords")) == 1 and w.pending_rows() == 0


def test_same_key_twice_leaves_one_row_latest_wins(tmp_path):
    w = StoreWriter(tmp_path)
    w.append("cells", [cell("Acme", "ceo", None, status="failed", error="timeout")])
    w.flush()
    w.append("cells", [cell("Acme", "ceo", "Ada")])
    w.append("cells", [cell("Acme", "ceo", "Ada Park")])  # same buffer: deduplicated at flush
    w.flush()
    assert len(part_files(tmp_path, "cells")) == 2
    rows = read_table(tmp_path, "cells").to_pylist()
    assert [(r["status"], r["answer"]) for r in rows] == [("done", "Ada Park")]
    assert previous_state(tmp_path, "demo-abc")[0] == {("Acme", "ceo"): "done"}


def test_close_compacts_each_partition_to_one_row_per_key(tmp_path):
    w = StoreWriter(tmp_path)
    for attempt in range(3):
        w.append("cells", [cell("Acme", "ceo", f"v{attempt}"), cell(f"Row{attempt}", "ceo", "x")])
        w.append("cells", [cell("Zed", "ceo", "z", job_id="other-job")])
        w.flush()
    assert len(part_files(tmp_path, "cells", "demo-abc")) == 3
    w.close()
    for job_id, expected_rows in (("demo-abc", 4), ("other-job", 1)):
        files = part_files(tmp_path, "cells", job_id)
        assert len(files) == 1
        on_disk = pq.read_table(files[0]).to_pylist()
        assert len(on_disk) == expected_rows
        assert len({(r["row_key"], r["column"]) for r in on_disk}) == expected_rows
    answers = {r["row_key"]: r["answer"] for r in read_table(tmp_path, "cells", "demo-abc").to_pylist()}
    assert answers["Acme"] == "v2"


def test_a_later_writer_resuming_the_job_wins_over_the_earlier_one(tmp_path):
    with StoreWriter(tmp_path) as w:
        w.append("cells", [cell("Acme", "ceo", None, status="failed")])
    with StoreWriter(tmp_path) as w:
        w.append("cells", [cell("Acme", "ceo", "Ada")])
        w.compact("cells", "demo-abc")
    assert [r["answer"] for r in read_table(tmp_path, "cells").to_pylist()] == ["Ada"]
    assert len(part_files(tmp_path, "cells")) == 1


def test_no_temporary_files_are_left_behind(tmp_path):
    with StoreWriter(tmp_path) as w:
        w.append("jobs", [job_record()])
    leftovers = [p for p in tmp_path.rglob("*") if (p.name.startswith(".") and p.name != CATALOG_STAMP) or p.suffix == ".tmp"]
    assert leftovers == [] and (tmp_path / "trawl.duckdb").is_file()


def test_close_writes_each_partition_once_and_keeps_an_unchanged_catalog(tmp_path):
    with StoreWriter(tmp_path) as w:
        w.append("jobs", [job_record()])
        w.append("cells", [cell("Acme", "ceo", None, status="failed"), cell("Beta", "ceo", "Bo")])
    catalog = tmp_path / "trawl.duckdb"
    built = catalog.stat().st_ino, catalog.stat().st_mtime_ns
    with StoreWriter(tmp_path) as w:  # a re-run: new rows for the same job, its partitions exist
        w.append("cells", [cell("Acme", "ceo", "Ada")])
        w.flush()
        w.append("cells", [cell("Beta", "ceo", "Bea")])
    assert sorted((r["row_key"], r["answer"]) for r in read_table(tmp_path, "cells").to_pylist()) == [("Acme", "Ada"), ("Beta", "Bea")]
    assert len(part_files(tmp_path, "cells")) == 1  # the part flushed mid-run, the old file and the buffer: one file
    assert (catalog.stat().st_ino, catalog.stat().st_mtime_ns) == built  # same views: the catalog was not rebuilt
    with duckdb.connect(str(catalog), read_only=True) as con:
        con.execute(f"SET file_search_path = '{tmp_path}'")
        assert con.execute("SELECT answer FROM cells ORDER BY row_key").fetchall() == [("Ada",), ("Bea",)]
    catalog.unlink()  # a catalog replaced by something else (here: an older trawl, a user) is rebuilt, stamp or not
    with duckdb.connect(str(catalog)) as con:
        con.execute("CREATE VIEW not_ours AS SELECT 1")
    refresh_catalog(tmp_path)
    with duckdb.connect(str(catalog), read_only=True) as con:
        assert "cells" in {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    built = catalog.stat().st_ino, catalog.stat().st_mtime_ns
    with StoreWriter(tmp_path) as w:  # a new table partition changes the views: rebuilt
        w.append("pages", [{"job_id": "demo-abc", "url": "http://a.example/", "status": "ok"}])
    assert catalog.stat().st_ino != built[0]
    with duckdb.connect(str(catalog), read_only=True) as con:
        con.execute(f"SET file_search_path = '{tmp_path}'")
        assert con.execute("SELECT url FROM pages").fetchall() == [("http://a.example/",)]


@pytest.mark.parametrize(
    "table, records, message",
    [
        ("nope", [{}], "unknown table 'nope'"),
        ("cells", [{"job_id": "j", "row_key": "r", "column": "c", "colour": "red"}], "unknown field(s) colour"),
        ("cells", [{"job_id": "j", "row_key": "r"}], "key field(s) column missing"),
        ("cells", [{"job_id": "../etc", "row_key": "r", "column": "c"}], "invalid job_id '../etc'"),
        ("cells", [{"job_id": "j", "row_key": "r", "column": "c", "llm_calls": "many"}], "records do not match the schema"),
    ],
)
def test_bad_records_are_refused_and_nothing_is_buffered(tmp_path, table, records, message):
    w = StoreWriter(tmp_path)
    with pytest.raises(StoreError, match=None) as info:
        w.append(table, records)
    assert message in str(info.value)
    assert w.pending_rows() == 0


def test_list_jobs_counts_cells_by_status_and_unwritten_cells_as_pending(demo_output):
    (job,) = list_jobs(demo_output)
    assert job["job_id"] == "demo-abc" and job["status"] == "done" and job["cells"] == 14
    assert job["counts"]["done"] == 10 and job["counts"]["failed"] == 1 and job["counts"]["skipped"] == 1
    assert job["counts"]["pending"] == 2  # 14 planned, 12 recorded


def test_reading_an_empty_folder_gives_empty_tables(tmp_path):
    assert read_table(tmp_path, "llm_calls").num_rows == 0
    assert list_jobs(tmp_path) == [] and previous_state(tmp_path, "x") == ({}, {})


def test_many_flushes_are_compacted_along_the_way(tmp_path):
    w = StoreWriter(tmp_path, compact_at_files=5)
    for i in range(12):
        w.append("keywords", [{"job_id": "j", "row_key": "r", "column": "c", "position": i % 3, "keyword": f"k{i}"}])
        w.flush()
    assert len(part_files(tmp_path, "keywords")) < 5
    w.close()
    rows = read_table(tmp_path, "keywords").to_pylist()
    assert [(r["position"], r["keyword"]) for r in sorted(rows, key=lambda r: r["position"])] == [(0, "k9"), (1, "k10"), (2, "k11")]
