"""The one writer of an output folder: a thin Ray shell over ``StoreWriter``.

Every other actor and the driver send records here; appends are batched by
``StoreWriter`` and keyed, so a retried append never duplicates a row. The
actor is synchronous (one call at a time): appends are cheap buffer writes,
and serializing them is what makes "one writer" true. Part files are written
by a thread of the actor (every ``FLUSH_CHECK_S``, when a buffer is due), so
an append is acknowledged without waiting for Parquet or the DuckDB catalog:
a research worker reports a finished cell only after the writer acknowledged
its records, and a write in the append's path held those reports up.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import ray

from actors import objects
from actors.placement import on_this_node
from pipelines.errors import StoreError
from pipelines.record_batcher import RecordBatcher
from pipelines.store.writer import StoreWriter

__all__ = ["WriterActor", "BackgroundWriter", "BatchedRecordSink", "MAX_UNACKED_WRITES", "UNACKED_AFTER_WAIT", "start_writer", "DeferredWriter", "writer_name", "writer_handle", "free_actor_name"]

logger = logging.getLogger(__name__)


FLUSH_CHECK_S = 0.25  # how often the writer's thread looks for a due buffer (StoreWriter.max_age_s makes it due)
BACKLOG_ROWS = 50_000  # buffered rows past which an append waits for the disk


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class WriterActor:
    def __init__(self, output_dir: str) -> None:
        self._writer = BackgroundWriter(StoreWriter(output_dir, auto_flush=False))

    def append(self, table: str, records: list[dict]) -> None:
        self._writer.append_many([(table, records)])

    def append_many(self, batches: list[tuple[str, list[dict]]]) -> None:
        self._writer.append_many(batches)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        """Flush, compact to one row per key, and refresh the DuckDB views."""
        self._writer.close()

    def ping(self) -> bool:
        return True


class BackgroundWriter:
    """A ``StoreWriter`` (made with ``auto_flush=False``) whose part files a thread of its own writes.

    ``append_many`` only buffers, so it returns without waiting for Parquet or the DuckDB catalog;
    the thread writes every ``check_s`` seconds once a buffer is due (``StoreWriter.due``).
    """

    def __init__(self, writer: StoreWriter, check_s: float = FLUSH_CHECK_S, backlog_rows: int = BACKLOG_ROWS) -> None:
        self._writer, self._backlog_rows = writer, backlog_rows
        self._buffers_lock = threading.Lock()  # appends, and taking the buffers away
        self._io_lock = threading.Lock()  # one write at a time, in the order the buffers were taken
        self._failure: BaseException | None = None  # a background write's error, raised by the next call
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write_when_due, args=(check_s,), name="trawl.writer.flush", daemon=True)
        self._thread.start()

    def append_many(self, batches: list[tuple[str, list[dict]]]) -> None:
        """Buffer the records; raises ``StoreError`` for records that do not fit their table, or for a
        background write that failed since the last call (its records are lost)."""
        self._raise_failure()
        with self._buffers_lock:
            for table, records in batches:
                self._writer.append(table, records)
            backlog = self._writer.pending_rows() > self._backlog_rows
        if backlog:  # the disk is slower than the senders: they wait for it instead of filling memory
            self._write(everything=True)

    def flush(self) -> None:
        self._write(everything=True)
        self._raise_failure()

    def close(self) -> None:
        """Write what is buffered, compact to one row per key, and refresh the DuckDB views."""
        self._stop.set()
        with self._io_lock, self._buffers_lock:
            self._writer.close()  # close() writes the buffers, compacts and refreshes the catalog
        self._raise_failure()

    def _write_when_due(self, check_s: float) -> None:
        while not self._stop.wait(check_s):
            try:
                self._write(everything=False)
            except Exception as exc:  # noqa: BLE001 - kept for the next call to raise
                self._failure = exc

    def _write(self, *, everything: bool) -> None:
        with self._io_lock:
            with self._buffers_lock:
                if not everything and not self._writer.due():
                    return
                buffers = self._writer.take()
            self._writer.write(buffers)

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure


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
    return WriterActor.options(name=writer_name(job_id), scheduling_strategy=on_this_node()).remote(output_dir)  # type: ignore[attr-defined]  # an @ray.remote class


def _actor_exists(name: str) -> bool:
    if not ray.is_initialized():  # no cluster: no actor (and no Ray started just to look)
        return False
    try:
        ray.get_actor(name)
    except ValueError:
        return False
    return True


class DeferredWriter:
    """The job's writer actor, started only when a process other than the driver has records to send.

    Until ``handle()`` is first called (the driver's first call its caches cannot answer starts
    the gateways, fetchers or research workers, which write through the actor), appends are kept
    in the driver. A run its caches answer entirely never starts the actor: ``close`` writes the
    kept records with an in-process ``StoreWriter``. Starting the actor took 0.55-0.6 s of such a
    1.2 s re-run on 2 cores (``benchmarks/cache.py``). Past ``max_kept`` records the actor is
    started anyway, so a large re-run does not hold its whole output in the driver's memory.
    """

    def __init__(self, output_dir: str, *, job_id: str, max_kept: int = 50_000) -> None:
        """Raises ``StoreError`` now for an output that cannot be created (a missing bucket, no permission),
        or when a run of the same job is going on (its writer exists): the actor would only meet either on
        the first miss, after research had started and LLM calls were paid."""
        if _actor_exists(writer_name(job_id)):
            raise StoreError(f"job {job_id} is already running on this cluster (its writer {writer_name(job_id)} "
                             "exists); one run of a job at a time, or give this one another name")
        self.output_dir, self.job_id, self.max_kept = output_dir, job_id, max_kept
        self._local = StoreWriter(output_dir)  # creates (and so checks) the output; writes only if the actor never starts
        self._handle = None
        self._kept: list[tuple[str, list[dict]]] = []
        self._kept_records = 0
        self._handed: list = []  # appends that took the kept records to the actor, for the sink to check

    @property
    def started(self) -> bool:
        return self._handle is not None

    def handle(self):
        """The actor's handle, started now if it is not yet; what was kept is sent to it first."""
        if self._handle is None:
            self._handle = start_writer(self.output_dir, job_id=self.job_id)
            # one append per kept batch, as they would have gone (a bad batch fails alone), before any later
            # append (the actor runs one caller's calls in order); their refs are checked like every append's
            self._handed = [self._handle.append_many.remote([batch]) for batch in self._kept]
            self._kept, self._kept_records = [], 0
        return self._handle

    def take_handed(self) -> list:
        """The refs of the appends that handed the kept records over (each once), for the caller to wait on."""
        handed, self._handed = self._handed, []
        return handed

    def send(self, batch: list[tuple[str, list[dict]]]):
        """Append ``batch`` ([(table, records)]): the append's ObjectRef, or None while the records stay here."""
        if self._handle is not None:
            return self._handle.append_many.remote(batch)
        self._kept += batch
        self._kept_records += sum(len(records) for _, records in batch)
        if self._kept_records > self.max_kept:
            self.handle()
        return None

    def close(self) -> None:
        """Flush, compact and refresh the catalog: in the actor if it started, else here.

        Raises ``StoreError`` (or the actor's error) for records that could not be written; in the
        driver, a bad batch is left out and every other one is still written."""
        if self._handle is not None:
            failed = []
            for ref in self.take_handed():
                try:
                    ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - reported below, after the output is closed
                    failed.append(exc)
            ray.get(self._handle.close.remote())
            if failed:
                raise failed[0]
            return
        rejected: list[StoreError] = []
        for table, records in self._kept:
            try:
                self._local.append(table, records)
            except StoreError as exc:  # only this batch: as the actor would have refused it alone
                rejected.append(exc)
        self._kept, self._kept_records = [], 0
        self._local.close()
        if rejected:
            raise StoreError(f"{len(rejected)} record batch(es) not written; first: {rejected[0]}")


