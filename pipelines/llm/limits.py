"""Per-provider rate limits (configured rpm/tpm and the server's own headers) and a circuit breaker.

Limits are sliding windows over the last 60 seconds, not a leaky bucket: a
leaky bucket (aiolimiter) admits a full burst and then the refill, up to
twice the rate in one 60 s window, which is exactly what a provider's
per-minute limit counts. Here no 60 s window ever holds more than ``rpm``
request starts or more than ``tpm`` tokens.

Everything runs on one event loop, so "check the window, then append" has no
await in between and needs no lock.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SlidingWindow", "ProviderLimits", "CircuitBreaker", "parse_duration"]

WINDOW_S = 60.0
# Starts are stamped slightly conservatively so that wall-clock timestamps
# taken a moment later never show rpm+1 starts in a 60 s window.
_MARGIN_S = 0.05

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(raw: str | None) -> float | None:
    """Seconds from rate-limit header durations: ``"20ms"``, ``"1s"``, ``"6m0s"``, ``"1h2m3.5s"`` or ``"12.5"``."""
    if not raw:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(raw)
    if not parts:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[unit] for n, unit in parts)


class SlidingWindow:
    """At most ``limit`` units in any ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window_s = window_s + _MARGIN_S
        self._clock = clock
        self._entries: deque[list[float]] = deque()  # [start time, units]
        self._used = 0.0

    def _expire(self, now: float) -> None:
        while self._entries and self._entries[0][0] <= now - self.window_s:
            self._used -= self._entries.popleft()[1]

    def delay(self, units: float = 1.0) -> float:
        """Seconds until ``units`` more fit in the window (0 when they fit now)."""
        now = self._clock()
        self._expire(now)
        if not self._entries or self._used + units <= self.limit:
            return 0.0  # an empty window always admits, even a request larger than the limit
        excess = self._used + units - self.limit
        for started, amount in self._entries:
            excess -= amount
            if excess <= 0:
                return max(0.0, started + self.window_s - now)
        return max(0.0, self._entries[-1][0] + self.window_s - now)

    def take(self, units: float = 1.0) -> list[float]:
        """Record ``units`` now; returns the entry so the amount can be corrected later."""
        entry = [self._clock(), float(units)]
        self._entries.append(entry)
        self._used += units
        return entry

    def correct(self, entry: list[float], units: float) -> None:
        """Replace a reserved amount with the real one (e.g. tokens the server reported)."""
        if any(e is entry for e in self._entries):  # identity: an expired entry no longer counts
            self._used += units - entry[1]
        entry[1] = float(units)

    def count(self) -> float:
        self._expire(self._clock())
        return self._used


class ProviderLimits:
    """rpm/tpm from configuration plus 'wait until' hints from the server (Retry-After, x-ratelimit-*)."""

    def __init__(self, rpm: int | None, tpm: int | None, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.requests = SlidingWindow(rpm, clock=clock) if rpm else None
        self.tokens = SlidingWindow(tpm, clock=clock) if tpm else None
        self._blocked_until = 0.0

    def delay(self, tokens: int) -> float:
        waits = [self._blocked_until - self._clock()]
        if self.requests:
            waits.append(self.requests.delay(1))
        if self.tokens:
            waits.append(self.tokens.delay(tokens))
        return max(0.0, *waits)

    def take(self, tokens: int) -> list[float] | None:
        if self.requests:
            self.requests.take(1)
        return self.tokens.take(tokens) if self.tokens else None

    def settle(self, reservation: list[float] | None, tokens: int) -> None:
        if reservation is not None and self.tokens:
            self.tokens.correct(reservation, tokens)

    def block_for(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def observe_headers(self, headers: dict[str, str]) -> None:
        """Pause the provider when the server says a limit is used up (OpenAI's x-ratelimit-* headers).

        A response that carries Retry-After (a 429) is paused by that value instead, in the gateway:
        Retry-After is the server's answer to "when may I retry", the reset headers only describe the window.
        """
        if "retry-after" in headers or "retry-after-ms" in headers:
            return
        for kind in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{kind}")
            try:
                exhausted = remaining is not None and float(remaining) <= 0
            except ValueError:
                continue
            if exhausted:
                reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
                self.block_for(reset if reset is not None else 1.0)


class CircuitBreaker:
    """closed -> open for ``cooldown`` -> one probe -> closed, or open for twice as long.

    The circuit opens after ``threshold`` consecutive failures when, in
    addition, at least ``min_failure_rate`` of the last ``window`` outcomes
    failed: a dead server trips it after ``threshold`` calls, while a flaky
    one (some 5xx among many answers, which with many calls in flight will
    now and then fail a few times in a row) keeps being used and retried.
    """

    def __init__(
        self,
        threshold: int,
        cooldown_s: float,
        max_cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
        min_failure_rate: float = 0.5,
        window: int = 20,
    ):
        self.threshold = threshold
        self.min_failure_rate = min_failure_rate
        self._recent: deque[bool] = deque(maxlen=max(window, threshold))  # True = failed
        self.base_cooldown_s = cooldown_s
        self.max_cooldown_s = max(max_cooldown_s, cooldown_s)
        self._clock = clock
        self.state = "closed"
        self.failures = 0
        self.cooldown_s = cooldown_s
        self._open_until = 0.0
        self._probe_started: float | None = None
        self.opened = 0  # times the circuit opened, for stats

    def available(self) -> bool:
        """Could a call go through now? Like ``allow`` but without taking the probe slot."""
        now = self._clock()
        if self.state == "closed":
            return True
        if self.state == "open":
            return now >= self._open_until
        return self._probe_started is not None and now - self._probe_started > self.cooldown_s

    def allow(self) -> bool:
        """May a call go to this provider now? In half-open state only one probe call is let through."""
        now = self._clock()
        if self.state == "closed":
            return True
        if self.state == "open":
            if now < self._open_until:
                return False
            self.state = "half_open"
            self._probe_started = now
            return True
        # half-open: a probe that never reported back (cancelled) frees the slot after one cooldown
        if self._probe_started is not None and now - self._probe_started > self.cooldown_s:
            self._probe_started = now
            return True
        return False

    def retry_in(self) -> float:
        return max(0.0, self._open_until - self._clock()) if self.state == "open" else 0.0

    def success(self) -> None:
        self._recent.append(False)
        self.state, self.failures, self.cooldown_s, self._probe_started = "closed", 0, self.base_cooldown_s, None

    def failure(self) -> None:
        self.failures += 1
        self._recent.append(True)
        if self.state == "half_open":
            self.cooldown_s = min(self.cooldown_s * 2, self.max_cooldown_s)
            self._open(self.cooldown_s)
        elif self.state == "closed" and self.failures >= self.threshold and self.failure_rate() >= self.min_failure_rate:
            self._open(self.cooldown_s)

    def failure_rate(self) -> float:
        return sum(self._recent) / len(self._recent) if self._recent else 0.0

    def _open(self, seconds: float) -> None:
        self.state = "open"
        self._open_until = self._clock() + seconds
        self._probe_started = None
        self.opened += 1
