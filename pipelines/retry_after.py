"""Retry-After, read one way for fetchers, search providers and LLM providers.

``Retry-After`` is delta-seconds or an HTTP-date (RFC 9110 §10.2.3,
https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3). OpenAI-compatible
servers may also send ``retry-after-ms``, which the openai SDK reads first
(``openai._base_client._parse_retry_after_header``); ``from_headers`` does the
same. Delta-seconds is an integer in the RFC; a decimal is accepted too,
since some servers send one.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from datetime import timezone

__all__ = ["parse_retry_after", "retry_after_from_headers"]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait (>= 0) from a Retry-After value; ``None`` if absent or unreadable.

    ``now``: the current time as epoch seconds, for an HTTP-date (default ``time.time()``).
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retry_after_from_headers(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """``retry-after-ms`` (milliseconds) if present and readable, else ``retry-after``; header names lower-case."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"), now=now)
