"""The job's quota book as a small actor on the driver's node (``pipelines.quota.QuotaBook``).

Every gateway of the job (the driver's, each research worker's) takes leases
of its providers' rpm/tpm here, evenly spaced search starts, and reports its
spending against the job's budget: one call per lease, not per LLM call.
"""

from __future__ import annotations

import ray

from actors import objects
from actors.placement import on_this_node
from actors.writer import free_actor_name
from pipelines.quota import Grant, QuotaBook, QuotaClient

__all__ = ["QuotaActor", "start_quota", "quota_client"]


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class QuotaActor:
    def __init__(self, limits: dict[str, tuple[int | None, int | None]], spent: tuple[int, float], participants: int = 1) -> None:
        self._book = QuotaBook(limits, spent=spent, participants=participants)

    def lease(self, key: str, calls: int, tokens_per_call: float, *, extra_tokens: float = 0.0, block_s: float = 0.0,
              spent: tuple[int, float] = (0, 0.0)) -> Grant:
        return self._book.lease(key, calls, tokens_per_call, extra_tokens=extra_tokens, block_s=block_s, spent=spent)

    def space(self, key: str, interval_s: float) -> float:
        return self._book.space(key, interval_s)

    def spend(self, tokens: int, cost_usd: float) -> tuple[int, float]:
        return self._book.spend(tokens, cost_usd)

    def sync(self, index: int, tokens: int, cost_usd: float) -> tuple[int, float, tuple[int, ...]]:
        return self._book.sync(index, tokens, cost_usd)

    def leave(self, index: int) -> None:
        self._book.leave(index)

    def stats(self) -> dict:
        tokens, cost = self._book.totals()
        return {"leases": self._book.leases, "spent_tokens": tokens, "spent_cost_usd": cost}


def start_quota(job, llm_settings, spent: tuple[int, float], participants: int = 1) -> ray.actor.ActorHandle:
    """The job's quota actor (``trawl.quota[<job_id>]``), with every LLM provider's rpm/tpm;
    ``participants``: the driver and the research workers, who split each provider's max_concurrency.

    A restarted actor starts with empty windows (a restart is rare: it needs no CPU and holds no I/O)."""
    name = f"trawl.quota[{job.job_id}]"
    free_actor_name(name)
    limits = {p.name: (p.rpm, p.tpm) for p in llm_settings.providers}
    return QuotaActor.options(name=name, scheduling_strategy=on_this_node()).remote(limits, spent, participants)  # type: ignore[attr-defined]


def quota_client(handle, job_id: str, index: int = 0, count: int = 1) -> QuotaClient:
    """A ``QuotaClient`` whose calls go to ``handle`` (a callable returning the handle: it may start lazily)."""

    def actor():
        return handle() if callable(handle) and not hasattr(handle, "lease") else handle

    async def lease(key, calls, tokens_per_call, **kw) -> Grant:
        return await objects.get_object(actor().lease.remote(key, calls, tokens_per_call, **kw))

    async def space(key, interval_s) -> float:
        return await objects.get_object(actor().space.remote(key, interval_s))

    async def spend(tokens, cost) -> tuple[int, float]:
        return await objects.get_object(actor().spend.remote(tokens, cost))

    async def sync(i, tokens, cost) -> tuple[int, float, tuple[int, ...]]:
        return await objects.get_object(actor().sync.remote(i, tokens, cost))

    return QuotaClient(job_id, lease, space, spend, index, count, sync=sync)
