"""``llm_calls`` records: one per upstream attempt or cache hit, with OpenTelemetry GenAI column names."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from pipelines.llm.config import ProviderConfig
from pipelines.llm.prices import PRICES
from pipelines.llm.types import CallContext
from pipelines.llm.usage import UsageDetails

__all__ = ["call_id", "call_record", "cost_usd"]


def cost_usd(provider: ProviderConfig, input_tokens: int, output_tokens: int, usage: UsageDetails | None = None) -> float | None:
    """USD for one call at the provider's prices (``pipelines.llm.prices``); ``None`` when no price is known."""
    return PRICES.cost(provider, input_tokens, output_tokens, usage)


def call_id(ctx: CallContext, stage: str, logical_key: str, attempt: int, provider: str, cache_hit: bool) -> str:
    """Same logical call, same attempt, same provider -> same id, so a retried actor call or a
    resumed job replaces its record instead of duplicating it; a cache hit gets its own id so it
    never overwrites the record of the call that paid for the answer."""
    parts = [ctx.job_id, ctx.row_key, ctx.column, stage, logical_key, str(attempt), provider, "hit" if cache_hit else "call"]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def call_record(
    *,
    ctx: CallContext,
    stage: str,
    logical_key: str,
    attempt: int,
    provider: ProviderConfig,
    request_hash: str,
    prompt_version: str,
    started_at: datetime,
    duration_s: float,
    response_model: str | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    error_type: str | None = None,
    error_message: str | None = None,
    fallback_from: str | None = None,
    cache_hit: bool = False,
    finish_reason: str | None = None,
    reasoning_chars: int | None = None,
    request_adaptations: str | None = None,
    usage: UsageDetails | None = None,
) -> dict:
    """One row of ``llm_calls``; keys are exactly the table's columns. ``cost_usd`` is ``None`` when no price is known."""
    usage = usage or UsageDetails()
    return {
        "call_id": call_id(ctx, stage, logical_key, attempt, provider.name, cache_hit),
        "job_id": ctx.job_id,
        "row_key": ctx.row_key,
        "column": ctx.column,
        "stage": stage,
        "attempt": attempt,
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider.name,
        "gen_ai.request.model": provider.model,
        "gen_ai.response.model": response_model,
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
        "gen_ai.usage.cache_read.input_tokens": usage.cache_read_input_tokens,
        "gen_ai.usage.cache_creation.input_tokens": usage.cache_creation_input_tokens,
        "gen_ai.usage.reasoning.output_tokens": usage.reasoning_output_tokens,
        "gen_ai.client.operation.duration": duration_s,
        "error.type": error_type,
        "error_message": error_message,
        "fallback_from": fallback_from,
        "cache_hit": cache_hit,
        "cost_usd": 0.0 if cache_hit else cost_usd(provider, input_tokens, output_tokens, usage),
        "request_hash": request_hash,
        "prompt_version": prompt_version,
        "started_at": started_at,
        "gen_ai.response.finish_reasons": finish_reason,
        "reasoning_chars": reasoning_chars,
        "request_adaptations": request_adaptations,
    }


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
