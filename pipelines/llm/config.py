"""LLM provider configuration: who to call, how fast, at what price, in which order."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipelines.priority import DEFAULT_QUEUE_ORDER, QueueOrder
from pipelines.settings import Strict
from pipelines.status import LLM_STAGES, LLMStageName

__all__ = ["ProviderConfig", "CapabilityOverrides", "LLMSettings", "ProviderProfile", "STAGES"]

STAGES = LLM_STAGES  # transform: the llm column kind (pipelines.tasks.llm_kind)


Effort = Literal["none", "minimal", "low", "medium", "high"]


class CapabilityOverrides(Strict):
    """Per-provider overrides of the model family table (``pipelines.llm.capabilities``); unset = from the table."""

    token_limit: Literal["max_tokens", "max_completion_tokens", "none"] | None = Field(
        None, description="Parameter that carries the output cap (none: not sent).")
    temperature: bool | None = Field(None, description="Whether 'temperature' is sent.")
    top_p: bool | None = Field(None, description="Whether 'top_p' is sent (trawl sends none today; kept for adaptation).")
    stop: bool | None = Field(None, description="Whether 'stop' is sent.")
    system_role: Literal["system", "developer", "none"] | None = Field(
        None, description="Role of the instructions message; none folds them into the first user message.")
    reasoning_effort: bool | None = Field(None, description="Whether 'reasoning_effort' is sent.")
    structured_output: Literal["json_schema", "json_object", "none"] | None = Field(
        None, description="response_format used for judge and summarize replies.")


class ProviderConfig(Strict):
    name: str = Field(..., min_length=1, description="Label used in telemetry (gen_ai.provider.name) and chains.")
    base_url: str = Field(..., description="e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1")
    model: str = Field(..., min_length=1, description="Model name sent as gen_ai.request.model.")
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the key. Never the key.")
    rpm: int | None = Field(None, ge=1, description="Requests per minute this provider allows.")
    tpm: int | None = Field(None, ge=1, description="Tokens per minute this provider allows.")
    max_concurrency: int = Field(32, ge=1, le=4096, description="Calls in flight to this provider.")
    price_input_per_m: float | None = Field(None, ge=0, description="USD per million input tokens. Setting this or "
                                            "price_output_per_m uses the configured prices (the unset one is 0); setting "
                                            "neither looks the model up in genai-prices' bundled table.")
    price_output_per_m: float | None = Field(None, ge=0, description="USD per million output tokens (see price_input_per_m).")
    price_cached_input_per_m: float | None = Field(None, ge=0, description="USD per million input tokens read from the "
                                                   "provider's prompt cache; default: price_input_per_m.")
    price_reasoning_per_m: float | None = Field(None, ge=0, description="USD per million reasoning tokens (a part of the "
                                                "output tokens); default: price_output_per_m.")
    price_provider: str | None = Field(None, min_length=1, description="genai-prices provider id to look prices up under "
                                       "(e.g. 'openai' behind a proxy URL); default: matched from base_url.")
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Per-attempt timeout.")
    kind: Literal["openai", "azure"] = Field(
        "openai", description="Wire protocol: 'openai' for every OpenAI-compatible server; 'azure' for Azure OpenAI "
        "(base_url is the resource endpoint, model the deployment name, the key goes in the api-key header).")
    api_version: str | None = Field(None, description="Azure OpenAI api-version query parameter (kind: azure only), "
                                    "e.g. 2025-04-01-preview (reasoning models need a recent one).")
    family: str | None = Field(None, description="Model name used to look up request rules when 'model' is an alias or "
                               "an Azure deployment name, e.g. gpt-5-mini (see docs/llm-providers.md).")
    capabilities: CapabilityOverrides | None = Field(None, description="Overrides of the request rules the model "
                                                     "family table gives (docs/llm-providers.md).")
    reasoning_effort: Effort | dict[Literal["expand", "judge", "summarize", "default"], Effort] | None = Field(
        None, description="reasoning_effort sent to models that take it: one value, or per stage "
        "{expand, judge, summarize, default}. Unset: the model's own default.")
    json_schema: bool | None = Field(None, description="Shorthand for capabilities.structured_output: true = "
                                     "json_schema, false = none; unset: from the model family table.")
    stop_sequences: bool | None = Field(None, description="Shorthand for capabilities.stop (whether 'stop' is sent); "
                                        "unset: from the model family table. Without it trawl cuts replies itself.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature, sent to models that accept one.")
    max_output_tokens: int = Field(1024, ge=16, description="Output cap sent on every call (as max_tokens or "
                                   "max_completion_tokens, per the model family); reasoning models count their "
                                   "reasoning against it, so give them several thousand.")

    @model_validator(mode="after")
    def _azure_needs_api_version(self) -> ProviderConfig:
        if self.kind == "azure" and not self.api_version:
            raise ValueError("kind 'azure' needs api_version (e.g. 2025-04-01-preview)")
        if self.kind != "azure" and self.api_version:
            raise ValueError("api_version is only for kind 'azure'")
        return self

    def effort_for(self, stage: str) -> str | None:
        """The reasoning_effort for ``stage`` (None: not set)."""
        if isinstance(self.reasoning_effort, dict):
            return self.reasoning_effort.get(stage) or self.reasoning_effort.get("default")  # type: ignore[call-overload]
        return self.reasoning_effort


class LLMSettings(Strict):
    profile: str | None = Field(None, description="Name of a profile in ~/.config/trawl/providers.yaml (or --providers).")
    providers: list[ProviderConfig] = Field(default_factory=list, description="Inline providers, used when no profile is named.")
    chains: dict[LLMStageName | Literal["default"], list[str]] = Field(
        default_factory=dict,
        description="Ordered fallback chain of provider names per stage; 'default' applies to stages not listed; "
        "with no chains, providers are tried in the order declared.",
    )
    max_attempts_per_provider: int = Field(3, ge=1, le=10, description="Tries on one provider before falling back.")
    queue_order: QueueOrder = Field(DEFAULT_QUEUE_ORDER, description="Order of calls waiting for a provider's concurrency "
                                    "slot: 'priority' (later stage, then older cell, first: started cells finish first) or 'fifo'.")
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
