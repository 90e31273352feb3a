"""Fetcher actors: thin Ray shells over ``pipelines.fetch.PageFetcher``, sharded by domain.

Each ``FetcherActor`` is an async actor (``num_cpus=0``) owning one aiohttp
session, one robots.txt cache and one per-domain limiter. ``shard_for`` sends
every URL of a registrable domain to the same actor, so politeness and
in-flight deduplication need no cross-actor coordination.

Fault tolerance: ``max_restarts=-1`` brings a killed fetcher back (with empty
caches; the page store on disk survives) and ``max_task_retries`` re-sends the
fetches it was running. Fetching is idempotent (GET only), so a retry costs
time, never a duplicate row.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import ray
from ray.util import metrics
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from pipelines import urls
from pipelines.errors import SpecError
from pipelines.fetch import FetchResult, PageFetcher, shard_index
from pipelines.fetch.checks import fetch_settings_problems
from pipelines.settings import FetchSettings

__all__ = ["FetcherActor", "FetcherPool", "default_fetcher_count", "fetcher_name", "fetcher_nodes", "shard_for"]

logger = logging.getLogger(__name__)


def shard_for(url: str, shards: int) -> int:
    """Stable shard of ``url``: SHA-256 of its host's registrable domain, modulo ``shards``."""
    return shard_index(url, shards)


def fetcher_name(index: int) -> str:
    return f"trawl.fetcher[{index}]"


# Logical memory (bytes) a fetcher asks for: one byte, only so that the request is not empty. Ray places an actor
# that asks for nothing on a random node whatever its scheduling strategy says (ray-project/ray#25344, fixed only
# for hard node affinity), and did so here with soft affinity and with SPREAD alike. A real reservation (64 MiB was
# tried) would leave every fetcher pending, and the job's pages hanging, on a cluster whose logical memory is
# taken by other work.
FETCHER_MEMORY = 1
CPUS_PER_FETCHER = 2
MIN_FETCHERS = 2


def default_fetcher_count(nodes: list[dict]) -> int:
    """Fetchers for ``fetch.shards: null``: one per ``CPUS_PER_FETCHER`` CPUs of the live nodes, at least ``MIN_FETCHERS``.

    ``nodes``: ``ray.nodes()``. Why this many: in ``benchmarks/scale.py`` (1,000 rows, 2 cores) a page costs the
    fetchers about 0.6x the CPU extraction spends on it, and one actor runs on at most one core, so a node's
    fetchers need about half its cores at full load. Fewer actor processes also start sooner: on 2 cores, 2
    fetchers instead of 4 brought a job's wall on a started Ray from 1.19-1.26x to 1.10-1.15x its critical path
    (``benchmarks/critical_path.py``, ``trawl_lazy``).
    """
    cpus = int(sum(n.get("Resources", {}).get("CPU", 0) for n in nodes if n.get("Alive")))  # 4 nodes of 1.5 CPUs: 6
    return max(MIN_FETCHERS, cpus // CPUS_PER_FETCHER)


def fetcher_nodes(nodes: list[dict], count: int) -> list[str | None]:
    """Node id for each of ``count`` fetchers: round-robin over the live nodes with CPUs (where extraction runs),
    sorted by id; None (let Ray spread them) when no node has CPUs.

    Ray's ``SPREAD`` strategy is best effort: in ``tests/test_cluster_multinode.py`` it put both of two fetchers on
    one node, and losing that node then stalled every fetch of the job at once.
    """
    with_cpus = sorted(n["NodeID"] for n in nodes if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0)
    return [with_cpus[i % len(with_cpus)] if with_cpus else None for i in range(count)]


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=2)
class FetcherActor:
    def __init__(self, settings: FetchSettings, name: str, page_store_dir: str | None = None) -> None:
        self._fetcher = PageFetcher(settings, name=name, page_store_dir=page_store_dir)
        urls.warm_up()  # every page's domain needs the Public Suffix List: parse it before the first page waits on it
        tags = {"fetcher": name}
        self._pages = metrics.Counter(
            "trawl_fetch_pages", description="Pages fetched, by outcome and reason slug.", tag_keys=("fetcher", "status", "reason")
        )
        self._pages.set_default_tags(tags)
        self._latency = metrics.Histogram(
            "trawl_fetch_seconds",
            description="Wall time of one page fetch (politeness waits included).",
            boundaries=[0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
            tag_keys=("fetcher",),
        )
        self._latency.set_default_tags(tags)

    async def fetch(self, url: str) -> FetchResult:
        result = await self._fetcher.fetch(url)
        try:
            self._pages.inc(1, tags={"status": result.status, "reason": result.reason_slug or ""})
            self._latency.observe(result.fetch_ms / 1000.0)
        except Exception as exc:  # noqa: BLE001 - metrics must never fail a fetch
            logger.warning("fetch metrics not recorded: %r", exc)
        return result

    async def stats(self) -> dict[str, Any]:
        return self._fetcher.stats()

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        await self._fetcher.aclose()


class FetcherPool:
    """``settings.shards`` named fetcher actors (None: ``default_fetcher_count``); ``fetch(url)`` routes by domain
    and returns an ObjectRef.

    Actors are named ``trawl.fetcher[i]`` inside a namespace of their own
    (``trawl.<job_id>``, or a random one when no job id is given) so two jobs
    on one cluster never clash and the dashboard still shows the short name.
    """

    def __init__(self, settings: FetchSettings, *, page_store_dir: str | None, job_id: str = "") -> None:
        problems = fetch_settings_problems(settings)
        if problems:  # fail here, clearly, rather than as actors that die in their constructor
            raise SpecError(problems)
        self.settings = settings
        nodes = ray.nodes()
        self.shards = settings.shards or default_fetcher_count(nodes)
        self.namespace = f"trawl.{job_id or uuid.uuid4().hex[:12]}"
        concurrency = int(settings.max_concurrency)
        # over several nodes: sockets and bandwidth spread, and page bodies land near the extraction tasks. The
        # affinity is soft: a fetcher whose node is lost is restarted on another one.
        self.actors = [
            FetcherActor.options(  # type: ignore[attr-defined]  # an @ray.remote class
                name=fetcher_name(i),
                namespace=self.namespace,
                get_if_exists=False,
                max_concurrency=concurrency,
                memory=FETCHER_MEMORY,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node, soft=True) if node else "SPREAD",
            ).remote(settings, fetcher_name(i), page_store_dir)
            for i, node in enumerate(fetcher_nodes(nodes, self.shards))
        ]

    def fetch(self, url: str) -> ray.ObjectRef:
        """The FetchResult's ObjectRef; pass it on to extraction without ``ray.get`` (the body stays in the object store)."""
        return self.actors[shard_for(url, len(self.actors))].fetch.remote(url)

    def actor_for(self, url: str):
        return self.actors[shard_for(url, len(self.actors))]

    def stats(self) -> list[ray.ObjectRef]:
        return [a.stats.remote() for a in self.actors]

    def kill(self) -> None:
        for actor in self.actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception as exc:  # noqa: BLE001 - already dead is fine
                logger.debug("fetcher already gone at kill: %r", exc)
        self.actors = []
