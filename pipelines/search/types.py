"""What the pipeline hands the search gateway and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SearchRequest", "SearchHit"]


@dataclass(frozen=True)
class SearchRequest:
    query: str
    count: int = 10
    language: str | None = None
    region: str | None = None
    time_range: str | None = None  # day | week | month | year
    include_domains: tuple[str, ...] = ()
    exclude_domains: tuple[str, ...] = ()
    # telemetry context
    job_id: str = ""
    row_key: str = ""
    column: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    url: str  # as returned by the provider (normalized later by pipelines.urls)
    title: str
    snippet: str
    rank: int  # 1-based, in the provider's order
    provider: str
    score: float | None = None
