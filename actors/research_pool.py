"""The driver's side of the research workers: route cells to them in batches, take outcomes back, survive their loss.

``ResearchPool`` is the ``pipelines.coordinator.RemoteCells`` the coordinator
hands cells to once the workers are up. Cells are routed by row (a CRC-32 of
the row key), so the cells of one row meet the same worker and its page memo;
a page found by rows on different workers is fetched once all the same,
because fetchers are sharded by domain and a fetcher joins requests for a URL
already in flight and answers repeats from its page store.

Each worker has one long-poll ``finished`` call outstanding at all times; a
reply carries every cell it finished since the last one. A worker that dies
is restarted by Ray (``max_restarts``); the pool then sends it again every
cell it had not reported. A worker away longer than ``AwayPolicy.wait_s`` (its
node is gone) is dropped and its rows go to the next live worker; with no
worker left the cells come back to the coordinator, which runs them itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable

from ray.exceptions import ActorUnschedulableError, RayActorError, RayTaskError

from pipelines.actor_away import AwayPolicy
from pipelines.research import CellTask

__all__ = ["ResearchPool", "route"]

logger = logging.getLogger(__name__)

POLL_WAIT_S = 1.0  # how long a worker holds a poll with nothing finished
POLL_GRACE_S = 20.0  # a poll unanswered this long after its wait: is the worker's node still there?
READY_TRY_S = 10.0  # one wait for a (re)starting worker to answer; a worker pinned to a lost node never does
HAND_OVER_TRIES = 5  # a live worker that cannot hand its cells over this many times in a row ends the job


async def _within(ref, timeout_s: float):
    """The call's result, or ``TimeoutError`` after ``timeout_s``. Not ``asyncio.wait_for``: it waits for the
    cancelled call to finish cancelling, and a call to an actor pinned to a lost node never finishes."""
    task = asyncio.ensure_future(_result(ref))
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        task.cancel()  # only our wait: ray.cancel of a call to an actor on a lost node can block the event loop
        raise TimeoutError(f"no answer in {timeout_s:g} s")
    return task.result()


async def _result(ref):
    return await ref


def route(row_key: str, workers: int) -> int:
    """The worker index of a row: stable across runs and processes (not Python's salted ``hash``)."""
    return zlib.crc32(row_key.encode("utf-8")) % workers


class ResearchPool:
    """Cells out to research workers, outcomes back to ``events`` as ``("done", row_key, column, outcome)``.

    ``per_worker``: cells in flight per worker (``run.max_cells_in_flight``);
    ``on_counters(counters)``: progress counters a worker counted;
    cells no worker can take come back as ``("requeue", task)``; ``("wake",)`` when capacity appears;
    ``("error", exc)`` when a live worker cannot hand its cells over (their records do not reach the
    writer) ``HAND_OVER_TRIES`` times in a row: the job cannot write its output, and ends.
    """

    def __init__(self, events: asyncio.Queue, *, per_worker: int, on_counters: Callable[[dict], None],
                 away: AwayPolicy | None = None, poll_wait_s: float = POLL_WAIT_S,
                 on_driver_done: Callable[[], None] = lambda: None,
                 node_alive: Callable[[str | None], bool] = lambda node_id: True, hand_over_backoff_s: float = 0.5) -> None:
        """``on_driver_done()``: the driver researches nothing more (it leaves the job's quota);
        ``node_alive(node_id)``: whether a worker's node is still in the cluster;
        ``hand_over_backoff_s``: first wait after a failed hand-over (doubling: 1, 2, 4, 8 s by default)."""
        self.node_alive, self.hand_over_backoff_s = node_alive, hand_over_backoff_s
        self.events, self.per_worker, self.on_counters = events, per_worker, on_counters
        self.driver_done = on_driver_done
        self.away, self.poll_wait_s = away or AwayPolicy(), poll_wait_s
        self.handles: list = []
        self.live: set[int] = set()
        self.dead: set[int] = set()
        self.outstanding: list[dict[tuple[str, str], CellTask]] = []
        self.node_of: dict[int, str] = {}
        self._watchers: list[asyncio.Task] = []
        self.restarts = 0

    # --- RemoteCells ------------------------------------------------------------

    @property
    def launched(self) -> bool:
        return len(self.dead) < len(self.handles)

    @property
    def started(self) -> bool:
        return bool(self.live)

    @property
    def in_flight(self) -> int:
        return sum(len(o) for o in self.outstanding)

    def capacity(self) -> int:
        return max(0, (len(self.handles) - len(self.dead)) * self.per_worker - self.in_flight)

    def submit(self, tasks: list[CellTask]) -> None:
        batches: dict[int, list[CellTask]] = {}
        for task in tasks:
            index = self._target(task.row_key)
            if index is None:
                self.events.put_nowait(("requeue", task))
                continue
            self.outstanding[index][(task.row_key, task.column)] = task
            batches.setdefault(index, []).append(task)
        for index, batch in batches.items():
            self.handles[index].submit.remote(batch)  # a lost message is found and re-sent by the watcher

    # --- lifecycle --------------------------------------------------------------

    def launch(self, handles: list, node_ids: list[str] | None = None) -> None:
        """Start watching ``handles`` (the job's research workers, pinned to ``node_ids``); cells go to them once
        they answer."""
        self.handles = list(handles)
        self.node_of = dict(enumerate(node_ids or []))
        self._launched = time.monotonic()
        self.outstanding = [{} for _ in self.handles]
        loop = asyncio.get_running_loop()
        self._watchers = [loop.create_task(self._watch(i), name=f"trawl.research[{i}] watcher") for i in range(len(handles))]

    async def aclose(self) -> None:
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)

    def _target(self, row_key: str) -> int | None:
        if not self.handles:
            return None
        index = route(row_key, len(self.handles))
        for step in range(len(self.handles)):  # a dropped worker's rows go to the next one (a starting one waits)
            candidate = (index + step) % len(self.handles)
            if candidate not in self.dead:
                return candidate
        return None

    async def _watch(self, index: int) -> None:
        handle = self.handles[index]
        if not await self._until_ready(index):
            return
        failures = 0  # hand-overs failed in a row
        while True:
            try:
                ref = handle.finished.remote(self.poll_wait_s)
                report = await _within(ref, self.poll_wait_s + POLL_GRACE_S)
            except TimeoutError:  # no answer at all: on a lost node a call can hang instead of failing
                if self.node_alive(self.node_of.get(index)):
                    continue
                self._drop(index, "its node is gone")
                return
            except ActorUnschedulableError:  # pinned to a node that is gone: Ray cannot start it again
                self._drop(index, "its node is gone")
                return
            except RayTaskError as exc:  # the worker is alive, but its cells' records did not reach the writer
                failures += 1
                if failures >= HAND_OVER_TRIES:
                    self.events.put_nowait(("error", RuntimeError(
                        f"research worker {index} could not hand its cells over {failures} times in a row (their "
                        f"records did not reach the writer): {str(exc.cause if exc.cause is not None else exc)[:300]}")))
                    return
                logger.warning("research worker %d could not hand its cells over (%s); its %d cells are sent again",
                               index, type(exc.cause).__name__, len(self.outstanding[index]))
                await asyncio.sleep(self.hand_over_backoff_s * 2 ** failures)
                handle.submit.remote(list(self.outstanding[index].values()))  # the outcomes it popped were not taken
                continue
            except RayActorError as exc:
                logger.warning("research worker %d lost (%s); its %d cells will be sent again", index,
                               type(exc).__name__, len(self.outstanding[index]))
                self.live.discard(index)
                self.restarts += 1
                if not await self._until_ready(index, resend=True):
                    return
                continue
            failures = 0
            self._take(index, report)

    async def _until_ready(self, index: int, resend: bool = False) -> bool:
        """Wait for the worker to answer; re-send its cells. False (and its cells moved) when it stays away."""
        backoff = self.away.start()
        while True:
            try:
                ref = self.handles[index].ready.remote()
                self.node_of[index] = await _within(ref, READY_TRY_S)
                break
            except (RayActorError, ActorUnschedulableError, TimeoutError) as exc:
                logger.info("research worker %d not answering yet: %r", index, exc)
                delay = backoff.next_delay()
                node_lost = isinstance(exc, ActorUnschedulableError) or not self.node_alive(self.node_of.get(index))
                if delay is None or node_lost:  # its node is gone: Ray cannot start it again there
                    self._drop(index, "its node is gone" if node_lost else f"away for {self.away.wait_s:g}s")
                    return False
                await asyncio.sleep(delay)
        self.live.add(index)
        logger.info("research worker %d ready on node %s, %.1f s after launch", index, self.node_of[index][:12],
                    time.monotonic() - self._launched)
        if resend and self.outstanding[index]:  # the new incarnation knows none of them
            self.handles[index].submit.remote(list(self.outstanding[index].values()))
        self.events.put_nowait(("wake",))
        return True

    def _take(self, index: int, report) -> None:
        if report.counters:
            self.on_counters(report.counters)
        for done in report.finished:
            if self.outstanding[index].pop((done.row_key, done.column), None) is not None:
                self.events.put_nowait(("done", done.row_key, done.column, done.outcome))

    def _drop(self, index: int, why: str) -> None:
        logger.error("research worker %d dropped (%s); its rows move to the next worker", index, why)
        self.live.discard(index)
        self.dead.add(index)
        self._move(index)

    def _move(self, index: int) -> None:
        tasks, self.outstanding[index] = list(self.outstanding[index].values()), {}
        self.submit(tasks)
        self.events.put_nowait(("wake",))
