"""LLM provider configuration: who to call, how fast, at what price, in which order."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipelines.settings import Strict
from pipelines.status import LLM_STAGES, LLMStageName

__all__ = ["ProviderConfig", "LLMSettings", "ProviderProfile", "STAGES"]

STAGES = LLM_STAGES


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
    chains: dict[LLMStageName | Literal["default"], list[str]] = Field(
        default_factory=dict,
        description="Ordered fallback chain of provider names per stage; 'default' applies to stages not listed; "
        "with no chains, providers are tried in the order declared.",
    )
    max_attempts_per_provider: int = Field(3, ge=1, le=10, description="Tries on one provider before falling back.")
    cache: bool = Field(True, description="Cache responses by a SHA-256 of the full request.")
    cache_ttl_s: float | None = Field(None, gt=0, description="Cache entry lifetime; None keeps entries forever.")
    cache_dir: str | None = Field(None, description="Shared cache folder; defaults to <output>/llm-cache.")
    providers_file: str | None = Field(
        None,
        description="Profile file to look 'profile' up in; default: $TRAWL_PROVIDERS, else ~/.config/trawl/providers.yaml.",
    )
    backoff_base_s: float = Field(0.5, ge=0, le=60, description="First retry delay on one provider; doubles per retry, fully jittered.")
    max_wait_s: float = Field(10.0, ge=0, le=600, description="Cap on any one wait (backoff or Retry-After); a provider asking "
                              "for longer is skipped for that long and the next one in the chain is tried.")
    max_limit_wait_s: float = Field(1.0, ge=0, le=600, description="How long a call queues for a provider's rpm/tpm limit "
                                    "before it tries the next provider in the chain instead.")
    breaker_failures: int = Field(5, ge=1, le=1000, description="Consecutive failed calls (5xx, timeouts, connection errors, "
                                  "auth) that open a provider's circuit, if breaker_failure_rate is also reached.")
    breaker_failure_rate: float = Field(0.5, ge=0, le=1, description="Share of a provider's last 20 calls that must have failed "
                                        "for its circuit to open; keeps a flaky but working provider in use.")
    breaker_cooldown_s: float = Field(30.0, gt=0, le=3600, description="How long an open circuit skips the provider before one probe call.")
    breaker_max_cooldown_s: float = Field(600.0, gt=0, le=86_400, description="Cap on the cooldown, which doubles each time a probe fails.")

    @model_validator(mode="after")
    def _chains_name_known_providers(self) -> LLMSettings:
        if self.profile and self.providers:
            raise ValueError("set either 'profile' or inline 'providers', not both")
        names = [p.name for p in self.providers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"provider names must be unique: {', '.join(dupes)}")
        if self.providers:
            for stage, chain in self.chains.items():
                unknown = [n for n in chain if n not in names]
                if unknown:
                    raise ValueError(f"chains.{stage}: unknown provider(s) {', '.join(unknown)}; known: {', '.join(names)}")
        return self

    def chain_for(self, stage: str) -> list[ProviderConfig]:
        """The ordered providers to try for ``stage``."""
        by_name = {p.name: p for p in self.providers}
        names = self.chains.get(stage) or self.chains.get("default")  # type: ignore[call-overload]
        return [by_name[n] for n in names] if names else list(self.providers)


class ProviderProfile(Strict):
    """One entry of the profile file: ``{profile-name: {providers: [...], chains: {...}}}``."""

    providers: list[ProviderConfig] = Field(..., min_length=1, description="Providers of this profile.")
    chains: dict[LLMStageName | Literal["default"], list[str]] = Field(
        default_factory=dict, description="Ordered fallback chain per stage, as in LLMSettings.chains."
    )
