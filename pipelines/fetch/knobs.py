"""Fetch knobs not (yet) in ``FetchSettings``, with their defaults in one place.

``knob(settings, name)`` returns the settings field when ``FetchSettings`` has it
and the default below otherwise, so these can move into the settings model
without touching the fetcher.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KNOB_DEFAULTS", "knob"]

KNOB_DEFAULTS: dict[str, Any] = {
    "max_concurrency": 256,  # concurrent fetch() calls one fetcher actor accepts
    "max_connections": 256,  # open connections per fetcher (aiohttp connector limit)
    "max_crawl_delay_s": 30.0,  # cap on a robots.txt Crawl-delay
    "retry_after_max_s": 10.0,  # 429/503 with Retry-After <= this are retried once
    "robots_cache_size": 4096,  # origins whose robots.txt verdict is kept
    "robots_ttl_s": 3600.0,  # lifetime of a robots.txt verdict
    "robots_unreachable_ttl_s": 60.0,  # lifetime of "robots.txt unreachable, disallow all"
    "page_store_ttl_s": 7 * 86_400.0,  # page store entries older than this are refetched
}


def knob(settings: Any, name: str) -> Any:
    """The settings field if the model declares it (None included: for page_store_ttl_s it means "forever")."""
    if hasattr(settings, name):
        return getattr(settings, name)
    return KNOB_DEFAULTS[name]
