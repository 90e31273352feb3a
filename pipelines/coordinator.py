"""Drive a job's cell DAG: start ready cells, bound the work in flight, record every outcome.

Plain asyncio over a ``TaskServices`` object (``pipelines.research.Services`` plus
``run_python``, see ``pipelines.tasks.base``): the
Ray wiring lives in ``actors.services``. Cells run in this process until the
job's research workers start (``RemoteCells``), then on the workers; the
DAG stays here. Backpressure is a hard bound on cells in flight (per
process that researches); each cell bounds its own pages, so the pages and
LLM calls in flight are bounded too and memory stays flat as the job grows.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from pipelines.cell_worker import answer_cell
from pipelines.dag import CellDAG
from pipelines.research import CellOutcome, CellTask, cell_record
from pipelines.status import FINISHED, RERUN_ON_FAILED, CellStatus
from pipelines.tasks import effective_sources
from pipelines.tasks.base import TaskServices

__all__ = ["Progress", "CellSelector", "RemoteCells", "run_cells", "cells_to_rerun", "build_dag", "FINISHED"]

Cell = tuple[str, str]  # (row_key, column)


@dataclass
class Progress:
    """Live counters for the progress view and the end-of-run summary."""

    total_cells: int = 0
    cells: Counter = field(default_factory=Counter)  # status -> count, this run
    counters: Counter = field(default_factory=Counter)  # pages, llm_calls, tokens, searches...
    in_flight: int = 0
    started: float = field(default_factory=time.time)
    already_done: int = 0  # finished before this run (resume/rerun)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n


@dataclass(frozen=True)
class CellSelector:
    """Which cells ``trawl rerun`` recomputes: by column, by row key, and/or all failed ones."""

    columns: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    failed: bool = False

    @classmethod
    def parse(cls, text: str | None, failed: bool = False) -> CellSelector:
        """``'column=ceo'``, ``'row=Acme Robotics'``, ``'column=ceo,column=founded;row=X'``."""
        columns: list[str] = []
        rows: list[str] = []
        for part in (p.strip() for p in (text or "").replace(";", ",").split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            if not sep or name.strip() not in ("column", "row") or not value.strip():
                raise ValueError(f"bad cell selector {part!r}: use column=NAME and/or row=KEY")
            (columns if name.strip() == "column" else rows).append(value.strip())
        return cls(tuple(columns), tuple(rows), failed)

    def matches(self, cell: Cell, status: str | None) -> bool:
        row, column = cell
        if self.failed and status in RERUN_ON_FAILED:
            return (not self.columns or column in self.columns) and (not self.rows or row in self.rows)
        if not self.columns and not self.rows:
            return False
        return (not self.columns or column in self.columns) and (not self.rows or row in self.rows)


def _dependents(job) -> dict[str, set[str]]:
    """Column -> every column that depends on it, transitively."""
    direct: dict[str, set[str]] = {c: set() for c in job.columns}
    for name, col in job.columns.items():
        for dep in col.depends_on:
            direct[dep].add(name)
    closure: dict[str, set[str]] = {}
    for c in job.columns:
        seen, stack = set(), [c]
        while stack:
            for d in direct[stack.pop()]:
                if d not in seen:
                    seen.add(d)
                    stack.append(d)
        closure[c] = seen
    return closure


def cells_to_rerun(job, statuses: dict[Cell, str], selector: CellSelector) -> set[Cell]:
    """The selected cells plus every cell downstream of them in the same row."""
    deps = _dependents(job)
    chosen = set()
    for row in job.row_keys():
        for column in job.columns:
            if selector.matches((row, column), statuses.get((row, column))):
                chosen.add((row, column))
                chosen.update((row, d) for d in deps[column])
    return chosen


def build_dag(job, statuses: dict[Cell, str] | None = None, rerun: set[Cell] | None = None) -> tuple[CellDAG, list]:
    """A DAG for ``job``; cells finished in an earlier run stay finished unless chosen for a rerun.

    Also returns the cells the restore newly skipped (dependents of cells that
    stay failed), as ``(cell, reason)``, for the caller to record.
    """
    dag = CellDAG({name: tuple(col.depends_on) for name, col in job.columns.items()}, job.row_keys())
    skipped = []
    if statuses:
        keep = {cell: s for cell, s in statuses.items() if s in FINISHED and cell not in (rerun or set())}
        skipped = [(cell, reason) for cell, reason in dag.restore(keep) if statuses.get(cell) != CellStatus.SKIPPED]
    return dag, skipped


def make_task(job, row_key: str, column: str, row: dict, answers: dict[str, str], run_id: str) -> CellTask:
    col = job.columns[column]
    context = {k: str(v) for k, v in row.items()}
    context.update({dep: answers[dep] for dep in col.depends_on if dep in answers})
    # A skipped or not-yet-startable cell is still recorded with its question; unknown upstream answers stay visible as {name}.
    filled = {**{dep: f"{{{dep}}}" for dep in col.depends_on}, **answers}
    search = effective_sources(job.search, getattr(col, "sources", None))
    return CellTask(
        job_id=job.job_id,
        row_key=row_key,
        column=column,
        question=job.render_question(column, row, filled),
        context=context,
        answer_type=col.type,
        instructions=col.instructions,
        research=col.research,
        **search,
        run_id=run_id,
        kind=getattr(col, "kind", "research"),
        spec=getattr(col, "task", None),
    )


class RemoteCells(Protocol):
    """Research workers as the coordinator sees them (``actors.research_pool.ResearchPool``).

    ``launched``: workers are starting or running (from then on this process starts no new cell
    of its own); ``started``: at least one answers; ``capacity()``: cells it would take now;
    ``submit(tasks)``: research these (many per message); ``in_flight``: cells sent and not yet
    finished; ``driver_done()``: this process has no cell left, for good. Finished cells arrive
    on the coordinator's ``events`` queue as ``("done", row_key, column, outcome)``, cells no
    worker can take as ``("requeue", task)``, and ``("wake",)`` when ``started``/``capacity()``
    changed. Its cells' records are written by the workers.
    """

    launched: bool
    started: bool
    in_flight: int

    def capacity(self) -> int: ...
    def submit(self, tasks: list[CellTask]) -> None: ...
    def driver_done(self) -> None: ...


async def run_cells(
    job,
    services: TaskServices,
    dag: CellDAG,
    *,
    answers: dict[str, dict[str, str]] | None = None,
    skipped: list | None = None,
    run_id: str = "",
    progress: Progress | None = None,
    max_in_flight: int = 64,
    cell_timeout_s: float | None = None,
    remote: RemoteCells | None = None,
    events: asyncio.Queue | None = None,
) -> Progress:
    """Research every ready cell until the DAG is finished (or the budget runs out).

    ``answers`` holds upstream answers of cells finished in an earlier run:
    row_key -> {column: answer}; ``skipped`` are cells ``build_dag`` skipped,
    to be recorded. Cells run in this process (at most ``max_in_flight``)
    until ``remote`` research workers are ``launched`` (the first call this
    process's caches cannot answer starts them); new cells then wait for
    them and go to them once ``started``. ``events`` is where finished cells arrive (``("done",
    row_key, column, outcome)``) and wake-ups (``("wake",)``); the caller
    gives ``remote`` the same queue. Returns the progress counters.
    """
    progress = progress or Progress()
    progress.total_cells = len(job.row_keys()) * len(job.columns)
    progress.already_done = sum(v for k, v in dag.counts().items() if k in FINISHED)
    rows = {str(r[job.key]): r for r in job.rows}
    answers = answers if answers is not None else {}
    events = events if events is not None else asyncio.Queue()
    local: dict[Cell, tuple[asyncio.Task, CellTask, float]] = {}
    budget_out = False

    def task_of(cell: Cell) -> CellTask:
        return make_task(job, cell[0], cell[1], rows[cell[0]], answers.get(cell[0], {}), run_id)

    def record_skips(skipped) -> None:
        now = time.time()
        for cell, reason in skipped:
            services.record("cells", [cell_record(task_of(cell), _skipped(reason), now, now)])
            progress.cells[CellStatus.SKIPPED] += 1
            services.count("cells_skipped")

    def start_local(cell: Cell) -> None:
        task = task_of(cell)
        fut = asyncio.ensure_future(answer_cell(task, services, cell_timeout_s))
        fut.add_done_callback(lambda f: events.put_nowait(("local", cell)))
        local[cell] = (fut, task, time.time())

    def finish(cell: Cell, outcome) -> None:
        nonlocal budget_out
        progress.cells[outcome.status] += 1
        services.count(f"cells_{outcome.status}")
        if outcome.status == CellStatus.DONE:
            answers.setdefault(cell[0], {})[cell[1]] = outcome.answer or ""
            dag.mark_done(cell)
        elif outcome.status == CellStatus.BUDGET_EXHAUSTED:
            budget_out = True
        else:
            record_skips(dag.mark_failed(cell, outcome.error or "failed"))

    def handle(event) -> None:
        if event[0] == "local":
            fut, task, started = local.pop(event[1])
            outcome = fut.result()
            services.record("cells", [cell_record(task, outcome, started, time.time())])
            finish(event[1], outcome)
        elif event[0] == "done":  # a research worker's cell: its record is written already
            finish((event[1], event[2]), event[3])
        elif event[0] == "requeue":  # no research worker could take it: research it here
            start_local((event[1].row_key, event[1].column))
        elif event[0] == "error":  # the research workers cannot go on (e.g. their records cannot be written)
            raise event[1]

    record_skips(skipped or [])
    handed_over = False
    while True:
        if not budget_out:
            if remote is not None and remote.started:
                ready = dag.take_ready(remote.capacity())
                if ready:
                    remote.submit([task_of(cell) for cell in ready])
            elif remote is None or not remote.launched:
                for cell in dag.take_ready(max(0, max_in_flight - len(local))):
                    start_local(cell)
        if remote is not None and remote.started and not local and not handed_over:
            remote.driver_done()  # its share of the providers' concurrency goes to the workers
            handed_over = True
        progress.in_flight = len(local) + (remote.in_flight if remote is not None else 0)
        waiting = remote is not None and remote.launched and not remote.started and not budget_out and not dag.is_finished()
        if not progress.in_flight and not waiting:
            break
        handle(await events.get())
        while not events.empty():
            handle(events.get_nowait())
    if budget_out:  # everything not started stays resumable, marked so the user sees why
        now = time.time()
        left = dag.take_ready(None)
        for cell in left:
            services.record("cells", [cell_record(task_of(cell), _budget(), now, now)])
        progress.cells[CellStatus.BUDGET_EXHAUSTED] += len(left)
    progress.in_flight = 0
    return progress


def _skipped(reason: str):
    return CellOutcome(status=CellStatus.SKIPPED, error=f"upstream_failed: {reason}")


def _budget():
    return CellOutcome(status=CellStatus.BUDGET_EXHAUSTED, error="budget_exhausted: job budget reached before this cell started")
