"""LLM provider configuration: who to call, how fast, at what price, in which order."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipelines.settings import Strict

__all__ = ["ProviderConfig", "LLMSettings", "STAGES"]

STAGES = ("expand", "judge", "summarize")


class ProviderConfig(Strict):
    name: str = Field(..., min_length=1, description="Label used in telemetry (gen_ai.provider.name) and chains.")
    kind: Literal["openai"] = Field("openai", description="Wire protocol; every OpenAI-compatible server is 'openai'.")
    base_url: str = Field(..., description="e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1")
    model: str = Field(..., min_length=1, description="Model name sent as gen_ai.request.model.")
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the key. Never the key.")
    rpm: int | None = Field(None, ge=1, description="Requests per minute this provider allows.")
    tpm: int | None = Field(None, ge=1, description="Tokens per minute this provider allows.")
    max_concurrency: int = Field(32, ge=1, le=4096, description="Calls in flight to this provider.")
    price_input_per_m: float = Field(0.0, ge=0, description="USD per million input tokens.")
    price_output_per_m: float = Field(0.0, ge=0, description="USD per million output tokens.")
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Per-attempt timeout.")
    json_schema: bool = Field(False, description="Supports response_format json_schema.")
    stop_sequences: bool = Field(True, description="Supports the 'stop' parameter.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature sent on every call.")
    max_output_tokens: int = Field(1024, ge=16, description="max_tokens sent on every call.")


class LLMSettings(Strict):
    profile: str | None = Field(None, description="Name of a profile in ~/.config/trawl/providers.yaml (or --providers).")
    providers: list[ProviderConfig] = Field(default_factory=list, description="Inline providers, used when no profile is named.")
    chains: dict[Literal["expand", "judge", "summarize", "default"], list[str]] = Field(
        default_factory=dict,
        description="Ordered fallback chain of provider names per stage; 'default' applies to stages not listed; "
        "with no chains, providers are tried in the order declared.",
    )
    max_attempts_per_provider: int = Field(3, ge=1, le=10, description="Tries on one provider before falling back.")
    cache: bool = Field(True, description="Cache responses by a SHA-256 of the full request.")
    cache_ttl_s: float | None = Field(None, gt=0, description="Cache entry lifetime; None keeps entries forever.")
    cache_dir: str | None = Field(None, description="Shared cache folder; defaults to <output>/llm-cache.")
