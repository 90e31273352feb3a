"""Response cache: SQLite under the cache folder, keyed by the request hash.

SQLite (stdlib) rather than one file per entry: each write is an atomic,
durable transaction, so a gateway actor killed mid-write leaves either the
whole entry or nothing, and several gateways (jobs, nodes sharing a folder)
can read and write the same cache at once (WAL mode, busy timeout).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass

from pipelines import cache_db

__all__ = ["CachedReply", "ResponseCache", "CACHE_FILE"]

CACHE_FILE = "llm-cache.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    request_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    request_model TEXT NOT NULL,
    response_model TEXT NOT NULL,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    created_at REAL NOT NULL,
    meta TEXT
)
"""


@dataclass(frozen=True)
class CachedReply:
    request_hash: str
    provider: str
    request_model: str
    response_model: str
    text: str
    input_tokens: int  # what the original call cost; a hit costs nothing
    output_tokens: int
    created_at: float


class ResponseCache:
    """Persistent map request_hash -> reply, with an optional TTL."""

    def __init__(self, directory: str | None, ttl_s: float | None = None):
        # No folder: an in-memory cache that still merges and deduplicates within this process.
        if directory:
            os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, CACHE_FILE) if directory else ":memory:"
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = cache_db.connect(self.path, timeout_s=30.0)
        self._db.execute(_SCHEMA)

    def get(self, request_hash: str) -> CachedReply | None:
        """The cached reply, or ``None`` (not cached, expired, or the cache is closed)."""
        with self._lock:
            if self._db is None:
                return None
            row = self._db.execute(
                "SELECT request_hash, provider, request_model, response_model, text, input_tokens, output_tokens, created_at "
                "FROM responses WHERE request_hash = ?",
                (request_hash,),
            ).fetchone()
        if row is None:
            return None
        entry = CachedReply(*row)
        if self.ttl_s is not None and time.time() - entry.created_at > self.ttl_s:
            return None
        return entry

    def put(self, entry: CachedReply, meta: dict | None = None) -> None:
        """Keep ``entry`` (a closed cache keeps nothing)."""
        with self._lock:
            if self._db is None:
                return
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.request_hash,
                    entry.provider,
                    entry.request_model,
                    entry.response_model,
                    entry.text,
                    entry.input_tokens,
                    entry.output_tokens,
                    entry.created_at,
                    json.dumps(meta or {}),
                ),
            )

    def __len__(self) -> int:
        with self._lock:
            if self._db is None:
                return 0
            return self._db.execute("SELECT count(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
