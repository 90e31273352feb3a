"""The LLM gateway: one ``complete()`` that hides retries, fallback, rate limits and the cache, and records everything.

For one ``LLMRequest`` the gateway

1. builds the exact body each provider of the stage's chain would receive and
   its SHA-256; a cached answer under any of those hashes is returned at once
   (recorded as a cache hit, zero tokens);
2. joins an identical call already in flight instead of sending a second one;
3. refuses to start when the job's budget is spent (``BudgetExhaustedError``);
4. otherwise routes: the first provider in chain order whose circuit is closed
   and whose rpm/tpm window admits the call within ``max_limit_wait_s``;
   retryable failures (429, 5xx, timeouts, connection errors) back off with full
   jitter, honouring Retry-After, up to ``max_attempts_per_provider``; permanent
   ones (400/401/403/404, context length) move to the next provider at once;
5. records every upstream attempt through ``record_sink`` (an ``llm_calls``
   row), successful or not, before the caller sees the result or the error.

Plain asyncio, no Ray: ``actors.llm_gateway`` wraps it in one actor per cluster.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from pipelines.errors import AuthError, BadRequestError, PermanentError, RateLimitedError, RetryableError, TrawlError, UnavailableError
from pipelines.llm.adapt import adaptation_for, describe
from pipelines.llm.budget import BudgetTracker, check_cost_cap_priced
from pipelines.llm.cache import CachedReply, ResponseCache
from pipelines.llm.cache_reader import candidates as chain_candidates, first_hit, hit_record, hit_result, logical_key
from pipelines.llm.canonical import apply_stop, request_body, request_hash
from pipelines.llm.capabilities import capabilities_for
from pipelines.llm.client import ProviderClient
from pipelines.llm.config import LLMSettings, ProviderConfig
from pipelines.llm.limits import CircuitBreaker, ProviderLimits
from pipelines.llm.profiles import check_api_keys, resolve_settings
from pipelines.llm.records import call_record, cost_usd, utc_now
from pipelines.llm.replies import reply_problem
from pipelines.llm.telemetry import CallStats
from pipelines.llm.types import LLMRequest, LLMResult
from pipelines.priority import Priority, PrioritySemaphore, call_priority
from pipelines.quota import LeasedLimits, QuotaClient, QuotaSync
from pipelines.settings import BudgetSettings

__all__ = ["Gateway"]

log = logging.getLogger("trawl.llm")


@dataclass
class _Provider:
    config: ProviderConfig
    client: ProviderClient
    limits: ProviderLimits
    breaker: CircuitBreaker
    slots: PrioritySemaphore  # max_concurrency (this gateway's share of it, with a quota); waiters in queue_order
    concurrency: int  # the slots' size
    turn: PrioritySemaphore  # one caller at a time waits for the rpm/tpm window, the others queue in the same order
    in_flight: int = 0  # calls holding or waiting for a slot


@dataclass(frozen=True)
class _Candidate:
    provider: _Provider
    body: dict
    request_hash: str
    adaptations: str | None = None  # what the body carries from a 400 (llm_calls.request_adaptations)

    @property
    def config(self) -> ProviderConfig:
        return self.provider.config

    @functools.cached_property
    def estimate(self) -> int:
        """``_estimate_tokens(body)``, once: routing and admission ask for it several times per attempt."""
        return _estimate_tokens(self.body)


class Gateway:
    """Fallback, limits, cache, budgets and telemetry for every LLM call of a job (or a cluster)."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        budget: BudgetSettings | None = None,
        record_sink: Callable[[list[dict]], None] | None = None,
        cache_dir: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        now: Callable[[], datetime] = utc_now,
        quota: QuotaClient | None = None,
    ) -> None:
        """``quota``: this gateway is one of several in a job (research workers): rpm/tpm come as leases from
        the job's ``QuotaBook``, ``max_concurrency`` is split between them, spending is reported job-wide."""
        self.settings = resolve_settings(settings)
        keys = check_api_keys(self.settings)  # AuthError naming the variable, before any call
        check_cost_cap_priced(self.settings.providers, budget)  # a cost cap needs every price
        # clock/sleep/now are injectable so tests can run minutes of rate-limited traffic in virtual time.
        self._clock, self._sleep, self._rng, self._now = clock, sleep, rng, now
        self._sink = record_sink or (lambda records: None)
        self._providers: dict[str, _Provider] = {}
        self._budget = BudgetTracker(budget)
        self._quota, self._budgeted = quota, bool(budget and (budget.max_total_tokens or budget.max_cost_usd))
        self._spend = QuotaSync(quota, self._budget) if quota is not None else None
        self._spend_sync: asyncio.Task | None = None
        if quota is not None:
            quota.listeners.append(self._resize)
        for cfg in self.settings.providers:
            limits = self._limits(cfg, clock)
            concurrency = quota.share(cfg.max_concurrency) if quota is not None else cfg.max_concurrency
            self._providers[cfg.name] = _Provider(
                config=cfg,
                client=ProviderClient(cfg, keys[cfg.name], on_headers=limits.observe_headers),
                limits=limits,
                breaker=CircuitBreaker(
                    self.settings.breaker_failures, self.settings.breaker_cooldown_s, self.settings.breaker_max_cooldown_s,
                    clock=clock, min_failure_rate=self.settings.breaker_failure_rate,
                ),
                slots=PrioritySemaphore(concurrency, self.settings.queue_order),
                concurrency=concurrency,
                turn=PrioritySemaphore(1, self.settings.queue_order),
            )
        directory = cache_dir or self.settings.cache_dir
        self._cache = ResponseCache(directory, self.settings.cache_ttl_s) if self.settings.cache else None
        self._in_flight: dict[str, asyncio.Future] = {}
        # What a 400 taught us, per (provider, model), kept for the gateway's life (one job): capability changes.
        self._learned: dict[tuple[str, str], dict] = {}
        self._stats = CallStats()

    # --- public ---------------------------------------------------------------

    async def complete(self, req: LLMRequest) -> LLMResult:
        """The answer to ``req``; raises a ``RetryableError``/``PermanentError`` subclass or ``BudgetExhaustedError``."""
        started = self._clock()
        if self._spend is not None and self._spend_sync is None:
            await self._start_spend_sync()
        candidates = self._candidates(req)
        key = logical_key(candidates)
        while True:
            hit = self._cached(candidates)
            if hit is not None:
                return self._record_hit(req, key, hit, started)
            leader = self._in_flight.get(key) if self._cache is not None else None
            if leader is None:
                break
            # Identical request already on the wire: share its answer; no second upstream call.
            try:
                result = await asyncio.shield(leader)
            except _LeaderGone:
                continue  # the caller we joined was cancelled: ask again ourselves
            self._stats.merged += 1
            cand = next(c for c in candidates if c.provider.config.name == result.provider)
            return self._record_hit(req, key, cand, started, text=result.text, model=result.model)
        self._budget.check(req.context.job_id)
        if self._cache is None:
            return await self._call_chain(req, candidates, key, started)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved" noise
        self._in_flight[key] = future
        try:
            result = await self._call_chain(req, candidates, key, started)
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, TrawlError) else _LeaderGone())
            raise
        else:
            future.set_result(result)
            return result
        finally:
            self._in_flight.pop(key, None)

    def _limits(self, cfg: ProviderConfig, clock) -> ProviderLimits:
        if self._quota is None or not (cfg.rpm or cfg.tpm):
            return ProviderLimits(cfg.rpm, cfg.tpm, clock=clock)
        spend = self._spend
        return LeasedLimits(cfg.name, cfg.rpm, cfg.tpm, self._quota.lease, clock=clock,
                            on_totals=spend.totals if spend else None, take_spent=spend.take if spend else None)

    async def _start_spend_sync(self) -> None:
        """With a quota: sync with the book periodically (spending, who shares max_concurrency); with a budget,
        learn the job's spending before the first call."""
        assert self._spend is not None
        self._spend_sync = asyncio.get_running_loop().create_task(self._spend.run())
        if self._budgeted:
            await self._spend.once()

    def _resize(self) -> None:
        """Take this participant's new share of each provider's max_concurrency (``QuotaClient.listeners``)."""
        assert self._quota is not None
        for p in self._providers.values():
            p.concurrency = self._quota.share(p.config.max_concurrency)
            p.slots.resize(p.concurrency)

    def add_spent(self, job_id: str, tokens: int, cost_usd: float) -> None:
        """Count earlier spending of a resumed job against its budget."""
        self._budget.add(job_id, tokens, cost_usd)

    def stats(self) -> dict:
        return {
            "providers": self._stats.snapshot(),
            "circuits": {
                name: {"state": p.breaker.state, "opened": p.breaker.opened, "retry_in_s": round(p.breaker.retry_in(), 3)}
                for name, p in self._providers.items()
            },
            "in_flight": {name: p.in_flight for name, p in self._providers.items()},
            "merged_calls": self._stats.merged,
            "cache_entries": len(self._cache) if self._cache is not None else 0,
            "budget": self._budget.spent(),
        }

    async def aclose(self) -> None:
        if self._spend_sync is not None:
            self._spend_sync.cancel()
        for p in self._providers.values():
            await p.client.aclose()
        if self._cache is not None:
            self._cache.close()

    # --- cache ----------------------------------------------------------------

    def _candidates(self, req: LLMRequest) -> list[_Candidate]:
        return [_Candidate(self._providers[c.config.name], c.body, c.request_hash, _described(self._learned_for(c.config)))
                for c in chain_candidates(self.settings, req, self._learned_for)]

    def _learned_for(self, cfg: ProviderConfig) -> dict | None:
        return self._learned.get((cfg.name, cfg.model))

    def _adapt(self, req: LLMRequest, candidates: list[_Candidate], cand: _Candidate, err: TrawlError) -> bool:
        """After a 400 naming an unsupported parameter/value: learn the change and rebuild that provider's body."""
        if not isinstance(err, BadRequestError):
            return False
        cfg = cand.provider.config
        learned = self._learned_for(cfg) or {}
        body = request_body(cfg, req, learned)
        if body == cand.body:  # not already adapted by a concurrent call: learn from this error
            change = adaptation_for(err, capabilities_for(cfg, learned))
            if change is None:
                return False
            learned = {**learned, **change}
            self._learned[(cfg.name, cfg.model)] = learned
            log.warning("provider %s model %s rejected a parameter; adapting the request for the rest of the job: %s",
                        cfg.name, cfg.model, describe(learned))
            body = request_body(cfg, req, learned)
        candidates[candidates.index(cand)] = _Candidate(cand.provider, body, request_hash(body, req.prompt_version),
                                                        _described(learned))
        return True

    def _cached(self, cands: list[_Candidate]) -> _HitCandidate | None:
        if self._cache is None:
            return None
        found = first_hit(self._cache, cands)
        return _HitCandidate(*found) if found is not None else None

    def _record_hit(self, req: LLMRequest, key: str, cand, started: float, text: str | None = None, model: str | None = None) -> LLMResult:
        entry: CachedReply | None = getattr(cand, "entry", None)
        text = entry.text if entry is not None else text
        model = entry.response_model if entry is not None else model
        duration = self._clock() - started
        self._emit(hit_record(req, key, cand, started_at=self._now(), duration_s=duration, response_model=model))
        return hit_result(req, cand, text or "", model, duration)

    # --- upstream ---------------------------------------------------------------

    async def _call_chain(self, req: LLMRequest, candidates: list[_Candidate], key: str, started: float) -> LLMResult:
        given_up: set[str] = set()
        tries: dict[str, int] = {}
        attempt, last_error, current, fallback_from, adapted = 0, None, None, None, 0
        preferred = candidates[0].provider.config.name
        while True:
            cand = await self._route(candidates, given_up, req)
            if cand is None:
                raise last_error or self._all_cooling_down(candidates)
            name = cand.provider.config.name
            if name != current:
                fallback_from = current or (preferred if name != preferred else None)
                current = name
            attempt += 1
            tries[name] = tries.get(name, 0) + 1
            try:
                reply = await self._attempt(req, cand, key, attempt, fallback_from)
            except TrawlError as err:
                last_error = err
                if adapted < _MAX_ADAPTATIONS_PER_CALL and self._adapt(req, candidates, cand, err):
                    adapted += 1
                    tries[name] -= 1  # the adapted request is a new request, not a retry of a failing one
                    hit = self._cached(candidates)  # an earlier run may have cached the adapted request's answer
                    if hit is not None:
                        return self._record_hit(req, key, hit, started)
                    continue
                wait = self._after_failure(cand, err, tries[name], given_up)
                if wait:
                    await self._sleep(wait)
                continue
            return LLMResult(
                text=apply_stop(reply.text, req.stop if "stop" not in cand.body else None),
                provider=name, model=reply.response_model, input_tokens=reply.input_tokens, output_tokens=reply.output_tokens,
                cost_usd=cost_usd(cand.provider.config, reply.input_tokens, reply.output_tokens, reply.usage),
                attempts=attempt, duration_s=self._clock() - started, finish_reason=reply.finish_reason,
            )

    async def _route(self, candidates: list[_Candidate], given_up: set[str], req: LLMRequest) -> _Candidate | None:
        """The provider to try next: the first in chain order that is free and within its limits soon, else the
        one that will be soonest (a provider at max_concurrency only queues a call when no other one is free)."""
        while True:
            best: tuple[bool, float, _Candidate] | None = None
            for cand in candidates:
                p = cand.provider
                if p.config.name in given_up or not p.breaker.available():
                    continue
                delay = p.limits.delay(cand.estimate)
                busy = p.in_flight >= p.concurrency
                if delay <= self.settings.max_limit_wait_s and not busy:
                    best = (False, delay, cand)
                    break
                if best is None or (busy, delay) < best[:2]:
                    best = (busy, delay, cand)
            if best is None:
                return None
            _, delay, cand = best
            if delay > 0:
                await self._wait_for_window(cand, call_priority(req.stage, req.context.cell_started))
                continue  # someone else may have taken the slot meanwhile: route again
            if cand.provider.breaker.allow():
                return cand

    async def _wait_for_window(self, cand: _Candidate, priority: Priority) -> None:
        """Sleep until ``cand``'s rpm/tpm window would admit the call; callers take turns in ``queue_order``.

        One caller per provider sleeps at a time, so when the window frees up the first caller in queue order
        (pipelines.priority) is the one that sees it, not whichever sleeper's timer fires first. The caller then
        routes again and checks the window once more in ``_attempt``, queueing with its priority (in ``fifo``
        order: as a newcomer). Without an rpm/tpm limit nobody ever waits here.
        """
        p = cand.provider
        async with p.turn.slot(priority):
            delay = p.limits.delay(cand.estimate)
            if delay > 0:
                await self._sleep(delay)

    async def _attempt(self, req: LLMRequest, cand: _Candidate, key: str, attempt: int, fallback_from: str | None):
        p, cfg = cand.provider, cand.provider.config
        estimate = cand.estimate
        record = functools.partial(  # what every record of this attempt shares; mypy checks the keywords
            call_record, ctx=req.context, stage=req.stage, logical_key=key, attempt=attempt, provider=cfg,
            request_hash=cand.request_hash, prompt_version=req.prompt_version, fallback_from=fallback_from,
            request_adaptations=cand.adaptations)
        priority = call_priority(req.stage, req.context.cell_started)
        p.in_flight += 1
        started_at = None
        try:
            async with p.slots.slot(priority):
                # The window is checked again once a slot is ours: the start we count is the start we make.
                async with p.turn.slot(priority):
                    while (wait := p.limits.delay(estimate)) > 0:
                        await self._sleep(wait)
                    reservation = p.limits.take(estimate)
                started_at, t0 = self._now(), self._clock()
                reply = await p.client.complete(cand.body)
        except (TrawlError, asyncio.CancelledError) as err:
            if started_at is None:
                raise  # cancelled before anything was sent
            if isinstance(err, TrawlError):
                p.limits.settle(reservation, 0)
                reason, message = err.reason, str(err)
            else:  # the server may still bill it: keep the token estimate, record what we know
                reason, message = "cancelled", "the caller gave up while the request was in flight (e.g. its cell timed out)"
            self._emit(record(started_at=started_at, duration_s=self._clock() - t0,
                              error_type=reason, error_message=message))
            raise
        finally:
            p.in_flight -= 1
        p.breaker.success()
        p.limits.settle(reservation, reply.input_tokens + reply.output_tokens)
        spent = (reply.input_tokens + reply.output_tokens, cost_usd(cfg, reply.input_tokens, reply.output_tokens, reply.usage))
        self._budget.add(req.context.job_id, *spent)
        if self._spend is not None:
            self._spend.add(*spent)
        problem = reply_problem(cfg.name, cand.body, reply)
        self._emit(
            record(
                started_at=started_at, duration_s=self._clock() - t0, response_model=reply.response_model,
                input_tokens=reply.input_tokens, output_tokens=reply.output_tokens, finish_reason=reply.finish_reason,
                reasoning_chars=reply.reasoning_chars, error_type=problem.reason if problem else None,
                error_message=str(problem) if problem else None, usage=reply.usage,
            )
        )
        if problem is not None:
            raise problem  # truncated or refused: never cached, so a re-run asks again
        if self._cache is not None and reply.text:
            # An empty answer is not worth keeping: a re-run should ask again.
            self._cache.put(
                CachedReply(cand.request_hash, cfg.name, cfg.model, reply.response_model, reply.text,
                            reply.input_tokens, reply.output_tokens, time.time())
            )
        return reply

    def _after_failure(self, cand: _Candidate, err: TrawlError, tries: int, given_up: set[str]) -> float:
        """Update limits and the circuit for ``err``; returns how long to back off before the next try."""
        p, s = cand.provider, self.settings
        name = p.config.name
        if isinstance(err, RateLimitedError):
            if p.breaker.state == "half_open":
                p.breaker.success()  # a 429 proves the server is up again
            if err.retry_after is not None:
                p.limits.block_for(err.retry_after)  # every concurrent call now routes around it
        elif isinstance(err, RetryableError | AuthError):
            p.breaker.failure()
        if isinstance(err, PermanentError) or tries >= s.max_attempts_per_provider or p.breaker.state != "closed":
            given_up.add(name)
            return 0.0
        retry_after = getattr(err, "retry_after", None) or 0.0
        if retry_after > s.max_wait_s:
            given_up.add(name)  # it asked for longer than we wait: fall back now
            return 0.0
        backoff = self._rng() * min(s.max_wait_s, s.backoff_base_s * 2 ** (tries - 1))
        return min(s.max_wait_s, max(backoff, retry_after))

    def _all_cooling_down(self, candidates: list[_Candidate]) -> UnavailableError:
        waits = ", ".join(f"{c.provider.config.name} (probe in {c.provider.breaker.retry_in():.0f}s)" for c in candidates)
        return UnavailableError(f"every provider for this stage is cooling down after repeated failures: {waits}", reason="circuit_open")

    def _emit(self, record: dict) -> None:
        self._stats.observe(record)
        try:
            self._sink([record])
        except Exception:  # noqa: BLE001 - telemetry must never fail a call
            log.exception("llm_calls record sink failed")


class _LeaderGone(Exception):
    """The call that identical requests joined was cancelled before it got an answer."""


@dataclass(frozen=True)
class _HitCandidate:
    candidate: _Candidate
    entry: CachedReply

    @property
    def provider(self) -> _Provider:
        return self.candidate.provider

    @property
    def request_hash(self) -> str:
        return self.candidate.request_hash

    @property
    def body(self) -> dict:
        return self.candidate.body

    @property
    def config(self) -> ProviderConfig:
        return self.candidate.provider.config


def _described(learned: dict | None) -> str | None:
    return describe(learned) if learned else None


_MAX_ADAPTATIONS_PER_CALL = 4  # one per distinct rejected parameter (token limit, temperature, stop, role...)


def _estimate_tokens(body: dict) -> int:
    # For tpm admission before the server reports usage: ~4 characters per token, plus the output cap.
    cap = body.get("max_tokens") or body.get("max_completion_tokens") or 0
    return len(json.dumps(body["messages"], ensure_ascii=False)) // 4 + int(cap)
