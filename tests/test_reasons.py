"""cells.reason / cells.message: the "<slug>: <message>" convention split once, readable as the old error column."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.reasons import UNSPECIFIED, join_reason, split_error_field, split_reason
from pipelines.research import CellOutcome, CellTask, cell_record
from pipelines.store.catalog import CATALOG_FILE
from pipelines.store.reader import partition_dir, read_table
from pipelines.store.writer import StoreWriter
from tests.fixtures_store import cell


@pytest.mark.parametrize("error, expected", [
    ("no_results: search returned no usable URLs", ("no_results", "search returned no usable URLs")),
    ("internal: ValueError: boom", ("internal", "ValueError: boom")),  # only the first colon splits
    ("timeout", ("timeout", None)),
    ("upstream ceo failed: timeout", (UNSPECIFIED, "upstream ceo failed: timeout")),  # no slug: text kept whole
    (None, (None, None)),
])
def test_split_reason(error, expected):
    assert split_reason(error) == expected
    if error is not None and expected[0] != UNSPECIFIED:
        assert join_reason(*expected) == error


def test_outcomes_written_the_old_way_land_in_reason_and_message():
    o = CellOutcome(status="done")
    o.status, o.error = "failed", "judge_failed: 3 of 3 page(s) could not be judged"  # how other code writes it
    rec = cell_record(CellTask("j", "Acme", "ceo", "Who?", {}), o, 0.0, 1.0)
    assert (rec["reason"], rec["message"]) == ("judge_failed", "3 of 3 page(s) could not be judged")
    assert "error" not in rec
    assert split_error_field({"error": "timeout: slow", "reason": "mine"}) == {"reason": "mine", "message": "slow"}


def test_writer_readers_and_view_agree_on_reason_message_and_error(tmp_path):
    with StoreWriter(tmp_path) as w:  # the writer also accepts the pre-split error= field
        w.append("cells", [cell("Acme", "ceo", None, status="failed", error="no_results: nothing found"),
                           cell("Acme", "site", "x")])
    rows = {r["column"]: r for r in read_table(tmp_path, "cells").to_pylist()}
    assert (rows["ceo"]["reason"], rows["ceo"]["message"], rows["ceo"]["error"]) == ("no_results", "nothing found", "no_results: nothing found")
    assert rows["site"]["reason"] is None and rows["site"]["error"] is None
    con = duckdb.connect(str(tmp_path / CATALOG_FILE), read_only=True)
    try:
        con.execute(f"SET file_search_path = '{tmp_path}'")  # the views name files relative to the folder
        got = con.sql("SELECT reason, message, error FROM cells WHERE \"column\" = 'ceo'").fetchall()
    finally:
        con.close()
    assert got == [("no_results", "nothing found", "no_results: nothing found")]


def test_a_file_written_before_the_split_reads_as_reason_and_message(tmp_path):
    folder = partition_dir(tmp_path, "cells", "j")
    folder.mkdir(parents=True)
    old = pa.table({"job_id": ["j"], "row_key": ["Acme"], "column": ["ceo"], "status": ["failed"],
                    "error": ["timeout: cell exceeded run.cell_timeout_s"]})
    pq.write_table(old, folder / "part-0000000000000000001-1-0.parquet")
    (row,) = read_table(tmp_path, "cells").to_pylist()
    assert (row["reason"], row["message"]) == ("timeout", "cell exceeded run.cell_timeout_s")
