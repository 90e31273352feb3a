"""FanIn: one fetch per URL per job, however many cells ask; memory bounded without dropping running work."""

from __future__ import annotations

import asyncio

import pytest

from pipelines.fan_in import FanIn


def test_concurrent_callers_share_one_run_of_the_work():
    calls = []

    async def main():
        fan_in: FanIn[str] = FanIn(8)
        gate = asyncio.Event()

        async def work():
            calls.append(1)
            await gate.wait()
            return "page"

        tasks = [asyncio.ensure_future(fan_in.get("u", work)) for _ in range(5)]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(main())
    assert calls == [1]
    assert sorted(shared for _, shared in results) == [False, True, True, True, True]
    assert {value for value, _ in results} == {"page"}


def test_an_exception_is_shared_and_a_cancelled_caller_does_not_cancel_the_work():
    async def main():
        fan_in: FanIn[str] = FanIn(8)
        gate = asyncio.Event()

        async def work():
            await gate.wait()
            raise RuntimeError("boom")

        first = asyncio.ensure_future(fan_in.get("u", work))
        second = asyncio.ensure_future(fan_in.get("u", work))
        await asyncio.sleep(0)
        first.cancel()
        gate.set()
        with pytest.raises(RuntimeError, match="boom"):
            await second

    asyncio.run(main())


def test_the_oldest_finished_keys_are_forgotten_but_never_a_running_one():
    async def main():
        fan_in: FanIn[int] = FanIn(2)
        gate = asyncio.Event()

        async def slow():
            await gate.wait()
            return 0

        running = asyncio.ensure_future(fan_in.get("slow", slow))
        await asyncio.sleep(0)
        for i in range(3):
            await fan_in.get(f"k{i}", lambda i=i: asyncio.sleep(0, result=i))
        size_while_running = len(fan_in)  # "slow" is oldest and still running: nothing behind it is dropped
        gate.set()
        await running
        await fan_in.get("k3", lambda: asyncio.sleep(0, result=3))
        return size_while_running, len(fan_in)

    while_running, after = asyncio.run(main())
    assert while_running == 4 and after == 2
