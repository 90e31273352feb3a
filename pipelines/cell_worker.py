"""A research worker's loop, without Ray: take cells in batches, research them, hand outcomes back in batches.

``actors.research_worker.ResearchWorker`` wraps one ``CellWorker`` per actor.
The driver sends cells with ``submit`` (many per message) and long-polls
``finished``: it returns as soon as at least one cell has finished (or after
``wait_s``), with every outcome finished by then and the progress counters
counted since the last reply. Before it returns, the cells' records (the
``cells`` row and every intermediate record) have reached the writer, so an
outcome the driver holds is never one the output lacks; a worker lost before
its reply costs only a re-run of its cells, and the writer's keys make that
re-run replace, not duplicate, what the lost worker had written.

Cells start in the order they arrive, at most ``max_in_flight`` at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pipelines.research import CellOutcome, CellTask, cell_record

__all__ = ["CellWorker", "Finished", "WorkerReport", "answer_cell"]

logger = logging.getLogger(__name__)


async def answer_cell(task: CellTask, services, timeout_s: float | None) -> CellOutcome:
    """The cell's outcome from its column's kind (``pipelines.tasks.run_cell``); never raises.

    A cell still running after ``timeout_s`` fails as ``timeout``; a bug or a lost actor fails it as ``internal``."""
    from pipelines.status import CellStatus
    from pipelines.tasks import run_cell

    try:
        coro = run_cell(task, services)
        return await (asyncio.wait_for(coro, timeout_s) if timeout_s else coro)
    except TimeoutError:
        return CellOutcome(status=CellStatus.FAILED, error="timeout: cell exceeded run.cell_timeout_s")
    except Exception as exc:  # noqa: BLE001 - this cell fails (recorded), the job goes on
        return CellOutcome(status=CellStatus.FAILED, error=f"internal: {type(exc).__name__}: {str(exc)[:300]}")


@dataclass
class Finished:
    """One researched cell: the driver needs the outcome for the DAG and progress; the record is written already."""

    row_key: str
    column: str
    outcome: CellOutcome
    started: float  # time.time()
    finished: float


@dataclass
class WorkerReport:
    """``finished`` cells since the last report, progress ``counters`` counted since then, cells ``in_flight`` now."""

    finished: list[Finished] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0


class CellWorker:
    """Research the cells given to ``submit``; ``finished`` hands back what is done.

    ``services``: a ``TaskServices`` (records and counters go through it); ``counters``: the
    ``Counter`` its ``count`` adds to; ``flush()``: waits until every record so far is at the writer.
    """

    def __init__(self, services, counters: Counter, flush: Callable[[], Awaitable[None]], *,
                 max_in_flight: int, cell_timeout_s: float | None, name: str = "worker") -> None:
        self.services, self.counters, self._flush = services, counters, flush
        self.name = name  # the cells table's ``worker``
        self.timeout_s = cell_timeout_s
        self._slots = asyncio.Semaphore(max_in_flight)
        self._done: list[Finished] = []
        self._ready = asyncio.Event()
        self._tasks: dict[tuple[str, str], asyncio.Task] = {}

    def submit(self, tasks: list[CellTask]) -> None:
        for task in tasks:
            key = (task.row_key, task.column)
            if key in self._tasks:
                continue  # sent again after a lost reply: the first one is still running
            self._tasks[key] = asyncio.get_running_loop().create_task(self._run(task))

    async def _run(self, task: CellTask) -> None:
        async with self._slots:
            started = time.time()
            outcome = await answer_cell(task, self.services, self.timeout_s)
            ended = time.time()
        self.services.record("cells", [cell_record(task, outcome, started, ended, self.name)])
        self._done.append(Finished(task.row_key, task.column, outcome, started, ended))
        self._tasks.pop((task.row_key, task.column), None)
        self._ready.set()

    async def finished(self, wait_s: float) -> WorkerReport:
        """Outcomes finished since the last call, once at least one is (or ``wait_s`` passed); records flushed first."""
        if not self._done:
            try:
                await asyncio.wait_for(self._ready.wait(), wait_s)
            except TimeoutError:
                pass
        done, self._done = self._done, []
        self._ready.clear()
        await self._flush()
        counters = {k: v for k, v in self.counters.items() if v}
        self.counters.clear()
        return WorkerReport(done, counters, len(self._tasks))

    async def aclose(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
