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
    """Which job cell a call belongs to (for telemetry and budgets); ``cell_started`` (``time.time()``
    seconds when the cell's workflow began) orders waiting calls (``pipelines.priority``)."""

    job_id: str = ""
    row_key: str = ""
    column: str = ""
    cell_started: float | None = None


@dataclass(frozen=True)
class LLMRequest:
    """One logical LLM call, as the pipeline asks it.

    ``stage``: one of ``pipelines.status.LLM_STAGES`` (picks the provider chain);
    ``messages``: OpenAI chat messages ``[{"role": "system"|"user"|"assistant", "content": str}]``;
    ``prompt_version`` is part of the cache key (a new prompt never reads an old answer);
    ``max_tokens``: output token cap, ``None`` for the provider's ``max_output_tokens``;
    ``stop``: stop sequences (dropped for providers without support).
    The gateway raises a ``pipelines.errors.TrawlError`` subclass when every provider failed
    (``BudgetExhaustedError`` when the job's budget is spent).
    """

    stage: str  # one of LLM_STAGES
    messages: list[dict[str, str]]
    context: CallContext = field(default_factory=CallContext)
    prompt_version: str = ""
    max_tokens: int | None = None  # None: the provider's max_output_tokens
    stop: list[str] | None = None
    # {"name": ..., "schema": {...}} asked for as response_format where the model supports structured output
    response_schema: dict | None = None


@dataclass(frozen=True)
class LLMResult:
    """The reply: ``text`` (the answer text, reasoning removed); ``provider``/``model`` that answered
    (``gen_ai.provider.name``/``gen_ai.response.model``); tokens as billed; ``cost_usd`` from the
    configured prices (0 for a cache hit); ``attempts`` over every provider; ``duration_s`` wall
    seconds of the whole call, retries included."""

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
