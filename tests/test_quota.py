"""The job-wide quota book: leases keep a provider's rpm/tpm for the whole job, budgets hold across gateways.

The rule checked is the one ``pipelines.quota`` states: a lease's starts are
counted when granted, in windows of 60 s + the lease's TTL, so any 60 s window
of *real* starts (each within the TTL of its grant) holds at most the limit.
Virtual clocks: no test waits for real time.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from pipelines.llm.budget import BudgetTracker
from pipelines.llm.limits import WINDOW_S
from pipelines.quota import LEASE_TTL_S, LeasedLimits, QuotaBook, QuotaClient, QuotaSync, SpacedStarts
from pipelines.settings import BudgetSettings


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_book_never_grants_more_than_rpm_in_any_window_of_real_starts():
    clock = Clock()
    book = QuotaBook({"p": (100, None)}, clock=clock)
    rng = random.Random(7)
    starts: list[float] = []
    for _ in range(4000):  # 3 workers asking for leases of random sizes, using them at random times within the TTL
        clock.t += rng.uniform(0, 0.2)
        grant = book.lease("p", rng.randint(1, 10), 1)
        starts += [clock.t + rng.uniform(0, grant.ttl_s) for _ in range(grant.calls)]
    starts.sort()
    assert len(starts) > 300  # the run covered many windows
    j = 0
    for i, t in enumerate(starts):  # every 60 s window that begins at a real start
        while j < len(starts) and starts[j] < t + WINDOW_S:
            j += 1
        assert j - i <= 100, f"{j - i} starts in the 60 s from {t}"


def test_book_counts_tokens_and_extra_tokens_reported_later():
    clock = Clock()
    book = QuotaBook({"p": (None, 1000)}, clock=clock)
    assert book.lease("p", 10, 300).calls == 3  # 900 of 1000 tokens
    refused = book.lease("p", 1, 300, extra_tokens=200)  # the calls used 200 more than leased
    assert refused.calls == 0 and refused.wait_s > WINDOW_S  # nothing frees before the window passes
    clock.t += WINDOW_S + LEASE_TTL_S + 0.1
    assert book.lease("p", 1, 300).calls == 1


def test_a_pause_one_worker_reports_stops_every_worker():
    clock = Clock()
    book = QuotaBook({"p": (1000, None)}, clock=clock)
    assert book.lease("p", 1, 1, block_s=30).calls == 0  # the reporting worker's own exchange
    other = book.lease("p", 5, 1)
    assert other.calls == 0 and 29 < other.wait_s <= 30
    clock.t += 30.1
    assert book.lease("p", 5, 1).calls == 5


def test_unlimited_provider_is_granted_everything_and_spending_adds_up():
    book = QuotaBook({"p": (None, None)}, spent=(100, 1.0))
    grant = book.lease("p", 7, 50, spent=(10, 0.5))
    assert grant.calls == 7 and (grant.spent_tokens, grant.spent_cost_usd) == (110, 1.5)
    assert book.spend(5, 0.25) == (115, 1.75)


def test_search_starts_are_spaced_job_wide():
    clock = Clock()
    book = QuotaBook({})
    book._clock = clock
    assert book.space("search:b", 2.0) == 0
    assert book.space("search:b", 2.0) == pytest.approx(2.0)
    clock.t += 2.0
    assert book.space("search:b", 2.0) == 0


def test_concurrency_is_split_between_participants():
    shares = [QuotaClient("j", None, None, None, i, 3).share(8) for i in range(3)]  # type: ignore[arg-type]
    assert shares == [3, 3, 2] and sum(shares) == 8
    assert QuotaClient("j", None, None, None, 4, 5).share(2) == 1  # type: ignore[arg-type]  # never 0


def _leased(book: QuotaBook, clock: Clock, rpm=600, tpm=None):
    async def exchange(key, calls, tokens_per_call, **kw):
        await asyncio.sleep(0)
        return book.lease(key, calls, tokens_per_call, **kw)

    return LeasedLimits("p", rpm, tpm, exchange, clock=clock)


async def _admit(limits: LeasedLimits, tokens: int = 10) -> None:
    for _ in range(1000):
        if limits.delay(tokens) == 0:
            limits.take(tokens)
            return
        await asyncio.sleep(0)
    raise AssertionError("never admitted")


def test_leases_grow_while_used_up_and_shrink_when_unused():
    async def scenario():
        clock = Clock()
        book = QuotaBook({"p": (600, None)}, clock=clock)
        limits = _leased(book, clock)
        for _ in range(30):
            await _admit(limits)
        busy_exchanges = limits.exchanges
        assert busy_exchanges < 12  # 30 calls, leases doubling: far fewer exchanges than calls
        assert limits._want > 4
        clock.t += 10  # the lease expires unused except for one call
        await _admit(limits)
        clock.t += 10
        await _admit(limits)
        assert limits._want <= 2

    asyncio.run(scenario())


def test_server_pause_drops_the_lease_and_reaches_the_book():
    async def scenario():
        clock = Clock()
        book = QuotaBook({"p": (600, None)}, clock=clock)
        limits = _leased(book, clock)
        await _admit(limits)
        limits.observe_headers({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20s"})
        assert limits.delay(10) == pytest.approx(20)
        clock.t += 20.5
        for _ in range(5):  # the pause travels with the next exchange
            limits.delay(10)
            await asyncio.sleep(0)
        assert book._blocked_until["p"] > clock.t - 1

    asyncio.run(scenario())


def test_budget_holds_across_gateways():
    async def scenario():
        book = QuotaBook({}, spent=(0, 0.0))

        async def spend(tokens, cost):
            return book.spend(tokens, cost)

        client = QuotaClient("job", None, None, spend)  # type: ignore[arg-type]
        trackers = [BudgetTracker(BudgetSettings(max_total_tokens=1000)) for _ in range(2)]
        shared = [QuotaSync(client, t) for t in trackers]
        trackers[0].add("job", 600, 0.0)
        shared[0].add(600, 0.0)
        shared[0].totals(*await spend(*shared[0].take()))
        trackers[1].add("job", 500, 0.0)  # each alone is under 1000 tokens
        shared[1].add(500, 0.0)
        shared[1].totals(*await spend(*shared[1].take()))
        with pytest.raises(Exception, match="token budget reached"):
            trackers[1].check("job")

    asyncio.run(scenario())


def test_spaced_starts_wait_for_the_book():
    async def scenario():
        waits = [0.01, 0.0]
        asked = []

        async def space(key, interval):
            asked.append((key, interval))
            return waits.pop(0)

        await SpacedStarts("search:b", 60, space).acquire()
        assert asked == [("search:b", 1.0), ("search:b", 1.0)]

    asyncio.run(scenario())


def test_a_leaving_participant_hands_its_concurrency_over_without_exceeding_the_limit():
    """The driver (0) and two workers share 9 slots; once the driver leaves, the workers grow at their next sync."""
    from pipelines.priority import PrioritySemaphore

    async def scenario():
        book = QuotaBook({}, participants=3)

        async def sync(i, tokens, cost):
            return book.sync(i, tokens, cost)

        clients = [QuotaClient("j", None, None, None, i, 3, sync=sync) for i in range(3)]  # type: ignore[arg-type]
        sems = [PrioritySemaphore(c.share(9)) for c in clients]
        for c, sem in zip(clients, sems, strict=True):
            c.listeners.append(lambda c=c, sem=sem: sem.resize(c.share(9)))
        assert [s.value for s in sems] == [3, 3, 3]
        await QuotaSync(clients[1], BudgetTracker(None)).once()
        assert [s.value for s in sems] == [3, 3, 3]  # nobody left: nothing changes
        book.leave(0)
        for i in (1, 2):
            await QuotaSync(clients[i], BudgetTracker(None)).once()
        assert (sems[1].value, sems[2].value) == (5, 4)

    asyncio.run(scenario())


def test_a_shrinking_semaphore_retires_permits_as_they_come_back():
    from pipelines.priority import PrioritySemaphore

    async def scenario():
        sem = PrioritySemaphore(3)
        for _ in range(3):
            await sem.acquire()
        sem.resize(1)
        sem.release()
        sem.release()
        assert sem.free == 0  # two permits retired: the one still held is the whole size now
        sem.release()
        assert sem.free == 1
        sem.resize(2)
        assert sem.free == 2

    asyncio.run(scenario())
