"""Page store: bodies of successful fetches kept on disk across jobs.

Layout: ``<dir>/<sha[:2]>/<sha>.page`` where ``sha`` is the SHA-256 of the
normalized URL. A file is gzip of one JSON header line (url, final_url,
http_status, content_type, charset, fetched_at, bytes, private_hosts) followed by
the body. ``private_hosts`` lists the hops that only an allow-list let through,
so a later job that does not allow them cannot read the page from the store.

Writes go to a temporary file in the same folder and are renamed into place,
so two processes storing the same URL at once both succeed and a reader never
sees half a file. Entries older than the TTL (by ``fetched_at``) are ignored
and overwritten by the next successful fetch. Corrupt entries read as misses.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["PageStore", "StoredPage", "may_exist", "write_gzip_atomically"]

_MAX_HEADER = 64_000


@dataclass
class StoredPage:
    url: str
    final_url: str
    http_status: int | None
    content_type: str | None
    charset: str | None
    fetched_at: datetime
    body: bytes
    # (host, port) hops that were private addresses reached only because that job allowed them;
    # a job that does not allow them treats the entry as a miss (and its own guard then refuses the fetch)
    private_hosts: list[tuple[str, int | None]] = field(default_factory=list)
    encoding_source: str | None = None  # how ``charset`` was chosen (pipelines.fetch.decode)
    canonical_url: str | None = None


class PageStore:
    """``get(url)`` / ``put(page)``; never raises for I/O problems (a cache miss is always acceptable)."""

    def __init__(self, root: str | os.PathLike[str], *, ttl_s: float | None = 7 * 86_400.0, compresslevel: int = 5) -> None:
        self.root = Path(root)
        self.ttl_s = ttl_s
        self._level = compresslevel

    def path_for(self, url: str) -> Path:
        sha = hashlib.sha256(url.encode("utf-8")).hexdigest()
        return self.root / sha[:2] / f"{sha}.page"

    def has(self, url: str) -> bool:
        """Whether a page is stored for ``url`` (one stat: cheap enough for the event loop; ``get`` reads it)."""
        return may_exist(self.path_for(url))

    def get(self, url: str, *, now: datetime | None = None) -> StoredPage | None:
        path = self.path_for(url)
        try:
            with gzip.open(path, "rb") as fh:
                header = json.loads(fh.readline(_MAX_HEADER))
                body = fh.read()
        except (OSError, EOFError, ValueError, gzip.BadGzipFile):
            return None
        try:
            fetched_at = datetime.fromisoformat(header["fetched_at"])
            if header["url"] != url or len(body) != header["bytes"]:
                return None  # SHA-256 collision (no) or a truncated file (possible on a full disk)
        except (KeyError, TypeError, ValueError):
            return None
        if self.ttl_s is not None:
            age = ((now or datetime.now(timezone.utc)) - fetched_at).total_seconds()
            if age > self.ttl_s:
                return None
        return StoredPage(
            url=url,
            final_url=header.get("final_url") or url,
            http_status=header.get("http_status"),
            content_type=header.get("content_type"),
            charset=header.get("charset"),
            fetched_at=fetched_at,
            body=body,
            private_hosts=[(str(h), p) for h, p in header.get("private_hosts", [])],
            encoding_source=header.get("encoding_source"),
            canonical_url=header.get("canonical_url"),
        )

    def put(self, page: StoredPage) -> bool:
        """Store ``page``; returns False (and leaves no temp file) if the disk said no."""
        path = self.path_for(page.url)
        header = {
            "url": page.url,
            "final_url": page.final_url,
            "http_status": page.http_status,
            "content_type": page.content_type,
            "charset": page.charset,
            "fetched_at": page.fetched_at.astimezone(timezone.utc).isoformat(),
            "bytes": len(page.body),
            "private_hosts": [list(hp) for hp in page.private_hosts],
            "encoding_source": page.encoding_source,
            "canonical_url": page.canonical_url,
        }
        return write_gzip_atomically(path, [json.dumps(header).encode("utf-8") + b"\n", page.body], self._level)


def may_exist(path: Path) -> bool:
    """Whether a store file is there, by one stat; True when the stat itself fails (e.g. no permission), so that
    reading it is tried and reports the miss it is."""
    try:
        return path.is_file()
    except OSError:
        return True


def write_gzip_atomically(path: Path, parts: list[bytes], compresslevel: int = 5) -> bool:
    """Gzip ``parts`` into ``path`` through a temporary file in the same folder and a rename.

    Two processes writing one path both succeed and a reader never sees half
    a file. Returns False, leaving no temporary file, if the disk said no.
    """
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=compresslevel, mtime=0) as fh:
            for part in parts:
                fh.write(part)
        os.replace(tmp_name, path)
        return True
    except OSError:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
        return False
