"""A job's provider limits and budget, shared by every process that calls a provider, without a hop per call.

With research workers on many nodes each running its own LLM gateway
(``pipelines.llm.gateway.Gateway``), a provider's rpm/tpm window and the
job's budget must still hold for the job as a whole. The central
``QuotaBook`` (one small actor per job, ``actors.quota``) keeps the windows;
each gateway holds a ``LeasedLimits`` per provider that takes *leases* from
it: permission for a few request starts and their tokens, used locally, one
exchange per lease instead of one per call.

Why the windows still hold (rpm; tpm is the same with tokens): the book
counts a lease's starts when it grants them, in sliding windows of
``60 s + lease_ttl_s``. A worker may use a lease only within ``lease_ttl_s``
of the grant, so every real start happens in ``[grant, grant + ttl]``; any
60 s window of real starts then lies inside a ``60 + ttl`` window of grants,
which the book keeps at or under the limit. An unused lease is simply lost
(it still counts for one window), so leases are sized to what the worker has
been using: they double while a worker uses them up before they expire and
shrink to what it used when they expire unused.

A 429's Retry-After or an exhausted ``x-ratelimit-*`` header pauses the
provider for the whole job: the worker that saw it reports the pause in its
next exchange and the book grants nothing until it ends.

The budget (``budget.max_total_tokens``/``max_cost_usd``) holds job-wide the
same way: each gateway reports what it spent with every exchange (and at least
every ``SYNC_S``) and learns the job's total. A job can overshoot its budget
by what is in flight plus what the other workers spent since their last
report (at most ``SYNC_S`` of spending each).

A provider's ``max_concurrency`` is split evenly between the job's *active*
participants: the research workers, and the driver until it has no cell of
its own left (it researches only what its caches answer, and the first cells
while the workers start). The driver leaves when its last cell is done, so
it has no call in flight; every worker learns it at its next sync and grows
its share, and the sum never exceeds the limit.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pipelines.llm.limits import WINDOW_S, ProviderLimits, SlidingWindow

__all__ = ["Grant", "QuotaBook", "LeasedLimits", "QuotaClient", "QuotaSync", "SpacedStarts", "LEASE_TTL_S", "SYNC_S"]

logger = logging.getLogger(__name__)

LEASE_TTL_S = 2.0  # how long a worker may use a lease; the book's windows are this much longer than 60 s
SYNC_S = 0.25  # a gateway reports its spending and learns the active participants at least this often
MIN_POLL_S = 0.005  # a caller waiting for a lease in flight checks again after this


@dataclass(frozen=True)
class Grant:
    """What the book answers: ``calls`` request starts and ``tokens`` usable until ``ttl_s`` from now;
    ``wait_s``: when nothing was granted, how long until the windows admit the next call;
    ``spent_tokens``/``spent_cost_usd``: the job's total spending as the book knows it."""

    calls: int
    tokens: float
    wait_s: float
    ttl_s: float
    spent_tokens: int = 0
    spent_cost_usd: float = 0.0


