"""Results of ``kind: python`` functions, cached by function, version and inputs.

SQLite (stdlib) under the output's cache folder, like the LLM and search
caches: an atomic write per entry, shared by jobs that use the same folder.
The key is a SHA-256 of ``[target, version, inputs]``, so a new version of
the function (see ``pipelines.tasks.python_kind``) never reads an old value.
Only successful calls are kept; a column with ``cache: false`` (a function
with side effects, or one that reads a changing source) is never looked up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time

from pipelines import cache_db

__all__ = ["PythonResultCache", "CACHE_FILE", "MISS", "cache_key"]

logger = logging.getLogger(__name__)

CACHE_FILE = "python-cache.sqlite3"
MISS = object()  # a cached None is an answer ("no answer"), not a miss


def cache_key(target: str, version: str, kwargs: dict[str, str]) -> str:
    payload = json.dumps([target, version, sorted(kwargs.items())], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class PythonResultCache:
    """Persistent map (target, version, inputs) -> the function's JSON value; in memory when no folder is given."""

    def __init__(self, directory: str | None) -> None:
        self._lock = threading.Lock()
        self._memory: dict[str, str] = {}
        self._db: sqlite3.Connection | None = None
        if directory:
            try:
                os.makedirs(directory, exist_ok=True)
                self._db = cache_db.connect(os.path.join(directory, CACHE_FILE), timeout_s=10)
                self._db.execute("CREATE TABLE IF NOT EXISTS python_results (key TEXT PRIMARY KEY, target TEXT, "
                                 "version TEXT, value_json TEXT, created_at REAL)")
            except (OSError, sqlite3.Error) as err:  # an unusable folder costs the cache, not the job
                logger.warning("python result cache in %s unusable (%s); caching in memory only", directory, err)
                self._db = None

    def get(self, target: str, version: str, kwargs: dict[str, str]):
        """The cached value, or ``MISS``."""
        key = cache_key(target, version, kwargs)
        with self._lock:
            if self._db is None:
                raw = self._memory.get(key)
            else:
                row = self._db.execute("SELECT value_json FROM python_results WHERE key = ?", (key,)).fetchone()
                raw = row[0] if row else None
        return MISS if raw is None else json.loads(raw)

    def put(self, target: str, version: str, kwargs: dict[str, str], value) -> None:
        key, raw = cache_key(target, version, kwargs), json.dumps(value, ensure_ascii=False)
        with self._lock:
            if self._db is None:
                self._memory[key] = raw
            else:
                self._db.execute("INSERT OR REPLACE INTO python_results VALUES (?, ?, ?, ?, ?)",
                                 (key, target, version, raw, time.time()))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
