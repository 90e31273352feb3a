"""FetchResult: the outcome of fetching one URL, one row of the ``pages`` table minus extraction.

Page statuses (``pipelines.store.schemas.PAGE_STATUSES``):

- ``ok``       a text/html, application/xhtml+xml, text/plain or PDF body within the caps; ``body`` is set
               (a PDF is ``application/pdf`` by its Content-Type or its ``%PDF-`` magic)
- ``skipped``  fetched but not usable: ``too_large``, ``content_type: ...``, ``binary_body``, ``empty_body``
- ``failed``   could not get it: ``http_404``, ``timeout``, ``connect_error: ...``, ``redirect_loop``,
               ``too_many_redirects``, ``robots_unreachable: ...``...
- ``blocked``  we refused: ``robots_disallowed``, ``blocked_address: ...``, ``blocked_scheme: ...``

``reason`` is ``"<slug>"`` or ``"<slug>: <detail>"``; ``reason_slug`` gives the slug.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from pipelines.errors import BadRequestError, BlockedError, ContentError, PermanentError, RateLimitedError, TimeoutError_, TrawlError, UnavailableError

__all__ = ["FetchResult", "reason_slug", "utc_now"]

_TRANSIENT = frozenset({"connect_error", "dns_error", "disconnected", "robots_unreachable", "bad_body", "tls_error", "error"})


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def reason_slug(reason: str | None) -> str | None:
    """'blocked_address: 10.0.0.5 (private)' -> 'blocked_address'."""
    if reason is None:
        return None
    return reason.split(":", 1)[0].strip()


@dataclass
class FetchResult:
    url: str  # the URL asked for, byte for byte (pipelines.urls.fetch_url)
    final_url: str  # after redirects
    status: str  # "ok" | "skipped" | "failed" | "blocked"
    reason: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    charset: str | None = None  # the encoding the body is decoded with (Python codec name, e.g. 'cp1252')
    encoding_source: str | None = None  # how it was chosen: bom | http | meta | detected[_over_http|_over_meta] | default
    canonical_url: str | None = None  # <link rel=canonical href>, absolute
    body: bytes | None = None  # only for status "ok"
    bytes: int = 0  # body bytes received (decompressed), also for skipped pages
    fetch_ms: float = 0.0  # wall time of fetch(), politeness waits included
    from_page_store: bool = False
    fetched_at: datetime = field(default_factory=utc_now)
    fetcher: str = ""
    # (host, port) hops that were private addresses reached only because the job allowed them
    private_hosts: list[tuple[str, int | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def reason_slug(self) -> str | None:
        return reason_slug(self.reason)

    def page_record(self, job_id: str) -> dict:
        """The fetch half of a ``pages`` row (extraction adds title, text, chunks, node_id)."""
        return {
            "job_id": job_id,
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "reason": self.reason,
            "http_status": self.http_status,
            "content_type": self.content_type,
            "encoding": self.charset,
            "encoding_source": self.encoding_source,
            "canonical_url": self.canonical_url,
            "bytes": self.bytes,
            "fetch_ms": self.fetch_ms,
            "from_page_store": self.from_page_store,
            "fetched_at": self.fetched_at,
            "fetcher": self.fetcher,
        }

    def to_error(self) -> TrawlError | None:
        """The outcome as one of trawl's error types (None when ok): retryable vs permanent, with the reason slug."""
        if self.status == "ok":
            return None
        slug = self.reason_slug or self.status
        message = f"{self.url}: {self.reason or self.status}"
        if self.status == "blocked":
            return BlockedError(message, reason=slug)
        if self.status == "skipped":
            return ContentError(message, reason=slug)
        if slug == "timeout":
            return TimeoutError_(message, reason=slug)
        if slug == "http_429":
            return RateLimitedError(message, reason=slug)
        if slug.startswith("http_5") or slug in _TRANSIENT:
            return UnavailableError(message, reason=slug)
        if slug.startswith("http_4"):
            return BadRequestError(message, reason=slug)
        return PermanentError(message, reason=slug)

    def without_body(self) -> FetchResult:
        """A copy safe to send to the driver: same metadata, no body."""
        return FetchResult(**{**self.__dict__, "body": None})
