"""DeferredWriter: the writer actor starts only when another process needs it; until then the driver keeps the records."""

from __future__ import annotations

import pytest
import ray

from actors.writer import DeferredWriter, writer_name
from pipelines.store.reader import read_table
from tests.fixtures_store import cell, job_record


def _actor_exists(name: str) -> bool:
    try:
        ray.get_actor(name)
        return True
    except ValueError:
        return False


def test_a_run_that_never_needs_the_actor_writes_in_the_driver(ray_local, tmp_path):
    writer = DeferredWriter(str(tmp_path), job_id="demo-abc")
    assert writer.send([("jobs", [job_record()]), ("cells", [cell("Acme", "ceo", "Ada")])]) is None
    assert writer.send([("cells", [cell("Beta", "ceo", "Bo")])]) is None
    writer.close()
    assert not writer.started and not _actor_exists(writer_name("demo-abc"))
    assert sorted(r["row_key"] for r in read_table(tmp_path, "cells").to_pylist()) == ["Acme", "Beta"]
    assert (tmp_path / "trawl.duckdb").is_file()


def test_kept_records_reach_the_actor_before_later_ones(ray_local, tmp_path):
    writer = DeferredWriter(str(tmp_path), job_id="demo-def")
    writer.send([("cells", [cell("Acme", "ceo", "kept first", job_id="demo-def")])])
    handle = writer.handle()
    try:
        ray.get(writer.send([("cells", [cell("Acme", "ceo", "sent later", job_id="demo-def")])]))
        writer.close()
        assert [r["answer"] for r in read_table(tmp_path, "cells").to_pylist()] == ["sent later"]  # the later write wins
    finally:
        ray.kill(handle, no_restart=True)


@pytest.mark.parametrize("max_kept, starts", [(3, True), (10, False)])
def test_the_actor_starts_once_the_driver_keeps_too_many_records(ray_local, tmp_path, max_kept, starts):
    writer = DeferredWriter(str(tmp_path), job_id=f"demo-k{max_kept}", max_kept=max_kept)
    try:
        for i in range(5):
            writer.send([("cells", [cell(f"row{i}", "ceo", "x", job_id=f"demo-k{max_kept}")])])
        assert writer.started is starts
        writer.close()
        assert len(read_table(tmp_path, "cells").to_pylist()) == 5
    finally:
        if writer.started:
            ray.kill(writer.handle(), no_restart=True)
