"""The retry-while-an-actor-is-away policy: how long a call waits for a gateway to come back.

The gateways restart by themselves (``max_restarts=-1``), but Ray's own task
retries can run out while a lost node is still being detected and the actor
rebuilt elsewhere (https://docs.ray.io/en/latest/ray-core/fault_tolerance/actors.html).
The caller then sends the call again after a backoff that doubles from
``first_backoff_s`` up to ``max_backoff_s``, until ``wait_s`` have passed;
after that the call fails with a recorded reason. Re-sending is safe because
call ids are deterministic and the gateway's cache answers a finished call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["AwayPolicy", "AwayBackoff"]


@dataclass(frozen=True)
class AwayPolicy:
    """``wait_s``: how long one call may wait for its actor in total (seconds);
    ``first_backoff_s``/``max_backoff_s``: the doubling pause between sends."""

    wait_s: float = 120.0
    first_backoff_s: float = 0.25
    max_backoff_s: float = 5.0

    def start(self, clock: Callable[[], float] = time.monotonic) -> AwayBackoff:
        """The backoff state of one call, its deadline counted from now."""
        return AwayBackoff(self, clock)


class AwayBackoff:
    """Pauses for one call: ``next_delay()`` is the pause before the next send, ``None`` once the wait is over."""

    def __init__(self, policy: AwayPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self._clock = clock
        self._deadline = clock() + policy.wait_s
        self._delay = policy.first_backoff_s
        self.retries = 0

    def next_delay(self) -> float | None:
        delay = self._delay
        if self._clock() + delay > self._deadline:
            return None
        self._delay = min(delay * 2, self.policy.max_backoff_s)
        self.retries += 1
        return delay
