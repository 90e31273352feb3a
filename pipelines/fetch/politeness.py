"""Per-domain politeness: at most N requests in flight and a minimum gap between request starts.

One ``DomainLimiter`` lives in each fetcher. Because fetchers are sharded by
domain, every request to a domain passes through the same limiter, so no
cross-process lock is needed.

The gap is ``max(per_domain_delay_s, crawl_delay)`` where ``crawl_delay`` is the
robots.txt Crawl-delay of the host being fetched, capped by ``max_crawl_delay_s``
so a hostile robots.txt cannot park a fetcher for hours.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

__all__ = ["DomainLimiter"]


class _DomainState:
    __slots__ = ("sem", "start_lock", "next_start", "users")

    def __init__(self, concurrency: int) -> None:
        self.sem = asyncio.Semaphore(concurrency)
        self.start_lock = asyncio.Lock()
        self.next_start = 0.0  # monotonic time before which no new request may start
        self.users = 0


class DomainLimiter:
    """``async with limiter.slot(domain, delay_s):`` around each request."""

    def __init__(self, concurrency: int, delay_s: float = 0.0, *, max_delay_s: float = 30.0, max_idle_domains: int = 10_000,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._clock = clock  # injectable so tests check the waits asked for, not the wall clock
        self._sleep = sleep
        self._concurrency = concurrency
        self._delay_s = delay_s
        self._max_delay_s = max_delay_s
        self._max_idle = max_idle_domains
        self._domains: dict[str, _DomainState] = {}

    def delay_for(self, crawl_delay: float | None) -> float:
        return min(max(self._delay_s, crawl_delay or 0.0), self._max_delay_s)

    @asynccontextmanager
    async def slot(self, domain: str, crawl_delay: float | None = None) -> AsyncIterator[None]:
        state = self._domains.get(domain)
        if state is None:
            self._prune()
            state = self._domains[domain] = _DomainState(self._concurrency)
        state.users += 1
        try:
            async with state.sem:
                gap = self.delay_for(crawl_delay)
                if gap > 0:
                    async with state.start_lock:  # serialise starts so each waits its turn
                        wait = state.next_start - self._clock()
                        if wait > 0:
                            await self._sleep(wait)
                        state.next_start = self._clock() + gap
                yield
        finally:
            state.users -= 1

    def _prune(self) -> None:
        if len(self._domains) < self._max_idle:
            return
        now = self._clock()
        for name in [d for d, s in self._domains.items() if s.users == 0 and s.next_start <= now]:
            del self._domains[name]

    @property
    def domains(self) -> int:
        return len(self._domains)
