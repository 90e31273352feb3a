"""Fault injection settings for the local world's three servers.

Each server holds one of these per instance and can swap it at runtime
through ``POST /_admin/faults`` (JSON of the model's fields), so a chaos test
can make a provider fail for part of a run. Rates are probabilities in [0, 1]
drawn from a ``random.Random(seed)`` owned by the server.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import Field

from pipelines.settings import Strict

__all__ = ["LLMFaults", "SiteFaults", "SearchFaults", "draw_latency"]



class LLMFaults(Strict):
    latency_s: float = Field(0.0, ge=0, description="Fixed delay before every answer.")
    latency_per_token_s: float = Field(0.0, ge=0, description="Extra delay per output token.")
    rate_429: float = Field(0.0, ge=0, le=1, description="Share of calls answered 429 with Retry-After.")
    retry_after_s: float = Field(1.0, ge=0, description="Retry-After sent with injected and limit 429s.")
    rate_500: float = Field(0.0, ge=0, le=1, description="Share of calls answered 500.")
    rate_timeout: float = Field(0.0, ge=0, le=1, description="Share of calls that hang for timeout_s before answering.")
    timeout_s: float = Field(600.0, ge=0, description="How long a 'timeout' call hangs (longer than any client timeout).")
    rate_malformed: float = Field(0.0, ge=0, le=1, description="Share of calls whose content ignores the reply format.")
    rate_truncated: float = Field(0.0, ge=0, le=1, description="Share of calls whose content is cut short (finish_reason=length).")
    rate_bad_json: float = Field(0.0, ge=0, le=1, description="Share of calls answered 200 with a body that is not JSON.")
    rpm_limit: int | None = Field(None, ge=1, description="Server-side requests-per-minute limit; excess calls get 429.")
    tpm_limit: int | None = Field(None, ge=1, description="Server-side tokens-per-minute limit; excess calls get 429.")
    hold_prompts_with: list[str] = Field(default_factory=list, description=(
        "A gate a test opens: a call whose prompt contains any of these strings waits, before any other fault, "
        "until the faults are replaced by ones whose list no longer matches it."))
    seed: int = Field(0, description="Seed of the fault dice.")


class SiteFaults(Strict):
    hosts: list[str] = Field(default_factory=list, description="Host globs this rule applies to; empty means every host.")
    latency_s: float = Field(0.0, ge=0, description="Base delay before every response.")
    latency_jitter_s: float = Field(0.0, ge=0, description="Spread added to latency_s (see latency_dist).")
    latency_dist: Literal["uniform", "exponential"] = Field("uniform", description="Shape of the jitter.")
    rate_404: float = Field(0.0, ge=0, le=1, description="Share of requests answered 404.")
    rate_500: float = Field(0.0, ge=0, le=1, description="Share of requests answered 500.")
    rate_503: float = Field(0.0, ge=0, le=1, description="Share of requests answered 503 with Retry-After.")
    retry_after_s: float = Field(1.0, ge=0, description="Retry-After sent with 503s.")
    rate_slow_body: float = Field(0.0, ge=0, le=1, description="Share of responses whose body drips out over slow_body_s.")
    slow_body_s: float = Field(30.0, ge=0, description="Duration of a slow body.")
    rate_oversize: float = Field(0.0, ge=0, le=1, description="Share of responses padded to oversize_bytes.")
    oversize_bytes: int = Field(20_000_000, ge=1, description="Size of an oversize body.")
    rate_wrong_type: float = Field(0.0, ge=0, le=1, description="Share of responses sent as application/octet-stream.")
    rate_redirect_loop: float = Field(0.0, ge=0, le=1, description="Share of requests answered with a redirect loop.")
    seed: int = Field(0, description="Seed of the fault dice.")


class SearchFaults(Strict):
    latency_s: float = Field(0.0, ge=0, description="Base delay before every search response.")
    latency_jitter_s: float = Field(0.0, ge=0, description="Uniform spread added to latency_s.")
    rate_429: float = Field(0.0, ge=0, le=1, description="Share of searches answered 429 with Retry-After.")
    rate_500: float = Field(0.0, ge=0, le=1, description="Share of searches answered 500.")
    rate_503: float = Field(0.0, ge=0, le=1, description="Share of searches answered 503 with Retry-After.")
    retry_after_s: float = Field(1.0, ge=0, description="Retry-After sent with 429/503.")
    rate_empty: float = Field(0.0, ge=0, le=1, description="Share of searches answered with zero results.")
    seed: int = Field(0, description="Seed of the fault dice.")


def draw_latency(rng: random.Random, base: float, jitter: float, dist: str = "uniform") -> float:
    if jitter <= 0:
        return base
    extra = rng.expovariate(1.0 / jitter) if dist == "exponential" else rng.uniform(0, jitter)
    return base + extra
