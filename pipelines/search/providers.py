"""Pick the adapter for a provider config."""

from __future__ import annotations

from pipelines.search.adapter import SearchAdapter
from pipelines.search.config import SearchProviderConfig

__all__ = ["make_adapter", "ADAPTERS"]


def _adapters() -> dict[str, type[SearchAdapter]]:
    from pipelines.search.brave import BraveAdapter
    from pipelines.search.searxng import SearxngAdapter
    from pipelines.search.serper import SerperAdapter
    from pipelines.search.tavily import TavilyAdapter

    return {a.kind: a for a in (SearxngAdapter, BraveAdapter, TavilyAdapter, SerperAdapter)}


ADAPTERS = _adapters()


def make_adapter(config: SearchProviderConfig) -> SearchAdapter:
    return ADAPTERS[config.kind](config)
