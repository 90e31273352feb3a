"""Fetching pages: address guard, robots.txt, politeness, caps, page store.

Public surface: ``PageFetcher`` (plain asyncio, one per fetcher actor),
``FetchResult``, ``AddressGuard``, ``PageStore``, ``shard_index`` / ``domain_of``.
"""

from pipelines.fetch.domains import domain_of, shard_index
from pipelines.fetch.fetcher import PageFetcher
from pipelines.fetch.guard import AddressGuard, address_problem
from pipelines.fetch.page_store import PageStore
from pipelines.fetch.result import FetchResult, reason_slug

__all__ = [
    "PageFetcher",
    "FetchResult",
    "AddressGuard",
    "address_problem",
    "PageStore",
    "domain_of",
    "shard_index",
    "reason_slug",
]
