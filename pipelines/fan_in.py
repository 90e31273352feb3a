"""Page fan-in: every cell of a job that needs a URL awaits the same future.

A job asks for the same page from many cells (the company's "about" page
answers the CEO, the founding year and the headquarters). ``FanIn`` starts the
work for a key once and hands every later caller the same future, so the URL
is fetched and extracted once per job. It remembers at most ``max_size``
keys, least recently used first out; a future still running is never
forgotten (that would start the same work twice).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["FanIn", "PAGE_MEMO_SIZE"]

T = TypeVar("T")

# Pages remembered per job: an ExtractedPage holds its text and chunks (~tens of KB), so 4096 of them
# bound the driver's memory at a few hundred MB while covering the re-use window of a large job
# (cells that share pages run close together because the DAG finishes rows one after another).
PAGE_MEMO_SIZE = 4096


class FanIn(Generic[T]):
    """Start ``work()`` once per key; every caller awaits the same result (an exception is shared too)."""

    def __init__(self, max_size: int = PAGE_MEMO_SIZE) -> None:
        if max_size < 1:
            raise ValueError("max_size must be >= 1")
        self.max_size = max_size
        self._futures: OrderedDict[str, asyncio.Future[T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._futures)

    async def get(self, key: str, work: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The result for ``key`` and whether it was shared (``True``: another caller started it).

        A caller that is cancelled does not cancel the shared work (``asyncio.shield``).
        """
        fut = self._futures.get(key)
        if fut is not None:
            self._futures.move_to_end(key)
            return await asyncio.shield(fut), True
        fut = asyncio.ensure_future(work())
        self._futures[key] = fut
        self._forget_oldest_done()
        return await asyncio.shield(fut), False

    def _forget_oldest_done(self) -> None:
        while len(self._futures) > self.max_size:
            oldest_key, oldest = next(iter(self._futures.items()))
            if not oldest.done():
                break
            del self._futures[oldest_key]
