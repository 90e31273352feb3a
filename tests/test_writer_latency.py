"""The writer's two halves of latency: DeferredWriter (the actor starts only when another process needs it; until
then the driver keeps the records) and BackgroundWriter (appends never wait for a part file being written)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest
import ray

from actors.writer import BackgroundWriter, BatchedRecordSink, DeferredWriter, writer_name
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


def test_a_failed_background_write_is_raised_by_a_later_call(tmp_path):
    class _FullDisk(StoreWriter):
        attempted = threading.Event()

        def write(self, buffers):
            if buffers:
                self.attempted.set()
                raise StoreError("disk full")
            return 0

    disk = _FullDisk(tmp_path, auto_flush=False, max_age_s=0.0)
    writer = BackgroundWriter(disk, check_s=0.01)
    try:
        writer.append_many([("cells", [cell("Acme", "ceo", "x")])])
        assert disk.attempted.wait(30)  # the thread took the buffer and failed to write it
        with pytest.raises(StoreError, match="disk full"):  # the failure is kept for the caller after it
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                writer.append_many([("cells", [cell("Beta", "ceo", "y")])])
                time.sleep(0.01)
    finally:
        with contextlib.suppress(StoreError):
            writer.close()


def test_an_output_that_cannot_be_created_fails_before_anything_starts(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create output folder"):
        DeferredWriter(str(tmp_path / "a-file" / "out"), job_id="demo-abc")


def test_a_second_run_of_a_running_job_is_refused_before_it_starts(ray_local, tmp_path):
    first = DeferredWriter(str(tmp_path / "a"), job_id="demo-twice")
    handle = first.handle()  # the first run has met its first miss: its writer actor exists
    try:
        with pytest.raises(StoreError, match="already running"):
            DeferredWriter(str(tmp_path / "b"), job_id="demo-twice")
    finally:
        ray.kill(handle, no_restart=True)


def test_a_bad_batch_kept_in_the_driver_is_refused_alone(tmp_path):
    writer = DeferredWriter(str(tmp_path), job_id="demo-abc")
    writer.send([("jobs", [job_record()]), ("cells", [cell("Good1", "ceo", "a")])])
    writer.send([("cells", [{**cell("Bad", "ceo", "b"), "no_such_field": 1}])])
    writer.send([("cells", [cell("Good2", "ceo", "c")])])
    with pytest.raises(StoreError, match="1 record batch"):
        writer.close()
    assert sorted(r["row_key"] for r in read_table(tmp_path, "cells").to_pylist()) == ["Good1", "Good2"]
    assert [r["status"] for r in read_table(tmp_path, "jobs").to_pylist()] == ["done"]


def test_a_bad_kept_batch_handed_to_the_actor_is_reported_and_refused_alone(ray_local, tmp_path):
    writer = DeferredWriter(str(tmp_path), job_id="demo-hnd")
    sink = BatchedRecordSink(writer, max_records=1, linger_s=60)
    sink.record("cells", [cell("Good1", "ceo", "a", job_id="demo-hnd")])
    sink.record("cells", [{**cell("Bad", "ceo", "b", job_id="demo-hnd"), "no_such_field": 1}])
    sink.record("cells", [cell("Good2", "ceo", "c", job_id="demo-hnd")])
    handle = writer.handle()
    try:
        failed = asyncio.run(sink.flush())
        assert len(failed) == 1 and "no_such_field" in str(failed[0])  # the sender learns a batch was refused
        writer.close()
        assert sorted(r["row_key"] for r in read_table(tmp_path, "cells").to_pylist()) == ["Good1", "Good2"]
    finally:
        ray.kill(handle, no_restart=True)
