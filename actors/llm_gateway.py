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
from ray.util import metrics

from actors.placement import on_this_node
from actors.writer import BatchedRecordSink, free_actor_name, writer_handle
from pipelines.llm.config import LLMSettings
from pipelines.llm.gateway import Gateway
from pipelines.llm.profiles import check_api_keys, resolve_settings
from pipelines.llm.types import LLMRequest, LLMResult
from pipelines.settings import BudgetSettings

__all__ = ["LLMGatewayActor", "start_llm_gateway"]

_LATENCY_BOUNDARIES = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120]


class _LLMMetrics:
    """Ray metrics from ``llm_calls`` records, labelled by provider and model (the request model)."""

    def __init__(self) -> None:
        tags = ("provider", "model")
        self.latency = metrics.Histogram(
            "trawl_llm_latency_seconds", "Duration of one upstream LLM attempt that succeeded.",
            boundaries=_LATENCY_BOUNDARIES, tag_keys=tags,
        )
        self.input_tokens = metrics.Counter("trawl_llm_input_tokens_total", "Input tokens billed.", tag_keys=tags)
        self.output_tokens = metrics.Counter("trawl_llm_output_tokens_total", "Output tokens billed.", tag_keys=tags)
        self.calls = metrics.Counter("trawl_llm_calls_total", "LLM attempts and cache hits.", tag_keys=(*tags, "outcome"))
        self.failures = metrics.Counter("trawl_llm_failures_total", "Failed LLM attempts, by error type.", tag_keys=(*tags, "error_type"))
        self.cost = metrics.Counter("trawl_llm_cost_usd_total", "Cost in USD from the configured prices.", tag_keys=tags)

    def observe(self, record: dict) -> None:
        tags = {"provider": record["gen_ai.provider.name"], "model": record["gen_ai.request.model"]}
        if record["cache_hit"]:
            self.calls.inc(1, {**tags, "outcome": "cache_hit"})
        elif record["error.type"]:
            self.calls.inc(1, {**tags, "outcome": "error"})
            self.failures.inc(1, {**tags, "error_type": record["error.type"]})
        else:
            self.calls.inc(1, {**tags, "outcome": "ok"})
            self.latency.observe(record["gen_ai.client.operation.duration"], tags)
            if record["gen_ai.usage.input_tokens"]:
                self.input_tokens.inc(record["gen_ai.usage.input_tokens"], tags)
            if record["gen_ai.usage.output_tokens"]:
                self.output_tokens.inc(record["gen_ai.usage.output_tokens"], tags)
            if record["cost_usd"]:
                self.cost.inc(record["cost_usd"], tags)


class _LLMGatewayActor:
    def __init__(self, settings: LLMSettings, budget: BudgetSettings | None = None, writer=None, cache_dir: str | None = None,
                 spent: dict[str, tuple[int, float]] | None = None) -> None:
        self._sink = BatchedRecordSink(writer_handle(writer), "llm_calls", _LLMMetrics().observe)
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
