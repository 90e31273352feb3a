"""What the pipeline hands the LLM gateway and what it gets back.

The gateway (``pipelines.llm.gateway``) owns retries, fallback, rate limits,
the cache and telemetry. Callers only build an ``LLMRequest`` and read an
``LLMResult``; every attempt is recorded by the gateway itself into the
``llm_calls`` table through the record sink it was given, so a failed call
is recorded even though the caller only sees the raised error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CallContext", "LLMRequest", "LLMResult"]


@dataclass(frozen=True)
class CallContext:
    """Which job cell a call belongs to (for telemetry and budgets)."""

    job_id: str = ""
    row_key: str = ""
    column: str = ""


@dataclass(frozen=True)
class LLMRequest:
    stage: str  # expand | judge | summarize
    messages: list[dict[str, str]]
    context: CallContext = field(default_factory=CallContext)
    prompt_version: str = ""
    max_tokens: int | None = None  # None: the provider's max_output_tokens
    stop: list[str] | None = None
    # {"name": ..., "schema": {...}} asked for as response_format where the model supports structured output
    response_schema: dict | None = None


@dataclass(frozen=True)
class LLMResult:
    text: str
    provider: str
    model: str  # gen_ai.response.model
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0  # None: no price known for the model (pipelines.llm.prices)
    cache_hit: bool = False
    attempts: int = 1
    duration_s: float = 0.0
    finish_reason: str | None = None
