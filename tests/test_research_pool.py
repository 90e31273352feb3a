"""Research workers as the driver sees them: routing by row, outcomes in batches, a lost worker's cells re-sent.

The pool (``actors.research_pool.ResearchPool``) and the worker loop
(``pipelines.cell_worker.CellWorker``) run here in one event loop: each fake
handle's ``.remote()`` returns a coroutine on a real ``CellWorker`` over the
in-process fake services, and a "killed" worker loses everything it held and
raises ``RayActorError`` like a restarted actor does. The real actors on Ray
are covered by tests/test_research_workers_cluster.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from ray.exceptions import RayActorError, RayTaskError

from actors.research_pool import ResearchPool, route
from pipelines.actor_away import AwayPolicy
from pipelines.cell_worker import CellWorker
from pipelines.coordinator import build_dag, run_cells
from tests.fakes import FakeServices
from tests.test_coordinator import _job


class _Method:
    def __init__(self, fn):
        self.fn = fn

    def remote(self, *args):
        return asyncio.ensure_future(self.fn(*args))  # like Ray: the call runs whether or not anyone awaits it


class FakeWorker:
    """A research worker 'actor': ``kill()`` drops its state; its next call raises RayActorError, then it is back."""

    def __init__(self, name: str, store: FakeServices, *, stays_dead: bool = False, hold: asyncio.Event | None = None,
                 flush_fails: int = 0):
        self.name, self.store, self.stays_dead, self.hold = name, store, stays_dead, hold
        self.flush_fails = flush_fails  # hand-overs whose records do not reach the writer (then they do)
        self.lost = False
        self.incarnations = 0
        self.submitted: list[tuple[str, str]] = []
        self._new()
        self.ready, self.submit, self.finished = _Method(self._ready), _Method(self._submit), _Method(self._finished)

    def _new(self) -> None:
        self.incarnations += 1
        self.services = _Named(self.store, self.name)
        self.worker = CellWorker(self.services, Counter(), self._flush, max_in_flight=4, cell_timeout_s=None, name=self.name)

    async def _flush(self) -> None:
        if self.flush_fails:
            self.flush_fails -= 1
            raise OSError("the writer refused the records")

    def kill(self) -> None:
        for task in self.worker._tasks.values():
            task.cancel()
        self.lost = True

    async def _ready(self):
        self._revive()
        return f"node-{self.name}"

    async def _submit(self, tasks):
        if not self.lost:
            self.submitted += [(t.row_key, t.column) for t in tasks]
            self.worker.submit(tasks)

    async def _finished(self, wait_s):
        self._revive()
        if self.hold is not None:
            await self.hold.wait()
        try:
            return await self.worker.finished(0.01)
        except OSError as exc:  # raised inside the actor's method: the caller gets a RayTaskError
            raise RayTaskError("finished", "", exc) from None

    def _revive(self) -> None:
        if self.lost:
            if not self.stays_dead:
                self.lost = False
                self._new()
            raise RayActorError()


class _Named:
    """FakeServices seen from one worker: counts its own llm calls."""

    def __init__(self, store: FakeServices, name: str):
        self.store, self.name = store, name

    def __getattr__(self, attr):
        return getattr(self.store, attr)


def _run_with(workers: list[FakeWorker], job, driver: FakeServices, *, during=None):
    async def main():
        events: asyncio.Queue = asyncio.Queue()
        pool = ResearchPool(events, per_worker=4, on_counters=lambda c: None,
                            away=AwayPolicy(wait_s=0.05, first_backoff_s=0.001, max_backoff_s=0.01), poll_wait_s=0.01,
                            hand_over_backoff_s=0.001)
        pool.launch(workers)
        dag, skipped = build_dag(job)
        extra = asyncio.ensure_future(during(pool)) if during else None
        await run_cells(job, driver, dag, skipped=skipped, remote=pool, events=events, max_in_flight=2)
        await pool.aclose()
        if extra:
            await extra
        return dag, pool

    return asyncio.run(main())


def _rows(n):
    return tuple(f"Acme Robotics {i}" for i in range(n))


def test_cells_go_to_workers_by_row_and_every_cell_is_recorded_once():
    job = _job(rows=_rows(8))
    shared = FakeServices()
    driver = FakeServices()
    workers = [FakeWorker(f"research[{i}]", shared) for i in range(2)]
    dag, _ = _run_with(workers, job, driver)
    assert dag.is_finished()
    cells = shared.records["cells"] + driver.records.get("cells", [])
    assert Counter((c["row_key"], c["column"]) for c in cells) == Counter({(r, c): 1 for r in _rows(8) for c in job.columns})
    by_row = {}
    for rec in shared.records["cells"]:
        by_row.setdefault(rec["row_key"], set()).add(rec["worker"])
    for row, names in by_row.items():  # every cell of a row met the same worker (and its page memo)
        assert names == {f"research[{route(row, 2)}]"}, row
    assert {rec["worker"] for rec in shared.records["cells"]} == {"research[0]", "research[1]"}


def test_a_worker_killed_mid_job_costs_time_not_cells():
    job = _job(rows=_rows(8))
    shared, driver = FakeServices(), FakeServices()
    hold = asyncio.Event()
    victim = FakeWorker("research[0]", shared, hold=hold)
    workers = [victim, FakeWorker("research[1]", shared)]

    async def kill_once_it_holds_cells(pool):
        while not victim.worker._tasks:  # the fault lands while the worker has cells
            await asyncio.sleep(0.001)
        victim.kill()
        hold.set()

    dag, pool = _run_with(workers, job, driver, during=kill_once_it_holds_cells)
    assert dag.is_finished() and pool.restarts >= 1 and victim.incarnations == 2
    recorded = shared.records["cells"] + driver.records.get("cells", [])
    assert {(c["row_key"], c["column"]) for c in recorded} == {(r, c) for r in _rows(8) for c in job.columns}
    assert not [c for c in recorded if c["reason"] == "internal"]  # no cell failed because its worker was lost
    resent = [cell for cell in victim.submitted if victim.submitted.count(cell) > 1]
    assert resent  # the lost worker's cells were sent again, to its new incarnation


def test_a_worker_that_never_comes_back_hands_its_rows_to_the_others():
    job = _job(rows=_rows(6))
    shared, driver = FakeServices(), FakeServices()
    gone = FakeWorker("research[0]", shared, stays_dead=True)
    gone.lost = True  # dead from the start
    dag, pool = _run_with([gone, FakeWorker("research[1]", shared)], job, driver)
    assert dag.is_finished()  # the rows of worker 0 (never up) went to worker 1
    assert {c["worker"] for c in shared.records["cells"]} == {"research[1]"}
    recorded = shared.records["cells"] + driver.records.get("cells", [])
    assert len({(c["row_key"], c["column"]) for c in recorded}) == len(recorded) == 18


def test_with_no_worker_left_the_driver_researches_the_cells():
    job = _job(rows=_rows(3))
    shared, driver = FakeServices(), FakeServices()
    gone = FakeWorker("research[0]", shared, stays_dead=True)
    gone.lost = True
    dag, _ = _run_with([gone], job, driver)
    assert dag.is_finished()
    assert {c["worker"] for c in driver.records["cells"]} == {"driver"} and len(driver.records["cells"]) == 9
    assert "cells" not in shared.records


def test_a_hand_over_that_fails_is_sent_again_and_every_cell_is_done():
    job = _job(rows=_rows(4))
    shared, driver = FakeServices(), FakeServices()
    flaky = FakeWorker("research[0]", shared, flush_fails=2)  # the writer refuses twice, then takes the records
    dag, _ = _run_with([flaky], job, driver)
    assert dag.is_finished() and flaky.flush_fails == 0
    recorded = shared.records["cells"] + driver.records.get("cells", [])
    assert {(c["row_key"], c["column"]) for c in recorded} == {(r, c) for r in _rows(4) for c in job.columns}
    assert not [c for c in recorded if c["reason"] == "internal"]


def test_a_worker_that_can_never_hand_its_cells_over_ends_the_job_with_the_reason():
    job = _job(rows=_rows(2))
    stuck = FakeWorker("research[0]", FakeServices(), flush_fails=10**6)  # e.g. its output cannot be written
    with pytest.raises(RuntimeError, match="could not hand its cells over 5 times in a row.*writer refused"):
        _run_with([stuck], job, FakeServices())
    assert stuck.flush_fails > 10**6 - 10  # a few tries, not a loop


def test_default_workers_one_per_four_cpus_of_each_node_with_cpus():
    from actors.research_worker import default_worker_count

    nodes = [
        {"NodeID": "b-worker", "Alive": True, "Resources": {"CPU": 16.0}},
        {"NodeID": "a-head", "Alive": True, "Resources": {"CPU": 0.0}},  # the head keeps no CPUs for work
        {"NodeID": "c-small", "Alive": True, "Resources": {"CPU": 2.0}},
        {"NodeID": "d-gone", "Alive": False, "Resources": {"CPU": 8.0}},
    ]
    assert default_worker_count(nodes) == ["b-worker"] * 4 + ["c-small"]
    assert default_worker_count(list(reversed(nodes))) == default_worker_count(nodes)  # same order every run


def test_rows_route_the_same_way_in_every_process():
    """A re-run (another process, another hash seed) sends each row to the same worker index, so to its caches."""
    import os
    import subprocess
    import sys

    here = [route(f"row {i}", 3) for i in range(20)]
    code = "from actors.research_pool import route; print([route(f'row {i}', 3) for i in range(20)])"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout.strip()
    assert other == str(here)
    assert len({route(f"row {i}", 4) for i in range(100)}) == 4  # every worker gets rows
