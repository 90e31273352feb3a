"""Search provider configuration: who to ask, how fast, how hard to retry, how long to cache."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipelines.priority import DEFAULT_QUEUE_ORDER, QueueOrder
from pipelines.settings import Strict

__all__ = ["SearchProviderConfig", "SearchSettings", "PROVIDER_KINDS"]

PROVIDER_KINDS = ("searxng", "brave", "tavily", "serper")


class SearchProviderConfig(Strict):
    name: str = Field(..., min_length=1, description="Label used in telemetry and results (search_calls.provider).")
    kind: Literal["searxng", "brave", "tavily", "serper"] = Field("searxng", description="Adapter to use.")
    base_url: str | None = Field(
        None,
        description="Endpoint; required for searxng (the instance root, '/search' is appended), "
        "defaults to the documented API for the others.",
    )
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the key. Never the key.")
    rpm: int | None = Field(None, ge=1, description="Requests per minute; requests are spaced evenly (no bursts).")
    max_concurrency: int = Field(8, ge=1, le=1024, description="Requests in flight to this provider.")
    timeout_s: float = Field(15.0, gt=0, le=300, description="Per-request timeout.")
    site_operators: bool | None = Field(
        None,
        description="Add 'site:' / '-site:' operators for include/exclude domains to the query. "
        "None: the adapter's default (on for brave and serper, off for searxng; tavily has native domain lists).",
    )
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Provider-specific parameters sent as they are, e.g. {'safesearch': 'strict'} for brave, "
        "{'categories': 'general'} for searxng, {'search_depth': 'advanced'} for tavily.",
    )

    @model_validator(mode="after")
    def _searxng_needs_url(self) -> SearchProviderConfig:
        if self.kind == "searxng" and not self.base_url:
            raise ValueError("searxng needs base_url (the instance root, e.g. http://127.0.0.1:8888)")
        return self


class SearchSettings(Strict):
    providers: list[SearchProviderConfig] = Field(default_factory=list, description="Tried in order; later ones are fallbacks.")
    language: str | None = Field(None, description="Result language, e.g. 'en'.")
    region: str | None = Field(None, description="Result region, e.g. 'us'.")
    time_range: Literal["day", "week", "month", "year"] | None = Field(None, description="Only results from this period.")
    include_domains: list[str] = Field(default_factory=list, description="Keep only results on these domains (and subdomains).")
    exclude_domains: list[str] = Field(default_factory=list, description="Drop results on these domains (and subdomains).")
    cache: bool = Field(True, description="Cache results by (provider, normalized query, options).")
    cache_ttl_s: float | None = Field(86_400.0, gt=0, description="Search cache lifetime; None keeps entries forever.")
    fallback_on_empty: bool = Field(
        True, description="When a provider finds nothing, ask the next one; an empty answer is never cached."
    )
    max_attempts_per_provider: int = Field(3, ge=1, le=10, description="Tries on one provider before falling back to the next.")
    queue_order: QueueOrder = Field(DEFAULT_QUEUE_ORDER, description="Order of searches waiting for a provider's concurrency "
                                    "slot: 'priority' (older cell first) or 'fifo'.")
    backoff_base_s: float = Field(0.5, ge=0, le=60, description="First retry waits up to this long (full jitter, doubling).")
    backoff_max_s: float = Field(8.0, ge=0, le=600, description="Longest wait between two tries without a Retry-After.")
    max_retry_after_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="Longest Retry-After honoured; a provider asking for more is skipped for this request (next provider).",
    )
