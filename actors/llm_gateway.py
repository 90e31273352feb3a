"""The LLM gateway as one async Ray actor for the cluster.

A thin shell over ``pipelines.llm.gateway.Gateway``. There is one actor (named
``trawl.llm_gateway`` by default) and every cell on every node calls it, so
the gateway's rpm/tpm windows, circuit breakers, in-flight merging and budget
counters see every call of the job: limits hold cluster-wide with no
coordination protocol. The actor only does I/O (``num_cpus=0``, up to 1000
calls in flight on one event loop), so it is not the bottleneck for LLM APIs
that allow a few thousand requests per minute.

Each attempt's ``llm_calls`` record is (1) turned into Ray metrics (latency
histogram, token/call/failure counters labelled by provider AND model) and
(2) appended to the writer actor in batches (every 64 records or second),
fire-and-forget; ``flush()`` waits until the writer has everything.
"""

from __future__ import annotations

import ray

from actors.metrics import LLMMetrics
from actors.placement import on_this_node
from actors.writer import BatchedRecordSink, free_actor_name, writer_handle
from pipelines.llm.config import LLMSettings
from pipelines.llm.gateway import Gateway
from pipelines.llm.profiles import check_api_keys, resolve_settings
from pipelines.llm.types import LLMRequest, LLMResult
from pipelines.settings import BudgetSettings

__all__ = ["LLMGatewayActor", "start_llm_gateway"]

class _LLMGatewayActor:
    def __init__(self, settings: LLMSettings, budget: BudgetSettings | None = None, writer=None, cache_dir: str | None = None,
                 spent: dict[str, tuple[int, float]] | None = None) -> None:
        self._sink = BatchedRecordSink(writer_handle(writer), "llm_calls", LLMMetrics().observe)
        self._gateway = Gateway(settings, budget=budget, record_sink=self._sink, cache_dir=cache_dir)
        for job_id, (tokens, cost) in (spent or {}).items():  # earlier runs of a resumed job count against its budget
            self._gateway.add_spent(job_id, tokens, cost)

    async def complete(self, req: LLMRequest) -> LLMResult:
        return await self._gateway.complete(req)

    async def stats(self) -> dict:
        return self._gateway.stats()

    async def add_spent(self, job_id: str, tokens: int, cost_usd: float) -> None:
        """Carry a resumed job's earlier spending over into its budget."""
        self._gateway.add_spent(job_id, tokens, cost_usd)

    async def flush(self) -> None:
        """Make sure every ``llm_calls`` record so far has reached the writer."""
        await self._sink.flush()

    async def close(self) -> None:
        await self.flush()
        await self._gateway.aclose()


# max_task_retries: a call caught by an actor restart runs again on the new actor; its call_ids are
# deterministic, so the re-sent records replace the old ones, and the cache makes finished calls free.
LLMGatewayActor = ray.remote(num_cpus=0, max_concurrency=1000, max_restarts=-1, max_task_retries=3)(_LLMGatewayActor)


def start_llm_gateway(
    settings: LLMSettings,
    *,
    budget: BudgetSettings | None = None,
    writer=None,
    cache_dir: str | None = None,
    name: str = "trawl.llm_gateway",
    providers_file: str | None = None,
    spent: dict[str, tuple[int, float]] | None = None,
) -> ray.actor.ActorHandle:
    """Start the gateway actor under ``name`` (replacing an actor of that name) and return its handle.

    The profile file is read here, on the driver, so the actor needs no access
    to it; API keys are checked here too (``AuthError`` naming the missing
    variable) and read again from the actor's own environment, never shipped.
    ``spent``: job id -> (tokens, cost) that earlier runs spent, in the budget
    before the first call (and again after a restart).
    """
    resolved = resolve_settings(settings, providers_file)
    check_api_keys(resolved)
    free_actor_name(name)
    return LLMGatewayActor.options(name=name, scheduling_strategy=on_this_node()).remote(
        resolved, budget, writer, cache_dir, spent)