# Backpressure on the writer: with more than MAX_UNACKED_WRITES appends sent and not acknowledged, the
# sender waits until UNACKED_AFTER_WAIT remain, so a slow disk slows the senders instead of filling memory.
MAX_UNACKED_WRITES = 32
UNACKED_AFTER_WAIT = 16


class BatchedRecordSink:
    """Records to the writer in batches (``pipelines.record_batcher.RecordBatcher``), ``observe`` called per record.

    The driver (``RayServices``, every table) and both gateways (one table:
    call the sink with a list of records) send through it. A batch goes out at
    ``max_records`` records or after ``linger_s``; a quiet tail still goes out
    within ``linger_s`` (a timer on the running event loop). ``flush()`` sends
    what is buffered and waits until the writer has it. ``writer=None`` only
    observes (a gateway without an output folder).
    """

    def __init__(self, writer, table: str | None = None, observe: Callable[[dict], None] | None = None, *,
                 max_records: int = 64, linger_s: float = 1.0) -> None:
        self._writer = writer
        self._table = table
        self._observe = observe
        self.batcher = RecordBatcher(max_records, linger_s)
        self._pending: list = []
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, records: list[dict]) -> None:
        if self._table is None:
            raise TypeError("this sink has no default table: use record(table, records)")
        self.record(self._table, records)

    def record(self, table: str, records: list[dict]) -> None:
        if self._observe is not None:
            for record in records:
                self._observe(record)
        if self._writer is None or not records:
            return
        batch = self.batcher.add(table, records)
        if batch:
            self._send(batch)
        elif self._timer is None:
            self._start_timer()

    def _start_timer(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: the next record or flush() sends it
            return
        self._timer = loop.call_later(self.batcher.seconds_until_due(), self.send)

    def send(self) -> None:
        """Send what is buffered now (without waiting for the writer)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = self.batcher.take()
        if batch and self._writer is not None:
            self._send(batch)

    def _send(self, batch) -> None:
        if isinstance(self._writer, DeferredWriter):
            ref = self._writer.send(batch)
            if ref is None:  # kept in the driver until the actor starts
                return
        else:
            ref = self._writer.append_many.remote(batch)
        self._pending.append(ref)
        if len(self._pending) > MAX_UNACKED_WRITES:
            _, self._pending = ray.wait(self._pending, num_returns=len(self._pending), timeout=0)  # forget acknowledged
        if len(self._pending) > MAX_UNACKED_WRITES:
            done, self._pending = ray.wait(self._pending, num_returns=len(self._pending) - UNACKED_AFTER_WAIT)
            ray.get(done)

    async def flush(self) -> list[BaseException]:
        """Send what is buffered and wait for every append so far; returns the appends that failed."""
        self.send()
        pending, self._pending = self._pending, []
        if isinstance(self._writer, DeferredWriter):
            pending = self._writer.take_handed() + pending
        results = await asyncio.gather(*(objects.get_object(ref) for ref in pending), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            logger.warning("%d of %d record appends failed; first: %r", len(failed), len(results), failed[0])
        return failed
