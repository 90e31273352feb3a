"""Map transport exceptions (aiohttp, asyncio, OS) to a page status and a reason.

The fetcher never lets these escape; they become ``FetchResult(status, reason)``.
Messages are kept short and free of URLs' query strings, headers or bodies.
"""

from __future__ import annotations

import asyncio

import aiohttp

from pipelines.errors import exception_chain
from pipelines.fetch.resolver import BlockedAddressError

__all__ = ["classify_exception"]


def _short(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def classify_exception(exc: BaseException) -> tuple[str, str]:
    """(status, reason) for an exception raised while fetching."""
    for cur in exception_chain(exc):
        if isinstance(cur, BlockedAddressError):
            return "blocked", cur.reason
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "failed", "timeout: connect"
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return "failed", "timeout"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "failed", f"dns_error: {exc.host}"
    if isinstance(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        return "failed", f"tls_error: {_short(exc)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "failed", f"connect_error: {exc.host}:{exc.port} {type(exc.os_error).__name__}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "failed", "disconnected"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "failed", f"bad_body: {_short(exc)}"
    if isinstance(exc, aiohttp.InvalidURL):
        return "failed", f"invalid_url: {_short(exc)}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "failed", f"bad_response: {_short(exc)}"
    if isinstance(exc, aiohttp.ClientError):
        return "failed", f"client_error: {type(exc).__name__}: {_short(exc)}"
    if isinstance(exc, (ConnectionError, OSError)):
        return "failed", f"connect_error: {type(exc).__name__}"
    return "failed", f"error: {type(exc).__name__}: {_short(exc)}"
