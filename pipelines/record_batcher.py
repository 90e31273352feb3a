"""Records buffered per table and released in batches (one batcher for the driver and both gateways).

Sending one record per actor call would cost a Ray round trip per search hit;
``RecordBatcher`` holds them until ``max_records`` are waiting or ``linger_s``
has passed since the last release, then hands them out as one batch
``[(table, [record, ...]), ...]``. It never sends anything itself: the Ray
shell (``actors.writer.BatchedRecordSink``) sends the batch and bounds the
batches not yet acknowledged. Not thread-safe: one event loop drives it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Batch", "RecordBatcher"]

Batch = list[tuple[str, list[dict]]]  # (table, records) pairs, tables in first-seen order


class RecordBatcher:
    """Per-table record buffer that says when a batch is due.

    ``max_records``: records waiting (all tables together) that make a batch due.
    ``linger_s``: seconds since the last release after which any record makes a batch due.
    ``clock``: monotonic seconds (a test passes its own).
    """

    def __init__(self, max_records: int, linger_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_records < 1 or linger_s < 0:
            raise ValueError("max_records must be >= 1 and linger_s >= 0")
        self.max_records = max_records
        self.linger_s = linger_s
        self._clock = clock
        self._tables: dict[str, list[dict]] = {}
        self._count = 0
        self._released_at = clock()

    @property
    def pending(self) -> int:
        """Records buffered and not yet released."""
        return self._count

    def buffered(self, table: str) -> list[dict]:
        """The records of ``table`` waiting for the next batch (a copy)."""
        return list(self._tables.get(table, ()))

    def add(self, table: str, records: list[dict]) -> Batch | None:
        """Buffer ``records``; returns the batch to send when one is due, else ``None``."""
        if records:
            self._tables.setdefault(table, []).extend(records)
            self._count += len(records)
        return self.take() if self._count and self.due() else None

    def due(self) -> bool:
        return self._count >= self.max_records or self._clock() - self._released_at >= self.linger_s

    def seconds_until_due(self) -> float:
        """How long a quiet buffer may wait before the linger makes it due (0 when due now)."""
        return max(0.0, self.linger_s - (self._clock() - self._released_at))

    def take(self) -> Batch:
        """Everything buffered, as one batch (``[]`` when empty); restarts the linger."""
        batch = [(table, recs) for table, recs in self._tables.items() if recs]
        self._tables, self._count = {}, 0
        self._released_at = self._clock()
        return batch
