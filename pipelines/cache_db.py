"""The SQLite connection behind each of trawl's caches (LLM responses, search results, Python task results)."""

from __future__ import annotations

import sqlite3

__all__ = ["connect"]


def connect(path: str, timeout_s: float) -> sqlite3.Connection:
    """A connection to the cache file ``path`` (or ``":memory:"``): autocommit, usable from any thread.

    WAL, so that several processes (jobs, research workers, nodes sharing a folder) read and write one
    file at once, waiting up to ``timeout_s`` seconds for a lock. ``synchronous=NORMAL``: a commit is not
    fsynced (a checkpoint is). In WAL mode the file is then always consistent and a commit survives an
    application crash; a power loss or an OS crash may roll back the last commits, which a cache can afford
    (https://www.sqlite.org/pragma.html#pragma_synchronous). With the default FULL, every entry fsynced the
    WAL on the caller's thread, the research worker's event loop for the search cache.

    Raises ``sqlite3.Error`` (or ``OSError``) when the file cannot be opened.
    """
    db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db