class QuotaBook:
    """The job's provider windows and spending (one instance, in the quota actor).

    ``limits``: provider key -> (rpm, tpm), either may be None (no window).
    ``spent``: (tokens, USD) of earlier runs of a resumed job.
    """

    def __init__(self, limits: dict[str, tuple[int | None, int | None]], *, spent: tuple[int, float] = (0, 0.0),
                 participants: int = 1, lease_ttl_s: float = LEASE_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.lease_ttl_s = lease_ttl_s
        self.active = set(range(participants))  # who shares max_concurrency (0: the driver, 1..: research workers)
        self._clock = clock
        window = WINDOW_S + lease_ttl_s
        self._requests = {k: SlidingWindow(rpm, window, clock) for k, (rpm, _) in limits.items() if rpm}
        self._tokens = {k: SlidingWindow(tpm, window, clock) for k, (_, tpm) in limits.items() if tpm}
        self._blocked_until: dict[str, float] = {}
        self._next_start: dict[str, float] = {}
        self.spent_tokens, self.spent_cost = spent
        self.leases = 0  # exchanges that granted something, for stats

    def lease(self, key: str, calls: int, tokens_per_call: float, *, extra_tokens: float = 0.0,
              block_s: float = 0.0, spent: tuple[int, float] = (0, 0.0)) -> Grant:
        """Grant up to ``calls`` starts of about ``tokens_per_call`` tokens each for provider ``key``.

        ``extra_tokens``: tokens the caller's earlier calls used beyond what it leased (counted now);
        ``block_s``: the provider asked the caller to pause this long (Retry-After); ``spent``: what the
        caller spent since its last exchange. Never raises for an unknown key: no window, no limit.
        """
        self.spend(*spent)
        now = self._clock()
        if block_s > 0:
            self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), now + block_s)
        requests, tokens = self._requests.get(key), self._tokens.get(key)
        if tokens is not None and extra_tokens > 0:
            tokens.take(extra_tokens)
        blocked = self._blocked_until.get(key, 0.0) - now
        granted = 0
        while blocked <= 0 and granted < calls:
            if (requests is not None and requests.delay(1) > 0) or (tokens is not None and tokens.delay(tokens_per_call) > 0):
                break
            if requests is not None:
                requests.take(1)
            if tokens is not None:
                tokens.take(tokens_per_call)
            granted += 1
        wait = 0.0
        if not granted:
            wait = max(blocked, requests.delay(1) if requests is not None else 0.0,
                       tokens.delay(tokens_per_call) if tokens is not None else 0.0, MIN_POLL_S)
        else:
            self.leases += 1
        return Grant(granted, granted * tokens_per_call, wait, self.lease_ttl_s, *self.totals())

    def space(self, key: str, interval_s: float) -> float:
        """Evenly spaced starts (a search provider's ``rpm``): 0 when one may start now (counted), else seconds to wait."""
        now = self._clock()
        next_start = max(self._blocked_until.get(key, 0.0), self._next_start.get(key, 0.0))
        if now < next_start:
            return next_start - now
        self._next_start[key] = now + interval_s
        return 0.0

    def leave(self, index: int) -> None:
        """Participant ``index`` has no call in flight and will start none: the others take its share."""
        self.active.discard(index)

    def sync(self, index: int, tokens: int, cost_usd: float) -> tuple[int, float, tuple[int, ...]]:
        """A participant's periodic report of its spending since the last one.

        Returns the job's totals (tokens, USD) and the active participants."""
        self.spend(tokens, cost_usd)
        return (*self.totals(), tuple(sorted(self.active)))

    def spend(self, tokens: int, cost_usd: float) -> tuple[int, float]:
        """Add a caller's spending; returns the job's totals (tokens, USD)."""
        self.spent_tokens += tokens
        self.spent_cost += cost_usd
        return self.totals()

    def totals(self) -> tuple[int, float]:
        return self.spent_tokens, self.spent_cost


Exchange = Callable[..., Awaitable[Grant]]  # QuotaBook.lease's signature, over the wire


