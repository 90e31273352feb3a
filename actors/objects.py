"""The one place where the driver pulls objects out of the object store.

Everything the coordinator awaits goes through ``get_object``, which makes
"page bodies never pass through the driver" checkable: the end-to-end test
watches this function and ``ray.get`` and asserts that no fetch result ever
goes through either.

A caller that stops waiting (a cell timeout, an interrupted run) cancels the
Ray task too (``ray.cancel``: an async actor's call gets CancelledError), so
no abandoned call stays queued in a gateway, and an actor killed afterwards
has nothing to retry and report
(https://docs.ray.io/en/latest/ray-core/tasks.html#cancelling-tasks).
"""

from __future__ import annotations

import asyncio
import logging

import ray

__all__ = ["get_object"]

logger = logging.getLogger(__name__)


async def get_object(ref):
    try:
        return await ref
    except asyncio.CancelledError:
        try:
            if isinstance(ref, ray.ObjectRef):
                ray.cancel(ref)
        except Exception as exc:  # noqa: BLE001 - the caller is already gone; a failed cancel only leaves the call running
            logger.debug("could not cancel %s: %s", ref, exc)
        raise
