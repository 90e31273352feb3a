"""Answer an LLM call from the response cache alone, exactly as the gateway would.

The gateway is one actor per cluster; a call it answers from its cache still
costs a round trip to it and a slice of its single event loop. A re-run of a
job (or a job asking what another already asked) is almost all such calls, so
the driver asks ``CacheReader`` first and sends only the misses to the
gateway. Both sides build the candidate requests, hashes, hit records and
results with the functions below, so a hit looks the same wherever it is
served: same ``llm_calls`` row (same ``call_id``), same text, zero tokens.

Reading is safe next to a writing gateway: the cache is SQLite in WAL mode.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from pipelines.llm.cache import CachedReply, ResponseCache
from pipelines.llm.canonical import apply_stop, request_body, request_hash
from pipelines.llm.config import LLMSettings, ProviderConfig
from pipelines.llm.records import call_record, utc_now
from pipelines.llm.types import LLMRequest, LLMResult

__all__ = ["CacheReader", "Candidate", "candidates", "logical_key", "hit_record", "hit_result"]


@dataclass(frozen=True)
class Candidate:
    """One provider of a stage's chain with the exact body it would receive and that body's hash."""

    config: ProviderConfig
    body: dict
    request_hash: str


def candidates(settings: LLMSettings, req: LLMRequest, learned: Callable[[ProviderConfig], dict | None] | None = None
               ) -> list[Candidate]:
    """The stage's chain with each provider's exact body; ``learned`` gives what the gateway adapted per provider."""
    out = []
    for cfg in settings.chain_for(req.stage):
        body = request_body(cfg, req, learned(cfg) if learned else None)
        out.append(Candidate(cfg, body, request_hash(body, req.prompt_version)))
    return out


class _Hashed(Protocol):
    @property
    def request_hash(self) -> str: ...


_C = TypeVar("_C", bound=_Hashed)  # Candidate here, the gateway's own candidate type there


def logical_key(cands: Sequence[_Hashed]) -> str:
    """The call's identity across providers: in-flight merging and record ids use it."""
    return hashlib.sha256("|".join(c.request_hash for c in cands).encode()).hexdigest()


def hit_record(req: LLMRequest, key: str, cand: Candidate, *, started_at: datetime, duration_s: float,
               response_model: str | None) -> dict:
    return call_record(
        ctx=req.context, stage=req.stage, logical_key=key, attempt=1, provider=cand.config,
        request_hash=cand.request_hash, prompt_version=req.prompt_version, started_at=started_at,
        duration_s=duration_s, response_model=response_model, cache_hit=True,
    )


def hit_result(req: LLMRequest, cand: Candidate, text: str, model: str | None, duration_s: float) -> LLMResult:
    cfg = cand.config
    # the cache keeps the raw reply; a body without "stop" means the provider could not cut it server-side
    text = apply_stop(text or "", req.stop if "stop" not in cand.body else None)
    return LLMResult(text=text, provider=cfg.name, model=model or "", cache_hit=True, attempts=0, duration_s=duration_s)


def first_hit(cache: ResponseCache, cands: Sequence[_C]) -> tuple[_C, CachedReply] | None:
    # Any provider's exact request counts: a re-run whose first run fell back still costs nothing.
    for cand in cands:
        entry = cache.get(cand.request_hash)
        if entry is not None:
            return cand, entry
    return None


class CacheReader:
    """``lookup(req)`` -> (result, its ``llm_calls`` record) on a hit, None on a miss. Never raises on a bad cache."""

    def __init__(self, settings: LLMSettings, cache_dir: str, *, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self._clock, self._now = clock, now
        self._cache: ResponseCache | None = None
        if settings.cache:
            try:
                self._cache = ResponseCache(cache_dir, settings.cache_ttl_s)
            except Exception:  # noqa: BLE001 - an unreadable cache only means every call goes to the gateway
                self._cache = None
        self.hits = 0
        self.misses = 0

    def lookup(self, req: LLMRequest) -> tuple[LLMResult, dict] | None:
        if self._cache is None:
            return None
        started, started_at = self._clock(), self._now()
        cands = candidates(self.settings, req)
        try:
            found = first_hit(self._cache, cands)
        except Exception:  # noqa: BLE001 - e.g. locked or corrupt: the gateway decides
            found = None
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        cand, entry = found
        duration = self._clock() - started
        record = hit_record(req, logical_key(cands), cand, started_at=started_at, duration_s=duration,
                            response_model=entry.response_model)
        return hit_result(req, cand, entry.text, entry.response_model, duration), record

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    async def aclose(self) -> None:
        self.close()
