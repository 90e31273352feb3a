"""Extracted pages kept on disk across jobs, next to the page store's bodies.

The page store saves a re-run the fetch; this saves it the extraction too. A
re-run (or another job reading the same pages) gets each page's main text,
chunks and chunk index for ranking (``pipelines.chunk_index``) straight from
here, in the driver, with no fetcher hop, no object store transfer and no
extraction task.

An entry is valid for one extraction: the key is the normalized URL plus the
chunk size plus ``EXTRACT_VERSION`` (trafilatura's version and our extraction
code's), so upgrading either, or changing ``chunk_chars``, reads as a miss.
Entries obey the page store's rules: older than the TTL (by ``fetched_at``)
is a miss, and a page that was reached through private addresses only
because a job allowed them is a miss for a job that does not allow them (it
then goes to a fetcher, whose guard decides).

Layout: ``<dir>/<sha[:2]>/<sha>.json.gz``; writes are atomic renames, a
corrupt or foreign entry reads as a miss, and no I/O error is ever raised.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from pipelines.chunk_index import ChunkIndex
from pipelines.extract import ExtractedPage
from pipelines.fetch.page_store import may_exist, write_gzip_atomically

__all__ = ["ExtractedStore", "EXTRACT_VERSION"]

logger = logging.getLogger(__name__)

# Bump the trawl part whenever extract_page's output for the same body can change
# (3: pages carry their chunk index for ranking; an index built by another bm25s/PyStemmer is dropped on read
# and rebuilt when ranked, see pipelines.chunk_index).
EXTRACT_VERSION = f"trawl-extract-3/trafilatura-{metadata.version('trafilatura')}"


class ExtractedStore:
    def __init__(self, root: str | os.PathLike[str], *, chunk_chars: int, ttl_s: float | None = 7 * 86_400.0) -> None:
        self.root = Path(root)
        self.chunk_chars = chunk_chars
        self.ttl_s = ttl_s

    def path_for(self, url: str) -> Path:
        sha = hashlib.sha256(f"{EXTRACT_VERSION}\x1f{self.chunk_chars}\x1f{url}".encode()).hexdigest()
        return self.root / sha[:2] / f"{sha}.json.gz"

    def has(self, url: str) -> bool:
        """Whether an entry for ``url`` exists (one stat: cheap enough for the event loop; ``get`` reads it)."""
        return may_exist(self.path_for(url))

    def get(self, url: str, *, host_allowed: Callable[[str, int | None], bool], now: datetime | None = None) -> ExtractedPage | None:
        """The stored extraction of ``url``, or None (missing, expired, corrupt, or behind a host this job does not allow)."""
        try:
            with gzip.open(self.path_for(url), "rb") as fh:
                entry = json.loads(fh.read())
            if entry["url"] != url or entry["version"] != EXTRACT_VERSION or entry["chunk_chars"] != self.chunk_chars:
                return None
            fetched_at = datetime.fromisoformat(entry["fetched_at"])
            private = [(str(h), p) for h, p in entry["private_hosts"]]
        except FileNotFoundError:  # not extracted before: the common miss
            return None
        except (OSError, EOFError, ValueError, KeyError, TypeError, gzip.BadGzipFile) as exc:
            logger.debug("extract store entry for %s unreadable, treated as a miss: %r", url, exc)
            return None
        if self.ttl_s is not None and ((now or datetime.now(timezone.utc)) - fetched_at).total_seconds() > self.ttl_s:
            return None
        if not all(host_allowed(h, p) for h, p in private):
            return None
        return ExtractedPage(
            url=url, final_url=entry["final_url"], status="ok", http_status=entry["http_status"],
            content_type=entry["content_type"], bytes=entry["bytes"], from_page_store=True, fetched_at=fetched_at,
            title=entry["title"], text=entry["text"], chunks=list(entry["chunks"]), private_hosts=private,
            chunk_pages=list(entry.get("chunk_pages") or []),
            encoding=entry.get("encoding"), encoding_source=entry.get("encoding_source"), canonical_url=entry.get("canonical_url"),
            chunk_index=ChunkIndex.from_json(entry.get("chunk_index")),
        )

    def put(self, page: ExtractedPage) -> bool:
        """Keep an ``ok`` page's extraction; returns False if there was nothing to keep or the disk said no."""
        if page.status != "ok" or not page.chunks or page.fetched_at is None:
            return False
        entry = {
            "version": EXTRACT_VERSION, "chunk_chars": self.chunk_chars, "url": page.url, "final_url": page.final_url,
            "http_status": page.http_status, "content_type": page.content_type, "bytes": page.bytes,
            "fetched_at": page.fetched_at.astimezone(timezone.utc).isoformat(), "title": page.title, "text": page.text,
            "chunks": page.chunks, "chunk_pages": page.chunk_pages, "private_hosts": [list(hp) for hp in page.private_hosts],
            "encoding": page.encoding, "encoding_source": page.encoding_source, "canonical_url": page.canonical_url,
            "chunk_index": page.chunk_index.to_json() if page.chunk_index is not None and page.chunk_index.fits(page.chunks) else None,
        }
        return write_gzip_atomically(self.path_for(page.url), [json.dumps(entry, ensure_ascii=False).encode("utf-8")])
