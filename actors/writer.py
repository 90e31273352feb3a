"""The one writer of an output folder: a thin Ray shell over ``StoreWriter``.

Every other actor and the driver send records here; appends are batched by
``StoreWriter`` and keyed, so a retried append never duplicates a row. The
actor is synchronous (one call at a time): appends are cheap buffer writes,
and serializing them is what makes "one writer" true.
"""

from __future__ import annotations

import time

import ray

from actors.placement import on_this_node
from pipelines.store.writer import StoreWriter

__all__ = ["WriterActor", "start_writer", "writer_name", "writer_handle", "free_actor_name"]


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