class LeasedLimits(ProviderLimits):
    """``ProviderLimits`` for one provider in one gateway, backed by leases from the job's ``QuotaBook``.

    Same interface as ``ProviderLimits`` (``delay``/``take``/``settle``/``block_for``/``observe_headers``),
    so the gateway's routing is unchanged; ``delay`` asks for a lease in the background when the local
    allowance cannot admit a call and returns how long to wait before asking again.
    ``exchange(key, calls, tokens_per_call, extra_tokens=, block_s=, spent=)`` reaches the book.
    ``on_totals(tokens, usd)`` is told the job's spending after every exchange.
    """

    def __init__(self, key: str, rpm: int | None, tpm: int | None, exchange: Exchange, *,
                 on_totals: Callable[[int, float], None] | None = None, take_spent: Callable[[], tuple[int, float]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(None, None, clock=clock)  # the windows are the book's; only server pauses are kept here
        self.key, self._exchange = key, exchange
        self._on_totals, self._take_spent = on_totals, take_spent
        self._max_lease = max(1, math.ceil((rpm or 10**6) * LEASE_TTL_S / WINDOW_S))
        self._has_tokens = bool(tpm)
        self._calls, self._token_allowance, self._expires = 0, 0.0, 0.0
        self._want, self._used_of_lease, self._lease_size = 1, 0, 0
        self._extra_tokens, self._block_s = 0.0, 0.0
        self._pending: asyncio.Task | None = None
        self._wait_until = 0.0
        self.exchanges = 0

    def delay(self, tokens: int) -> float:
        now = self._clock()
        local = super().delay(tokens)  # a pause the server asked for
        if local > 0:
            return local
        if now < self._expires and self._calls >= 1 and (not self._has_tokens or self._token_allowance >= tokens):
            return 0.0
        if self._pending is None and now >= self._wait_until:
            self._pending = asyncio.get_running_loop().create_task(self._lease(tokens))
        return max(MIN_POLL_S, self._wait_until - now)

    def take(self, tokens: int) -> list[float] | None:
        self._calls -= 1
        self._used_of_lease += 1
        self._token_allowance -= tokens
        return [float(tokens)]

    def settle(self, reservation: list[float] | None, tokens: int) -> None:
        if reservation is None:
            return
        over = tokens - reservation[0]
        if over > 0:
            self._extra_tokens += over  # the book counts it with the next exchange
        else:
            self._token_allowance -= over  # leased but unused: still ours until the lease expires

    def block_for(self, seconds: float) -> None:
        super().block_for(seconds)
        self._block_s = max(self._block_s, seconds)
        self._calls, self._token_allowance = 0, 0.0  # the book pauses everyone; drop what we hold

    async def _lease(self, tokens: int) -> None:
        self._resize()
        extra, block, self._extra_tokens, self._block_s = self._extra_tokens, self._block_s, 0.0, 0.0
        spent = self._take_spent() if self._take_spent else (0, 0.0)
        try:
            grant = await self._exchange(self.key, self._want, float(max(tokens, 1)), extra_tokens=extra,
                                         block_s=block, spent=spent)
        except Exception as exc:  # noqa: BLE001 - the quota actor is away: retry shortly, never call unleased
            logger.warning("lease for provider %s failed; retrying: %r", self.key, exc)
            self._extra_tokens += extra
            self._wait_until = self._clock() + 0.5
            return
        finally:
            self._pending = None
        self.exchanges += 1
        now = self._clock()
        if grant.calls:
            self._calls, self._token_allowance = grant.calls, grant.tokens
            self._expires, self._lease_size, self._used_of_lease = now + grant.ttl_s, grant.calls, 0
            self._wait_until = 0.0
        else:
            self._wait_until = now + grant.wait_s
        if self._on_totals is not None:
            self._on_totals(grant.spent_tokens, grant.spent_cost_usd)

    def _resize(self) -> None:
        """Double the lease while leases are used up; shrink it to what was used when one expired unused."""
        if self._lease_size:
            used_up = self._used_of_lease >= self._lease_size
            self._want = min(self._max_lease, self._want * 2) if used_up else max(1, self._used_of_lease)
        self._want = max(1, min(self._want, self._max_lease))


@dataclass
class QuotaClient:
    """How one participant (a research worker's gateways, or the driver's) reaches its job's ``QuotaBook``.

    ``lease``/``space``/``spend``/``sync``/``leave`` are ``QuotaBook``'s methods over the wire (coroutines);
    ``index`` of ``count`` participants; ``active``: the participants sharing ``max_concurrency`` now,
    as the last sync reported. ``listeners`` are called after ``active`` changed (gateways resize their slots).
    """

    job_id: str
    lease: Exchange
    space: Callable[[str, float], Awaitable[float]]
    spend: Callable[[int, float], Awaitable[tuple[int, float]]]
    index: int = 0
    count: int = 1
    sync: Callable[..., Awaitable[tuple[int, float, tuple[int, ...]]]] | None = None
    active: tuple[int, ...] = ()
    listeners: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.active:
            self.active = tuple(range(self.count))

    def share(self, total: int) -> int:
        """This participant's part of ``total`` concurrent calls: an even split over the active ones, at least 1.

        With more participants than ``total`` every one still gets 1, so the job may run up to
        ``count`` calls at once."""
        if self.index not in self.active:
            return 1
        base, extra = divmod(total, len(self.active))
        return max(1, base + (1 if self.active.index(self.index) < extra else 0))

    def set_active(self, active: tuple[int, ...]) -> None:
        if active and active != self.active:
            self.active = active
            for listener in self.listeners:
                listener()


class QuotaSync:
    """A participant's spending against the job-wide budget and its view of who shares the limits.

    ``tracker`` is the gateway's ``BudgetTracker``; every call's spending goes through ``add``. ``take``
    hands what was not reported yet to an exchange; ``totals`` sets the tracker to the job's total plus
    that. ``run`` syncs every ``SYNC_S``.
    """

    def __init__(self, client: QuotaClient, tracker) -> None:
        self.client, self.tracker = client, tracker
        self._tokens, self._cost = 0, 0.0

    def add(self, tokens: int, cost: float | None) -> None:
        self._tokens += tokens
        self._cost += cost or 0.0

    def take(self) -> tuple[int, float]:
        spent, (self._tokens, self._cost) = (self._tokens, self._cost), (0, 0.0)
        return spent

    def totals(self, tokens: int, cost: float) -> None:
        self.tracker.set_total(self.client.job_id, tokens + self._tokens, cost + self._cost)

    async def once(self) -> None:
        spent = self.take()
        try:
            if self.client.sync is not None:
                tokens, cost, active = await self.client.sync(self.client.index, *spent)
                self.client.set_active(active)
            else:
                tokens, cost = await self.client.spend(*spent)
            self.totals(tokens, cost)
        except Exception as exc:  # noqa: BLE001 - the quota actor is away: keep the amount for the next report
            self.add(*spent)
            logger.warning("quota sync failed; retrying: %r", exc)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SYNC_S)
            await self.once()


class SpacedStarts:
    """``async acquire()`` for evenly spaced starts (a search provider's rpm) kept by the book, job-wide.

    The same interface as ``aiolimiter.AsyncLimiter``, which a gateway alone in its job uses instead.
    A start granted by the book happens right after the reply reaches the caller, so starts are spaced
    by the interval less the reply's transit time (milliseconds).
    """

    def __init__(self, key: str, rpm: int, space: Callable[[str, float], Awaitable[float]]) -> None:
        self.key, self.interval_s, self._space = key, 60.0 / rpm, space

    async def acquire(self) -> None:
        while (wait := await self._space(self.key, self.interval_s)) > 0:
            await asyncio.sleep(wait)
