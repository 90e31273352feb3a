"""The search gateway as a Ray actor: one per job, async, shared by every cell.

A thin shell over ``pipelines.search.gateway.SearchGateway``: the actor holds
the gateway (its rate limiters, HTTP session and cache) and forwards each
attempt's telemetry to the writer actor as ``search_calls`` records, batched
(every 64 records or every second) so the single writer is not called once
per search. ``flush()`` sends what is buffered and waits until the writer has
it; call it before closing the writer. Every record also feeds Ray metrics
labelled by provider: ``trawl_search_calls_total`` (outcome ok / empty /
error / cache_hit), ``trawl_search_failures_total`` (by error type) and
``trawl_search_latency_seconds``.
"""

from __future__ import annotations

import ray

from actors.metrics import SearchMetrics
from actors.placement import on_this_node
from actors.writer import BatchedRecordSink, free_actor_name, writer_handle
from pipelines.search.config import SearchSettings
from pipelines.search.gateway import SearchGateway
from pipelines.search.types import SearchHit, SearchRequest

__all__ = ["SearchGatewayActor", "start_search_gateway"]



@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=3)
class SearchGatewayActor:
    def __init__(self, settings: SearchSettings, writer=None, cache_dir: str | None = None) -> None:
        self._sink = BatchedRecordSink(writer_handle(writer), "search_calls", SearchMetrics().observe)
        self._gateway = SearchGateway(settings, record_sink=self._sink, cache_dir=cache_dir)

    async def search(self, req: SearchRequest) -> list[SearchHit]:
        return await self._gateway.search(req)

    async def providers(self) -> list[str]:
        return self._gateway.provider_names

    async def flush(self) -> None:
        """Make sure every telemetry record so far has reached the writer."""
        await self._sink.flush()

    async def close(self) -> None:
        await self.flush()
        await self._gateway.aclose()


def start_search_gateway(
    settings: SearchSettings, *, writer, cache_dir: str | None, name: str = "trawl.search_gateway"
) -> ray.actor.ActorHandle:
    """Start the gateway actor under ``name``, replacing a previous actor of that name (its settings may differ).

    Concurrent jobs on one cluster should pass distinct names (e.g. with the job id).
    """
    free_actor_name(name)
    concurrency = max(16, sum(p.max_concurrency for p in settings.providers))
    return SearchGatewayActor.options(  # type: ignore[attr-defined]  # an @ray.remote class
        name=name, max_concurrency=concurrency, scheduling_strategy=on_this_node()).remote(
        settings, writer, cache_dir)
