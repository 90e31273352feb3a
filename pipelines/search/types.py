"""What the pipeline hands the search gateway and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SearchRequest", "SearchHit"]


@dataclass(frozen=True)
class SearchRequest:
    """One search: ``query`` text, up to ``count`` hits; ``language`` (ISO 639-1, e.g. "en"),
    ``region`` (e.g. "us"), ``time_range`` (day|week|month|year) and the domain filters are
    passed to providers that support them. ``job_id``/``row_key``/``column`` only label the
    ``search_calls`` record; ``extra`` holds provider-specific parameters. The gateway raises a
    ``pipelines.errors.TrawlError`` subclass when every provider failed."""

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
    cell_started: float | None = None  # time.time() when the cell began: orders waiting searches (pipelines.priority)


@dataclass(frozen=True)
class SearchHit:
    """One result: ``url`` as the provider gave it, ``title`` and ``snippet`` text, 1-based ``rank``,
    the ``provider`` name, and the provider's relevance ``score`` when it reports one (scale is the provider's)."""

    url: str  # as returned by the provider (normalized later by pipelines.urls)
    title: str
    snippet: str
    rank: int  # 1-based, in the provider's order
    provider: str
    score: float | None = None
