"""Reading and judging a response body: size cap, content type, binary sniffing, Retry-After.

The body's encoding is chosen in ``pipelines.fetch.decode``.

The size cap applies to the DECOMPRESSED stream: aiohttp decompresses as it
reads (in bounded steps), and ``read_capped`` stops after ``limit`` bytes, so a
gzip bomb costs at most ``limit`` bytes of memory, however far it would expand.
"""

from __future__ import annotations

import aiohttp

__all__ = [
    "TEXT_TYPES",
    "read_capped",
    "media_type",
    "sniff_problem",
    "looks_like_html",
]

TEXT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})

_BINARY_MAGIC = (
    b"%PDF-",
    b"\x89PNG",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",  # JPEG
    b"PK\x03\x04",  # zip, docx, xlsx
    b"\x1f\x8b",  # gzip inside the body (double compression)
    b"7z\xbc\xaf",
    b"\x7fELF",
    b"RIFF",
    b"\x00\x00\x01\x00",  # ico
)
_SNIFF_BYTES = 8192


async def read_capped(resp: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """Read at most ``limit`` decompressed bytes; returns (body, truncated)."""
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(65_536):
        room = limit - len(buf)
        if len(chunk) > room:
            buf += chunk[: max(room, 0)]
            return bytes(buf), True
        buf += chunk
    return bytes(buf), False


def media_type(header: str | None) -> str | None:
    """'Text/HTML; charset=UTF-8' -> 'text/html'; None when the header is missing or empty."""
    if not header:
        return None
    value = header.split(";", 1)[0].strip().lower()
    return value or None


def looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml")) or b"<html" in head


def sniff_problem(body: bytes, charset: str | None) -> str | None:
    """'binary_body: ...' when a body served as text is obviously binary, else None."""
    head = body[:_SNIFF_BYTES]
    for magic in _BINARY_MAGIC:
        if head.startswith(magic):
            return f"binary_body: starts with {magic[:4]!r}"
    wide = charset is not None and charset.startswith(("utf-16", "utf-32", "utf_16", "utf_32"))
    if not wide and b"\x00" in head:
        return "binary_body: NUL bytes"
    return None
