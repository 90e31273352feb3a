"""Sliding-window rpm/tpm limits, rate-limit header parsing and the circuit breaker (fake clock, no I/O)."""

from __future__ import annotations

import random

import pytest

from pipelines.llm.limits import CircuitBreaker, ProviderLimits, SlidingWindow, parse_duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "raw, seconds",
    [("20ms", 0.02), ("1s", 1.0), ("6m0s", 360.0), ("1h2m3.5s", 3723.5), ("12.5", 12.5), ("", None), ("soon", None)],
)
def test_parse_duration(raw, seconds):
    assert parse_duration(raw) == (pytest.approx(seconds) if seconds is not None else None)


def test_no_sixty_second_window_ever_holds_more_than_rpm_starts():
    clock, rng = Clock(), random.Random(7)
    window = SlidingWindow(10, clock=clock)
    starts = []
    for _ in range(2000):  # callers arriving at random, each starting as soon as the window admits it
        clock.now += rng.expovariate(1.0)
        wait = window.delay()
        clock.now += wait
        assert window.delay() == 0
        window.take()
        starts.append(clock.now)
    for i, t in enumerate(starts):
        assert sum(1 for s in starts[i:] if s < t + 60) <= 10
    assert len(starts) / ((starts[-1] - starts[0]) / 60) > 9  # and the limit is actually used


def test_token_window_waits_for_enough_tokens_to_expire_and_accepts_corrections():
    clock = Clock()
    tokens = SlidingWindow(1000, clock=clock)
    first = tokens.take(600)
    clock.now += 10
    tokens.take(300)
    assert tokens.delay(200) == pytest.approx(50 + 0.05)  # the first 600 must leave the window
    tokens.correct(first, 100)  # the server said the first call only used 100
    assert tokens.delay(200) == 0
    assert SlidingWindow(10, clock=clock).delay(50) == 0  # an oversize request still runs on an empty window


def test_server_headers_pause_a_provider_until_reset():
    clock = Clock()
    limits = ProviderLimits(rpm=None, tpm=None, clock=clock)
    limits.observe_headers({"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "1s"})
    assert limits.delay(10) == 0
    limits.observe_headers({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"})
    assert limits.delay(10) == pytest.approx(360)
    clock.now += 360
    assert limits.delay(10) == 0


def test_retry_after_takes_precedence_over_reset_headers():
    limits = ProviderLimits(rpm=None, tpm=None, clock=Clock())
    limits.observe_headers({"retry-after": "1", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "59s"})
    assert limits.delay(1) == 0  # the gateway blocks for Retry-After itself


def test_circuit_opens_after_consecutive_failures_probes_once_and_backs_off():
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown_s=30, max_cooldown_s=100, clock=clock)
    breaker.failure(), breaker.failure(), breaker.success(), breaker.failure(), breaker.failure()
    assert breaker.state == "closed"  # a success in between resets the count
    breaker.failure()
    assert breaker.state == "open" and not breaker.available() and not breaker.allow()
    clock.now += 30
    assert breaker.available() and breaker.allow() and breaker.state == "half_open"
    assert not breaker.allow()  # one probe at a time
    breaker.failure()
    assert breaker.state == "open" and breaker.retry_in() == pytest.approx(60)  # cooldown doubled
    clock.now += 60
    assert breaker.allow()
    breaker.failure()
    assert breaker.retry_in() == pytest.approx(100)  # capped
    clock.now += 100
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.cooldown_s == 30 and breaker.opened == 3


def test_an_abandoned_probe_frees_the_slot_after_a_cooldown():
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=10, max_cooldown_s=100, clock=clock)
    breaker.failure()
    clock.now += 10
    assert breaker.allow() and not breaker.allow()
    clock.now += 11
    assert breaker.allow()


def test_a_flaky_provider_stays_in_use_a_dead_one_does_not():
    clock = Clock()
    flaky = CircuitBreaker(threshold=3, cooldown_s=30, max_cooldown_s=100, clock=clock)
    for _ in range(10):
        flaky.success(), flaky.success(), flaky.success()
    flaky.failure(), flaky.failure(), flaky.failure()  # an unlucky streak among many answers
    assert flaky.state == "closed" and flaky.failure_rate() < 0.5
    dead = CircuitBreaker(threshold=3, cooldown_s=30, max_cooldown_s=100, clock=clock)
    dead.failure(), dead.failure(), dead.failure()
    assert dead.state == "open"
