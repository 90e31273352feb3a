"""Per-column source policy: a research column's own domains, time range, language and region.

``sources:`` on a column overrides the job's ``search`` settings field by
field; a field left out keeps the job's value. The names are the job's
``search`` settings names (``pipelines.search.config.SearchSettings``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipelines.settings import Strict

__all__ = ["SourcePolicy", "effective_sources"]


class SourcePolicy(Strict):
    include_domains: list[str] | None = Field(None, description="Keep only results on these domains (and subdomains); replaces the job's list.")
    exclude_domains: list[str] | None = Field(None, description="Drop results on these domains (and subdomains); replaces the job's list.")
    time_range: Literal["day", "week", "month", "year"] | None = Field(None, description="Only results from this period.")
    language: str | None = Field(None, description="Result language, e.g. 'de'.")
    region: str | None = Field(None, description="Result region, e.g. 'de'.")


def effective_sources(search, policy: SourcePolicy | None) -> dict:
    """The search settings one column's cells use: the job's ``search`` with the column's policy laid over it.

    Returns ``{include_domains: tuple, exclude_domains: tuple, language, region, time_range}``.
    """
    out = {
        "include_domains": tuple(search.include_domains), "exclude_domains": tuple(search.exclude_domains),
        "language": search.language, "region": search.region, "time_range": search.time_range,
    }
    if policy is not None:
        for name in policy.model_fields_set:
            value = getattr(policy, name)
            out[name] = tuple(value or ()) if name.endswith("_domains") else value
    return out
