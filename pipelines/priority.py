"""Steady progress: which waiter of a shared, bounded resource goes next.

With dozens of cells in flight and every waiter served in arrival order, every
started cell advances at once: on the local world (LLM 1 s, 20 companies x 7
columns, 64 cells in flight) no cell had finished after 17 s, because each
cell's last call (its summary) queued behind every other cell's page
judgements. A progress view then looks stalled and an interrupt throws away
every cell's partial work.

The policy: a waiter of a provider's concurrency slot carries a ``priority``
key, and a free slot goes to the lowest key,

    (stage rank, cell start time, arrival order)

- the stage rank puts a cell's later stages first (``STAGE_RANK``:
  summarize/transform before judge before search before expand), so a cell
  that is nearly done finishes instead of waiting behind the first steps of
  cells that have barely begun;
- then the older cell first (``cell_started``, ``time.time()`` when its
  workflow began), so among the same stage the cells that started first finish
  first;
- then arrival order, so equal keys stay FIFO.

It only reorders waiters: how many hold a slot (``max_concurrency``) and the
rate-limit windows stay exactly as they are, and a free slot is never left
idle while anyone waits (work-conserving), so throughput does not drop.

No starvation: a waiting call is passed only by calls of a later stage or of
an older cell. Cells in flight are bounded (``run.max_cells_in_flight``) and each
has a bounded number of calls (keywords, ``max_pages_per_cell`` judgements and
one repair retry each, one summary); a cell started after the waiting one
reaches a later stage only through its own first-stage call, which queues
behind the waiting call (younger cell, same or lower stage). So only a finite
amount of work can pass a waiter, and it eventually runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import AsyncIterator
from typing import Literal

__all__ = ["QueueOrder", "DEFAULT_QUEUE_ORDER", "STAGE_RANK", "Priority", "call_priority", "PrioritySemaphore"]

log = logging.getLogger(__name__)

QueueOrder = Literal["fifo", "priority"]
DEFAULT_QUEUE_ORDER: QueueOrder = "priority"

# Lower runs first: the last steps of a cell's workflow (pipelines.research) come first.
STAGE_RANK: dict[str, int] = {"summarize": 0, "transform": 0, "judge": 1, "search": 2, "expand": 3}
_FIRST_STAGE_RANK = max(STAGE_RANK.values())  # a call of an unknown stage is treated as a cell's first step

Priority = tuple[int, float]  # (stage rank, cell start time in time.time() seconds); lower first


def call_priority(stage: str, cell_started: float | None) -> Priority:
    """The key a call of ``stage`` for a cell started at ``cell_started`` waits with.

    A call without a cell start time (a caller outside the cell workflow) waits
    like the first step of a cell starting now: behind every cell already running.
    """
    rank = STAGE_RANK.get(stage, _FIRST_STAGE_RANK)
    return rank, (cell_started if cell_started is not None else time.time())


class PrioritySemaphore:
    """An ``asyncio.Semaphore`` of ``value`` permits whose waiters are served lowest ``priority`` first.

    ``order="fifo"`` ignores priorities (arrival order, like ``asyncio.Semaphore``).
    A released permit is handed straight to the next live waiter, so a newcomer
    never overtakes a waiter; a waiter cancelled while queued leaves the queue,
    and one cancelled after it was handed a permit passes the permit on, so no
    permit is ever lost. Single event loop, like every asyncio primitive.
    """

    def __init__(self, value: int, order: QueueOrder = DEFAULT_QUEUE_ORDER) -> None:
        if value < 1:
            raise ValueError(f"a semaphore needs at least one permit, got {value}")
        self._free = value
        self.value = value  # permits in all, held or free
        self._debt = 0  # permits to retire as they are released (after a shrink)
        self._order = order
        self._waiters: list[tuple[Priority, int, asyncio.Future]] = []  # a heap
        self._arrivals = itertools.count()

    @property
    def free(self) -> int:
        """Permits nobody holds."""
        return self._free

    @property
    def waiting(self) -> int:
        """Callers queued for a permit (cancelled ones are dropped lazily and may still count)."""
        return sum(not f.done() for _, _, f in self._waiters)

    def locked(self) -> bool:
        return self._free == 0

    async def acquire(self, priority: Priority | None = None) -> None:
        """Wait for a permit; raises ``CancelledError`` (holding nothing) if cancelled while waiting."""
        if self._free > 0:  # release() hands a permit to a live waiter first, so nobody waits while one is free
            self._free -= 1
            return
        if self._order == "fifo":
            key: Priority = (0, 0.0)  # equal keys: arrival order decides
        else:
            key = priority if priority is not None else call_priority("", None)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (key, next(self._arrivals), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the permit was ours already: hand it to the next waiter
            raise

    def resize(self, value: int) -> None:
        """Hold ``value`` permits from now on (a participant's share of a provider's max_concurrency changed).

        Growing hands the new permits to waiters at once; shrinking takes permits back as holders
        release them, so nobody loses a permit it holds and the new size holds once they have."""
        value = max(1, value)
        delta, self.value = value - self.value, value
        for _ in range(max(0, delta)):
            if self._debt:
                self._debt -= 1
            else:
                self.release()
        if delta < 0:
            taken = min(self._free, -delta)
            self._free -= taken
            self._debt += -delta - taken

    def release(self) -> None:
        """Return a permit: to the next live waiter if there is one, else to the pool."""
        if self._debt:  # the semaphore shrank: this permit is retired
            self._debt -= 1
            return
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1

    @contextlib.asynccontextmanager
    async def slot(self, priority: Priority | None = None) -> AsyncIterator[None]:
        """``async with sem.slot(key):`` holds one permit for the block."""
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()
