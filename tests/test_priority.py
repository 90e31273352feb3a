"""PrioritySemaphore: order of waiters, FIFO among equals and in fifo mode, cancellation, no lost permits."""

from __future__ import annotations

import asyncio

import pytest

from pipelines.priority import STAGE_RANK, PrioritySemaphore, call_priority


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _queue(sem: PrioritySemaphore, keys: list, served: list) -> list[asyncio.Task]:
    """One task per key, queued in list order, each recording its key when it gets the permit (and releasing it)."""

    async def waiter(key):
        async with sem.slot(key):
            served.append(key)

    tasks = []
    for key in keys:
        tasks.append(asyncio.ensure_future(waiter(key)))
        await _settle()  # arrival order is list order
    return tasks


def test_lowest_key_first_and_fifo_among_equal_keys():
    async def main():
        sem = PrioritySemaphore(1)
        await sem.acquire()
        served: list = []
        keys = [(3, 1.0), (1, 2.0), (0, 5.0), (1, 1.0), (3, 0.5), (1, 2.0)]
        tasks = await _queue(sem, keys, served)
        assert sem.waiting == len(keys) and served == []
        sem.release()
        await asyncio.gather(*tasks)
        return served, sem.free

    served, free = asyncio.run(main())
    assert served == [(0, 5.0), (1, 1.0), (1, 2.0), (1, 2.0), (3, 0.5), (3, 1.0)]
    assert free == 1


def test_fifo_order_ignores_priorities():
    async def main():
        sem = PrioritySemaphore(1, order="fifo")
        await sem.acquire()
        served: list = []
        keys = [(3, 1.0), (0, 0.0), (1, 0.5)]
        tasks = await _queue(sem, keys, served)
        sem.release()
        await asyncio.gather(*tasks)
        return served

    assert asyncio.run(main()) == [(3, 1.0), (0, 0.0), (1, 0.5)]


def test_a_newcomer_never_overtakes_a_waiter():
    async def main():
        sem = PrioritySemaphore(1)
        await sem.acquire()
        served: list = []
        tasks = await _queue(sem, [(3, 9.0)], served)
        sem.release()  # the permit now belongs to the waiter, though it has not run yet
        late = asyncio.ensure_future(sem.acquire((0, 0.0)))
        await _settle()
        first = list(served)
        await asyncio.gather(*tasks, late)
        sem.release()
        return first, sem.free

    first, free = asyncio.run(main())
    assert first == [(3, 9.0)]
    assert free == 1


def test_cancelled_waiter_leaves_the_queue_and_holds_nothing():
    async def main():
        sem = PrioritySemaphore(1)
        await sem.acquire()
        served: list = []
        tasks = await _queue(sem, [(0, 1.0), (1, 1.0)], served)
        tasks[0].cancel()
        await _settle()
        sem.release()
        await tasks[1]
        with pytest.raises(asyncio.CancelledError):
            await tasks[0]
        return served, sem.free, sem.waiting

    served, free, waiting = asyncio.run(main())
    assert served == [(1, 1.0)]
    assert (free, waiting) == (1, 0)


def test_waiter_cancelled_after_its_permit_was_handed_over_passes_it_on():
    async def main():
        sem = PrioritySemaphore(1)
        await sem.acquire()
        served: list = []
        tasks = await _queue(sem, [(0, 1.0), (1, 1.0)], served)
        sem.release()  # hands the permit to (0, 1.0)'s future...
        tasks[0].cancel()  # ...which is cancelled before it runs
        await asyncio.gather(*tasks, return_exceptions=True)
        return served, sem.free

    served, free = asyncio.run(main())
    assert served == [(1, 1.0)]
    assert free == 1  # no permit lost, none created


def test_permits_bound_concurrency_under_churn():
    async def main():
        sem = PrioritySemaphore(3)
        holding = peak = 0

        async def worker(i):
            nonlocal holding, peak
            async with sem.slot((i % 4, float(i))):
                holding += 1
                peak = max(peak, holding)
                try:
                    await asyncio.sleep(0)
                finally:
                    holding -= 1

        tasks = [asyncio.ensure_future(worker(i)) for i in range(60)]
        await asyncio.sleep(0)
        for t in tasks[::7]:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return peak, sem.free, sem.waiting

    peak, free, waiting = asyncio.run(main())
    assert peak == 3
    assert (free, waiting) == (3, 0)


def test_call_priority_puts_later_stages_then_older_cells_first():
    assert call_priority("summarize", 20.0) < call_priority("judge", 10.0) < call_priority("expand", 1.0)
    assert call_priority("judge", 1.0) < call_priority("judge", 2.0)
    assert call_priority("transform", 5.0)[0] == STAGE_RANK["summarize"]
    # no cell start time: the call waits like one of a cell starting now, behind cells already running
    assert call_priority("judge", 1.0) < call_priority("judge", None)
    assert call_priority("unknown-stage", 1.0)[0] == max(STAGE_RANK.values())


def test_zero_permits_is_an_error():
    with pytest.raises(ValueError):
        PrioritySemaphore(0)
