"""The search cache: results by (provider, normalized query, options), with a time to live.

Entries live in one SQLite file under the cache folder, so they survive a
gateway restart and a new job; without a folder the cache is in memory only.
The key is a SHA-256 of the canonical JSON of everything that changes the
answer: the provider (name, kind, endpoint, options, site operators), the
normalized query, the count, language, region, time range and domain lists.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from dataclasses import asdict

from pipelines import cache_db
from pipelines.search.config import SearchProviderConfig
from pipelines.search.types import SearchHit, SearchRequest

__all__ = ["SearchCache", "cache_key", "normalize_query", "CACHE_FILE"]

CACHE_FILE = "search-cache.sqlite3"

log = logging.getLogger(__name__)


def normalize_query(query: str) -> str:
    """Case and whitespace do not change what a search engine answers."""
    return " ".join(query.split()).casefold()


def cache_key(provider: SearchProviderConfig, req: SearchRequest) -> str:
    canonical = {
        "provider": provider.name,
        "kind": provider.kind,
        "base_url": (provider.base_url or "").rstrip("/"),
        "options": provider.options,
        "site_operators": provider.site_operators,
        "query": normalize_query(req.query),
        "count": req.count,
        "language": req.language,
        "region": req.region,
        "time_range": req.time_range,
        "include": sorted(req.include_domains),
        "exclude": sorted(req.exclude_domains),
    }
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class SearchCache:
    """get/put of hit lists; an expired entry is a miss. Safe to share one file between processes."""

    def __init__(self, cache_dir: str | None, ttl_s: float | None) -> None:
        self.ttl_s = ttl_s
        self.path = os.path.join(cache_dir, CACHE_FILE) if cache_dir else None
        self._memory: dict[str, tuple[float, str]] = {}
        self._db: sqlite3.Connection | None = None
        if self.path:
            try:
                self._db = self._open(str(cache_dir))
            except (OSError, sqlite3.Error) as err:  # an unusable folder costs the cache, not the job
                log.warning("search cache at %s unusable (%s); caching in memory only", self.path, err)
                self._db = None

    def _open(self, cache_dir: str) -> sqlite3.Connection:
        os.makedirs(cache_dir, exist_ok=True)
        db = cache_db.connect(os.path.join(cache_dir, CACHE_FILE), timeout_s=10)
        db.execute(
            "CREATE TABLE IF NOT EXISTS search_cache ("
            "key TEXT PRIMARY KEY, provider TEXT, query TEXT, created_at REAL, hits_json TEXT)"
        )
        if self.ttl_s is not None:
            db.execute("DELETE FROM search_cache WHERE created_at < ?", (time.time() - self.ttl_s,))
        return db

    def get(self, key: str) -> list[SearchHit] | None:
        if self._db is not None:
            row = self._db.execute("SELECT created_at, hits_json FROM search_cache WHERE key = ?", (key,)).fetchone()
        else:
            row = self._memory.get(key)
        if row is None:
            return None
        created_at, hits_json = row
        if self.ttl_s is not None and time.time() - created_at > self.ttl_s:
            return None
        try:
            return [SearchHit(**hit) for hit in json.loads(hits_json)]
        except (ValueError, TypeError):
            return None  # an entry from an older layout is a miss, not a crash

    def put(self, key: str, provider: str, query: str, hits: list[SearchHit]) -> None:
        entry = (time.time(), json.dumps([asdict(hit) for hit in hits]))
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO search_cache (key, provider, query, created_at, hits_json) VALUES (?, ?, ?, ?, ?)",
                (key, provider, query, *entry),
            )
        else:
            self._memory[key] = entry

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
