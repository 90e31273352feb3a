"""AwayPolicy: a call waits for its gateway with doubling pauses, then gives up at the deadline."""

from __future__ import annotations

from pipelines.actor_away import AwayPolicy


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_pauses_double_up_to_the_cap_and_stop_at_the_deadline():
    clock = _Clock()
    backoff = AwayPolicy(wait_s=10, first_backoff_s=1, max_backoff_s=4).start(clock)
    delays = []
    while (delay := backoff.next_delay()) is not None:
        delays.append(delay)
        clock.now += delay
    assert delays == [1, 2, 4]  # 7 s spent; a 4 s pause would end past the 10 s deadline
    assert backoff.retries == 3


def test_each_call_gets_its_own_deadline():
    clock = _Clock()
    policy = AwayPolicy(wait_s=1, first_backoff_s=0.5)
    first = policy.start(clock)
    assert first.next_delay() == 0.5
    clock.now = 5.0
    assert first.next_delay() is None
    assert policy.start(clock).next_delay() == 0.5
