"""The politeness and sharding key of a URL: its host's registrable domain.

Uses ``pipelines.urls.registrable_domain`` when that module exists; until then
(and if it fails on odd input) falls back to the last two labels of the host,
which is right for ``acme.example`` / ``www.acme.com`` and merely coarser for
``foo.co.uk``-style suffixes. IP literals are their own domain.
"""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import urlsplit

from pipelines.fetch.guard import parse_ip

__all__ = ["domain_of", "shard_index"]

logger = logging.getLogger(__name__)

try:  # pragma: no cover - depends on which helper landed first
    from pipelines.urls import registrable_domain as _registrable_domain
except Exception:  # noqa: BLE001 - any import problem means "use the fallback"
    _registrable_domain = None  # type: ignore[assignment]


def _fallback(host: str) -> str:
    labels = [lbl for lbl in host.split(".") if lbl]
    return ".".join(labels[-2:]) if labels else host


def domain_of(url_or_host: str) -> str:
    """Registrable domain of a URL or bare host, lower case; '' if there is no host."""
    if "/" in url_or_host:
        try:
            host = urlsplit(url_or_host).hostname or ""
        except ValueError:
            host = ""
    else:
        host = url_or_host.split(":")[0] if url_or_host.count(":") == 1 else url_or_host
    host = host.strip("[]").lower().rstrip(".")
    if not host:
        return ""
    if parse_ip(host) is not None:
        return host
    if _registrable_domain is not None:
        try:
            found = _registrable_domain(host)
            if found:
                return str(found).lower()
        except Exception as exc:  # noqa: BLE001 - a helper bug must not break fetching
            logger.warning("registrable domain of %r failed, using the fallback: %r", host, exc)
    return _fallback(host)


def shard_index(url: str, shards: int) -> int:
    """Stable across processes and runs (SHA-256, not ``hash()``): which of ``shards`` fetchers owns ``url``."""
    if shards <= 1:
        return 0
    digest = hashlib.sha256(domain_of(url).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards
