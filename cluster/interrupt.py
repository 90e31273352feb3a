"""Stopping a run cleanly on Ctrl-C (SIGINT) or SIGTERM (what schedulers send).

- ``sigterm_as_interrupt()``: while a run drives its cells, SIGTERM is
  turned into SIGINT, so both take the same path: asyncio cancels the run,
  buffered records are written, the job is marked ``interrupted``.
  (asyncio.run cancels its main task on the first SIGINT:
  https://docs.python.org/3/library/asyncio-runner.html#handling-keyboard-interruption)
- ``quiet_abandoned_calls()``: calls still pending in the gateways when the
  run stops are abandoned on purpose; without this, killing the actors makes
  Ray print one "Unhandled error ... killed by `ray.kill`" line per call.
  Ray checks ``RAY_IGNORE_UNHANDLED_ERRORS`` each time it would print one
  (``ray._private.worker.Worker.raise_errors``), so it is set only then.
- ``interrupt_summary(...)``: the one summary printed: done, in flight and
  abandoned, not started, and the exact ``trawl resume`` command.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import threading

__all__ = ["sigterm_as_interrupt", "quiet_abandoned_calls", "interrupt_summary", "resume_command"]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block (main thread only), SIGTERM raises SIGINT: one way to stop, whichever signal came."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum, frame) -> None:
        logger.info("SIGTERM: stopping the run as on Ctrl-C")
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, forward)
    # A job a shell script starts with `&` inherits SIGINT ignored (POSIX: asynchronous lists in a
    # non-interactive shell); the forwarded SIGINT would then be dropped and `kill PID` do nothing.
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if previous_int == signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def quiet_abandoned_calls() -> None:
    """Stop Ray from printing an error per abandoned call (their results are not wanted after an interrupt)."""
    os.environ["RAY_IGNORE_UNHANDLED_ERRORS"] = "1"
    logger.info("interrupted: pending gateway calls are abandoned without an error line each")


def resume_command(job_id: str, output: str) -> str:
    """The shell command that continues ``job_id`` in ``output``."""
    return f"trawl resume {shlex.quote(job_id)} --output {shlex.quote(output)}"


def interrupt_summary(*, job_id: str, mode: str, output: str, wall_s: float, statuses: dict[str, int],
                      in_flight: int, total: int) -> list[str]:
    """Lines for an interrupted run. ``statuses``: recorded cells of the whole job by status; ``in_flight``: cells
    running when the run stopped (abandoned: they are recomputed by resume)."""
    finished = sum(statuses.values())
    not_started = max(0, total - finished - in_flight)
    recorded = " · ".join(f"{n} {status}" for status, n in sorted(statuses.items())) or "0 done"
    return [
        f"Interrupted {job_id} ({mode}) after {wall_s:.1f} s: {recorded} · {in_flight} in flight (abandoned) · "
        f"{not_started} not started, of {total} cells.",
        f"Continue with: {resume_command(job_id, output)}",
    ]
