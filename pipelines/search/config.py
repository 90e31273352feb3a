"""Search provider configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipelines.settings import Strict

__all__ = ["SearchProviderConfig", "SearchSettings"]


class SearchProviderConfig(Strict):
    name: str = Field(..., min_length=1, description="Label used in telemetry.")
    kind: Literal["searxng", "brave", "tavily", "serper"] = Field("searxng", description="Adapter to use.")
    base_url: str | None = Field(None, description="Endpoint; required for searxng, defaults to the documented API for the others.")
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the key. Never the key.")
    rpm: int | None = Field(None, ge=1, description="Requests per minute.")
    timeout_s: float = Field(15.0, gt=0, le=300, description="Per-request timeout.")
    options: dict[str, str | int | float | bool] = Field(default_factory=dict, description="Provider-specific query options.")


class SearchSettings(Strict):
    providers: list[SearchProviderConfig] = Field(default_factory=list, description="Tried in order; later ones are fallbacks.")
    language: str | None = Field(None, description="Result language, e.g. 'en'.")
    region: str | None = Field(None, description="Result region, e.g. 'us'.")
    time_range: Literal["day", "week", "month", "year"] | None = Field(None, description="Only results from this period.")
    include_domains: list[str] = Field(default_factory=list, description="Keep only results on these domains (and subdomains).")
    exclude_domains: list[str] = Field(default_factory=list, description="Drop results on these domains (and subdomains).")
    cache: bool = Field(True, description="Cache results by (provider, normalized query, options).")
    cache_ttl_s: float | None = Field(86_400.0, gt=0, description="Search cache lifetime.")
