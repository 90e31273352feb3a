"""The search gateway as a Ray actor: one per job (or cluster), async, shared by every cell.

A thin shell over ``pipelines.search.gateway.SearchGateway``: the actor holds
the gateway (its rate limiters, HTTP session and cache) and forwards each
attempt's telemetry to the writer actor as ``search_calls`` records.
"""

from __future__ import annotations

import ray

from pipelines.search.config import SearchSettings
from pipelines.search.gateway import SearchGateway
from pipelines.search.types import SearchHit, SearchRequest

__all__ = ["SearchGatewayActor", "start_search_gateway"]


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=3)
class SearchGatewayActor:
    def __init__(self, settings: SearchSettings, writer=None, cache_dir: str | None = None) -> None:
        sink = None
        if writer is not None:

            def sink(records: list[dict]) -> None:
                writer.append.remote("search_calls", records)

        self._gateway = SearchGateway(settings, record_sink=sink, cache_dir=cache_dir)

    async def search(self, req: SearchRequest) -> list[SearchHit]:
        return await self._gateway.search(req)

    async def providers(self) -> list[str]:
        return self._gateway.provider_names

    async def close(self) -> None:
        await self._gateway.aclose()


def start_search_gateway(
    settings: SearchSettings, *, writer, cache_dir: str | None, name: str = "trawl.search_gateway"
) -> "ray.actor.ActorHandle":
    """Start the gateway actor under ``name``, replacing a previous actor of that name (settings may differ).

    Concurrent jobs on one cluster should pass distinct names.
    """
    try:
        ray.kill(ray.get_actor(name))
    except ValueError:
        pass
    concurrency = max(16, sum(p.max_concurrency for p in settings.providers))
    return SearchGatewayActor.options(name=name, max_concurrency=concurrency).remote(settings, writer, cache_dir)
