"""Per-domain limiter: concurrency bound, minimum gap between starts, capped Crawl-delay."""

from __future__ import annotations

import asyncio
import time

from pipelines.fetch.politeness import DomainLimiter


def _run(limiter, jobs):
    """jobs: list of (domain, crawl_delay, hold_s); returns (start times per domain, peak concurrency per domain)."""
    starts: dict[str, list[float]] = {}
    active: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def one(domain, delay, hold):
        async with limiter.slot(domain, delay):
            starts.setdefault(domain, []).append(time.monotonic())
            active[domain] = active.get(domain, 0) + 1
            peak[domain] = max(peak.get(domain, 0), active[domain])
            await asyncio.sleep(hold)
            active[domain] -= 1

    async def go():
        await asyncio.gather(*(one(*job) for job in jobs))

    asyncio.run(go())
    return starts, peak


def test_concurrency_bound_per_domain():
    _, peak = _run(DomainLimiter(3), [("a", None, 0.05)] * 12 + [("b", None, 0.05)] * 2)
    assert peak == {"a": 3, "b": 2}


def test_min_gap_between_starts():
    starts, _ = _run(DomainLimiter(4, 0.1), [("a", None, 0.0)] * 4 + [("b", None, 0.0)])
    gaps = [b - a for a, b in zip(starts["a"], starts["a"][1:])]
    assert min(gaps) >= 0.09
    assert starts["b"][0] - starts["a"][0] < 0.05  # another domain is not held up


def test_crawl_delay_wins_if_larger_and_is_capped():
    limiter = DomainLimiter(4, 0.1, max_delay_s=0.2)
    assert limiter.delay_for(None) == 0.1
    assert limiter.delay_for(0.15) == 0.15
    assert limiter.delay_for(3600) == 0.2
    starts, _ = _run(limiter, [("a", 3600.0, 0.0)] * 3)
    assert starts["a"][-1] - starts["a"][0] < 1.0


def test_idle_domains_are_pruned():
    limiter = DomainLimiter(2, max_idle_domains=5)

    async def one_after_another():
        for i in range(20):
            async with limiter.slot(f"d{i}"):
                await asyncio.sleep(0)

    asyncio.run(one_after_another())
    assert limiter.domains <= 5
