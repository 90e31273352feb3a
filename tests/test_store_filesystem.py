"""Outputs on a filesystem URI (object storage, shared mounts): same tables, same SQL, only the writer writes.

There is no S3 here, so the URI code path runs against ``file://`` (pyarrow's
LocalFileSystem) and pyarrow's in-memory mock filesystem under a scheme of
our own; both go through exactly the code an ``s3://`` output uses.
"""

from __future__ import annotations

import pyarrow.fs as pafs
import pytest
from pyarrow._fs import _MockFileSystem

from pipelines.errors import ReadOnlyQueryError, StoreError
from pipelines.store.catalog import refresh_catalog
from pipelines.store.filesystem import is_uri, local_state_dir, register_filesystem, remote_output
from pipelines.store.query import query, results_table
from pipelines.store.reader import list_jobs, part_files, previous_state, read_table
from pipelines.store.writer import StoreWriter
from tests.fixtures_store import cell, write_demo


@pytest.fixture
def memfs():
    fs = _MockFileSystem()
    register_filesystem("memtest", lambda uri: (fs, uri.split("://", 1)[1]))
    yield fs
    register_filesystem("memtest", None)


@pytest.fixture(params=["file", "memory"])
def uri(request, tmp_path):
    if request.param == "file":
        return f"file://{tmp_path}/bucket/trawl"
    request.getfixturevalue("memfs")
    return "memtest://bucket/trawl"


def test_uri_output_answers_the_same_sql_as_a_local_folder(uri, tmp_path):
    write_demo(uri)
    local = write_demo(tmp_path / "local")
    sql = "SELECT company, ceo, founded, public, products FROM results ORDER BY company"
    assert query(uri, sql).to_pylist() == query(local, sql).to_pylist()
    assert query(uri, "SELECT count(*) AS n FROM cells WHERE status = 'done'").to_pylist() == [{"n": 10}]
    assert results_table(uri, "demo companies").num_rows == 2
    assert [j["job_id"] for j in list_jobs(uri)] == ["demo-abc"]
    assert previous_state(uri, "demo-abc")[0][("Beta Foods", "ceo")] == "failed"


def test_uri_output_has_no_catalog_file_and_no_temporary_leftovers(tmp_path):
    uri = f"file://{tmp_path}/out"
    write_demo(uri)
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert files and all(f.split("/")[-1].startswith("part-") for f in files), files
    assert not (tmp_path / "out" / "trawl.duckdb").exists()
    with pytest.raises(StoreError, match="no trawl.duckdb"):
        refresh_catalog(uri)


def test_retried_writes_and_compaction_keep_one_row_per_key(uri):
    w = StoreWriter(uri)
    for attempt in range(3):
        w.append("cells", [cell("Acme", "ceo", f"v{attempt}"), cell(f"Row{attempt}", "ceo", "x")])
        w.flush()
    assert len(part_files(uri, "cells", "demo-abc")) == 3
    assert read_table(uri, "cells").num_rows == 4  # readers already resolve the duplicates
    w.close()
    assert len(part_files(uri, "cells", "demo-abc")) == 1
    rows = query(uri, "SELECT row_key, answer FROM cells ORDER BY row_key").to_pylist()
    assert rows == [{"row_key": "Acme", "answer": "v2"}, {"row_key": "Row0", "answer": "x"},
                    {"row_key": "Row1", "answer": "x"}, {"row_key": "Row2", "answer": "x"}]
    dupes = query(uri, 'SELECT row_key, "column", count(*) AS n FROM cells GROUP BY ALL HAVING n > 1')
    assert dupes.num_rows == 0


def test_query_on_a_uri_output_is_read_only_and_reads_no_files(uri, tmp_path):
    write_demo(uri)
    (tmp_path / "secret.csv").write_text("a\n1\n")
    with pytest.raises(ReadOnlyQueryError):
        query(uri, "DELETE FROM cells")
    with pytest.raises((ReadOnlyQueryError, StoreError)):
        query(uri, f"SELECT * FROM read_csv('{tmp_path}/secret.csv')")


def test_memory_uri_really_lives_in_the_filesystem(memfs):
    write_demo("memtest://bucket/trawl")
    infos = memfs.get_file_info(pafs.FileSelector("bucket/trawl/cells", recursive=True))
    assert any(i.base_name.startswith("part-") and i.base_name.endswith(".parquet") for i in infos)


def test_unusable_uri_is_a_store_error():
    with pytest.raises(StoreError, match="cannot open output"):
        remote_output("nosuchscheme://bucket/x")


def test_caches_of_a_uri_output_stay_on_the_node(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAWL_STATE_DIR", str(tmp_path / "state"))
    assert is_uri("s3://bucket/prefix") and not is_uri("/data/trawl") and not is_uri("./trawl-data")
    state = local_state_dir("s3://bucket/prefix")
    assert state.startswith(str(tmp_path / "state")) and "s3_bucket_prefix" in state
    assert local_state_dir("./trawl-data").endswith("trawl-data")
