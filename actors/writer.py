"""The one writer of an output folder: a thin Ray shell over ``StoreWriter``.

Every other actor and the driver send records here; appends are batched by
``StoreWriter`` and keyed, so a retried append never duplicates a row. The
actor is synchronous (one call at a time): appends are cheap buffer writes,
and serializing them is what makes "one writer" true.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import ray

from actors.placement import on_this_node
from pipelines.store.writer import StoreWriter

__all__ = ["WriterActor", "BatchedRecordSink", "start_writer", "writer_name", "writer_handle", "free_actor_name"]


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class WriterActor:
    def __init__(self, output_dir: str) -> None:
        self._writer = StoreWriter(output_dir)

    def append(self, table: str, records: list[dict]) -> None:
        self._writer.append(table, records)

    def append_many(self, batches: list[tuple[str, list[dict]]]) -> None:
        for table, records in batches:
            self._writer.append(table, records)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        """Flush, compact to one row per key, and refresh the DuckDB views."""
        self._writer.close()  # close() compacts and refreshes the catalog

    def ping(self) -> bool:
        return True


def free_actor_name(name: str, timeout_s: float = 10.0) -> None:
    """Kill the actor holding ``name`` (if any) and wait until Ray has released the name."""
    try:
        old = ray.get_actor(name)
    except ValueError:
        return
    ray.kill(old, no_restart=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:  # the name is released asynchronously
        try:
            ray.get_actor(name)
        except ValueError:
            return
        time.sleep(0.05)


def writer_name(job_id: str) -> str:
    return f"trawl.writer[{job_id}]"


def writer_handle(writer):
    """A writer given as a handle or by name (actors that restart take the name: Ray cannot
    guarantee a restart whose constructor arguments hold another actor's handle)."""
    return ray.get_actor(writer) if isinstance(writer, str) else writer


def start_writer(output_dir: str, *, job_id: str):
    """Start the writer pinned to this node (the output folder lives here)."""
    return WriterActor.options(name=writer_name(job_id), scheduling_strategy=on_this_node()).remote(output_dir)


class BatchedRecordSink:
    """A gateway's telemetry sink: ``observe`` (metrics) for every record, records to the writer in batches.

    A batch goes out at 64 records or after a second, whichever comes first;
    a quiet tail still reaches the writer within a second (a timer on the
    actor's event loop). ``flush()`` sends what is buffered and waits for it.
    """

    BATCH_RECORDS = 64
    BATCH_SECONDS = 1.0

    def __init__(self, writer, table: str, observe: Callable[[dict], None]) -> None:
        self._writer = writer
        self._table = table
        self._observe = observe
        self._buffer: list[dict] = []
        self._sent_at = time.monotonic()
        self._pending: list = []
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, records: list[dict]) -> None:
        for record in records:
            self._observe(record)
        if self._writer is None:
            return
        self._buffer.extend(records)
        if len(self._buffer) >= self.BATCH_RECORDS or time.monotonic() - self._sent_at >= self.BATCH_SECONDS:
            self.send()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.BATCH_SECONDS, self.send)

    def send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._buffer and self._writer is not None:
            self._pending.append(self._writer.append.remote(self._table, self._buffer))
            self._buffer = []
        self._sent_at = time.monotonic()
        if len(self._pending) > 32:  # forget acknowledged appends
            _, self._pending = ray.wait(self._pending, num_returns=len(self._pending), timeout=0)

    async def flush(self) -> None:
        self.send()
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
