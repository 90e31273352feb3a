"""The writer's two halves of latency: DeferredWriter (the actor starts only when another process needs it; until
then the driver keeps the records) and BackgroundWriter (appends never wait for a part file being written)."""

from __future__ import annotations

import threading
import time

import pytest
import ray

from actors.writer import BackgroundWriter, DeferredWriter, writer_name
from pipelines.errors import StoreError
from pipelines.store.reader import read_table
from pipelines.store.writer import StoreWriter
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


class _SlowDisk(StoreWriter):
    """A StoreWriter whose part files wait for the test: a disk (or a DuckDB catalog) that takes its time."""

    def __init__(self, path):
        super().__init__(path, auto_flush=False, max_age_s=0.0)
        self.writing, self.go_on = threading.Event(), threading.Event()

    def write(self, buffers):
        if buffers:
            self.writing.set()
            assert self.go_on.wait(30), "the test never let the write finish"
        return super().write(buffers)


def test_an_append_is_acknowledged_while_the_writer_thread_is_writing(tmp_path):
    disk = _SlowDisk(tmp_path)
    writer = BackgroundWriter(disk, check_s=0.01)
    writer.append_many([("cells", [cell("Acme", "ceo", "first")])])
    assert disk.writing.wait(30)  # the thread took the buffer and is held inside write()
    writer.append_many([("cells", [cell("Acme", "ceo", "second")])])  # returns: appends never wait for the disk
    assert disk.pending_rows() == 1
    disk.go_on.set()
    writer.close()
    assert [r["answer"] for r in read_table(tmp_path, "cells").to_pylist()] == ["second"]  # written in order: the later wins


def test_a_failed_background_write_is_raised_by_the_next_call(tmp_path):
    class _FullDisk(StoreWriter):
        def write(self, buffers):
            if buffers:
                raise StoreError("disk full")
            return 0

    writer = BackgroundWriter(_FullDisk(tmp_path, auto_flush=False, max_age_s=0.0), check_s=0.01)
    writer.append_many([("cells", [cell("Acme", "ceo", "x")])])
    deadline = time.monotonic() + 30
    while writer._failure is None and time.monotonic() < deadline:  # the thread's write lands within its next check
        time.sleep(0.01)
    with pytest.raises(StoreError, match="disk full"):
        writer.append_many([("cells", [cell("Beta", "ceo", "y")])])
