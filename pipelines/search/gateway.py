"""The search gateway: one place that talks to search providers for the whole job.

For each request it tries the cache (every configured provider's entry, in
order), then the providers in order. On one provider it waits for that
provider's rate limit (``rpm``, evenly spaced) and concurrency slot, and
retries retryable errors with jittered exponential backoff; a Retry-After
longer than ``max_retry_after_s`` skips the provider instead of stalling the
cell. Permanent errors (bad key, bad request, malformed answer) move on to the
next provider at once, and so does an empty answer (``fallback_on_empty``).
Only when every provider has failed does ``search`` raise, with the last
error; if one answered with nothing, the result is simply empty. Empty
answers are not cached.

Identical requests in flight at the same time (two cells asking the same
keyword) share one upstream call; the followers are recorded as cache hits.

Every attempt, and every cache hit, becomes one record shaped like the
``search_calls`` table, handed to ``record_sink`` when the request is done
(also when it failed or was cancelled). Records never hold API keys.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

import aiohttp
from aiolimiter import AsyncLimiter

from pipelines.errors import BadRequestError, RateLimitedError, RetryableError, TrawlError
from pipelines.priority import PrioritySemaphore, QueueOrder, call_priority
from pipelines.quota import QuotaClient, SpacedStarts
from pipelines.search.adapter import SearchAdapter
from pipelines.search.cache import SearchCache, cache_key, normalize_query
from pipelines.search.config import SearchProviderConfig, SearchSettings
from pipelines.search.providers import make_adapter
from pipelines.search.types import SearchHit, SearchRequest
from pipelines.status import Stage

__all__ = ["SearchGateway"]

log = logging.getLogger(__name__)

RecordSink = Callable[[list[dict]], None]


class _Provider:
    """One configured provider with its adapter, limiter, concurrency slots and cool-down."""

    def __init__(self, config: SearchProviderConfig, order: QueueOrder, quota: QuotaClient | None = None) -> None:
        self.config = config
        self.adapter: SearchAdapter = make_adapter(config)
        # alone in its job: aiolimiter spaces the starts; one of several gateways: the job's quota book does
        self.limiter: AsyncLimiter | SpacedStarts | None = None
        if config.rpm:
            self.limiter = (SpacedStarts(f"search:{config.name}", config.rpm, quota.space) if quota is not None
                            else AsyncLimiter(1, 60.0 / config.rpm))
        # waiters in settings.queue_order (pipelines.priority)
        self.slots = PrioritySemaphore(quota.share(config.max_concurrency) if quota is not None else config.max_concurrency, order)
        self.cool_until = 0.0  # monotonic time before which the provider asked us not to call
        self.cool_cause = ""  # the answer that asked for the pause, so a skipped call still says why


class SearchGateway:
    def __init__(
        self,
        settings: SearchSettings,
        *,
        record_sink: RecordSink | None = None,
        cache_dir: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        quota: QuotaClient | None = None,
    ) -> None:
        """``quota``: one of several gateways of a job (research workers): rpm and concurrency hold job-wide."""
        self.settings = settings
        self._sleep = sleep  # backoff and Retry-After waits; injectable so tests check the waits asked for
        self._providers = [_Provider(cfg, settings.queue_order, quota) for cfg in settings.providers]
        self._quota = quota
        if quota is not None:
            quota.listeners.append(self._resize)
        self._record_sink = record_sink
        self._cache = SearchCache(cache_dir, settings.cache_ttl_s) if settings.cache else None
        self._session: aiohttp.ClientSession | None = None
        self._rng = random.Random()
        self._inflight: dict[str, asyncio.Future] = {}

    def _resize(self) -> None:
        """Take this participant's new share of each provider's max_concurrency (``QuotaClient.listeners``)."""
        assert self._quota is not None
        for p in self._providers:
            p.slots.resize(self._quota.share(p.config.max_concurrency))

    @property
    def provider_names(self) -> list[str]:
        return [p.config.name for p in self._providers]

    async def search(self, req: SearchRequest) -> list[SearchHit]:
        """Hits for one query, from the cache or the first provider that answers; raises a trawl error otherwise."""
        if not self._providers:
            raise BadRequestError("no search provider configured (search.providers is empty)", reason="no_search_provider")
        if not req.query.strip():
            raise BadRequestError("empty search query", reason="empty_query")
        req = self._with_defaults(req)
        records: list[dict] = []
        try:
            cached = self._from_cache(req, records)
            if cached is not None:
                return cached
            key = _request_key(req)
            leader = self._inflight.get(key)
            if leader is not None:
                shared = await self._join(leader, req, records)
                if shared is not None:
                    return shared
            return await self._lead(key, req, records)
        finally:
            self._emit(records)

    def cached(self, req: SearchRequest) -> tuple[list[SearchHit], list[dict]] | None:
        """The cached hits for ``req`` and their ``search_calls`` record, or None; never asks a provider.

        The driver's fast path: a re-run's searches are answered here, in its
        process, without a round trip to the gateway actor.
        """
        if self._cache is None or not self._providers or not req.query.strip():
            return None
        records: list[dict] = []
        try:
            hits = self._from_cache(self._with_defaults(req), records)
        except Exception as exc:  # noqa: BLE001 - a locked or unreadable cache: let the gateway decide
            log.warning("search cache not readable on the driver, asking the gateway: %r", exc)
            return None
        return (hits, records) if hits is not None else None

    async def _lead(self, key: str, req: SearchRequest, records: list[dict]) -> list[SearchHit]:
        """Ask the providers; identical requests arriving meanwhile wait for this answer instead of asking again."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            hits = await self._from_providers(req, records)
        except TrawlError as err:
            future.set_exception(err)
            future.exception()  # retrieved: no "never retrieved" warning when nobody joined
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        future.set_result(hits)
        return hits

    async def _join(self, leader: asyncio.Future, req: SearchRequest, records: list[dict]) -> list[SearchHit] | None:
        """Wait for an identical in-flight request; recorded as a cache hit. None if the leader was cancelled."""
        started, t0 = _now(), time.perf_counter()
        name = self._providers[0].config.name
        try:
            hits = await asyncio.shield(leader)
        except asyncio.CancelledError:
            if leader.cancelled():
                return None
            raise
        except TrawlError as err:
            records.append(_record(req, name, 1, started, t0, error=err, cache_hit=True))
            raise
        records.append(_record(req, hits[0].provider if hits else name, 1, started, t0, results=len(hits), cache_hit=True))
        return list(hits)

    def _with_defaults(self, req: SearchRequest) -> SearchRequest:
        """Settings fill what the request leaves open (language, region, time range, domain lists)."""
        s = self.settings
        return dataclasses.replace(
            req,
            language=req.language or s.language,
            region=req.region or s.region,
            time_range=req.time_range or s.time_range,
            include_domains=tuple(req.include_domains) or tuple(s.include_domains),
            exclude_domains=tuple(req.exclude_domains) or tuple(s.exclude_domains),
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._cache is not None:
            self._cache.close()

    # -- cache --------------------------------------------------------------------------------------------------
    def _from_cache(self, req: SearchRequest, records: list[dict]) -> list[SearchHit] | None:
        if self._cache is None:
            return None
        for provider in self._providers:
            started, t0 = _now(), time.perf_counter()
            hits = self._cache.get(cache_key(provider.config, req))
            if hits is not None:
                records.append(_record(req, provider.config.name, 1, started, t0, results=len(hits), cache_hit=True))
                return hits
        return None

    # -- providers ----------------------------------------------------------------------------------------------
    async def _from_providers(self, req: SearchRequest, records: list[dict]) -> list[SearchHit]:
        attempt = 0
        last_error: TrawlError | None = None
        fallback_from: str | None = None
        found_nothing = False
        for provider in self._providers:
            name = provider.config.name
            for tries in range(1, self.settings.max_attempts_per_provider + 1):
                attempt += 1
                started, t0 = _now(), time.perf_counter()
                try:
                    hits = await self._call(provider, req)
                except TrawlError as err:
                    records.append(_record(req, name, attempt, started, t0, error=err, fallback_from=fallback_from))
                    last_error = err
                    wait = self._retry_wait(err, tries)
                    if wait is None:
                        break
                    log.info("search %s: %s; retrying in %.2fs", name, err.reason, wait)
                    await self._sleep(wait)
                    continue
                records.append(_record(req, name, attempt, started, t0, results=len(hits), fallback_from=fallback_from))
                if hits and self._cache is not None:
                    self._cache.put(cache_key(provider.config, req), name, normalize_query(req.query), hits)
                if hits or not self.settings.fallback_on_empty:
                    return hits
                found_nothing = True
                break
            fallback_from = name
        if found_nothing:
            return []  # somebody answered, with nothing: not an error
        assert last_error is not None
        raise last_error

    async def _call(self, provider: _Provider, req: SearchRequest) -> list[SearchHit]:
        cool = provider.cool_until - time.monotonic()
        if cool > self.settings.max_retry_after_s:
            raise RateLimitedError(
                f"search provider '{provider.config.name}' asked to pause for {cool:.0f}s more ({provider.cool_cause})",
                retry_after=cool,
                reason="cooling_down",
            )
        if cool > 0:
            await self._sleep(cool)
        async with provider.slots.slot(call_priority(Stage.SEARCH, req.cell_started)):
            if provider.limiter is not None:
                await provider.limiter.acquire()
            try:
                return await provider.adapter.search(self._http(), req)
            except RateLimitedError as err:
                if err.retry_after:
                    provider.cool_until = max(provider.cool_until, time.monotonic() + err.retry_after)
                    provider.cool_cause = f"{err.reason}: {err}"
                raise

    def _retry_wait(self, err: TrawlError, tries: int) -> float | None:
        """Seconds to wait before the next try on the same provider, or None to move on."""
        if not isinstance(err, RetryableError) or tries >= self.settings.max_attempts_per_provider:
            return None
        retry_after = getattr(err, "retry_after", None)
        if retry_after is not None:
            if retry_after > self.settings.max_retry_after_s:
                return None
            return retry_after + self._rng.uniform(0, min(1.0, 0.1 * retry_after + 0.05))
        ceiling = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (tries - 1))
        return self._rng.uniform(0, ceiling)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"User-Agent": "trawl-search/0.1"})
        return self._session

    def _emit(self, records: list[dict]) -> None:
        if not records or self._record_sink is None:
            return
        try:
            self._record_sink(records)
        except Exception:  # telemetry must never fail a search
            log.exception("search telemetry sink failed; %d record(s) lost", len(records))


def _request_key(req: SearchRequest) -> str:
    """What makes two requests the same search for this gateway (its provider chain is fixed)."""
    return repr(
        (normalize_query(req.query), req.count, req.language, req.region, req.time_range,
         tuple(sorted(req.include_domains)), tuple(sorted(req.exclude_domains)))
    )


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _record(
    req: SearchRequest,
    provider: str,
    attempt: int,
    started: datetime,
    t0: float,
    *,
    results: int | None = None,
    error: TrawlError | None = None,
    fallback_from: str | None = None,
    cache_hit: bool = False,
) -> dict:
    """One row of the search_calls table."""
    return {
        "call_id": uuid.uuid4().hex,
        "job_id": req.job_id,
        "row_key": req.row_key,
        "column": req.column,
        "provider": provider,
        "query": req.query,
        "attempt": attempt,
        "results": results,
        "duration_s": time.perf_counter() - t0,
        "error.type": error.reason if error is not None else None,
        "error_message": str(error)[:500] if error is not None else None,
        "fallback_from": fallback_from,
        "cache_hit": cache_hit,
        "started_at": started,
    }
