"""The politeness and sharding key of a URL: its host's registrable domain.

The registrable domain comes from ``pipelines.urls.registrable_domain`` (the
whole Public Suffix List, bundled, offline), so ``a.foo.co.uk`` and
``b.foo.co.uk`` share a politeness slot and a fetcher shard while
``foo.github.io`` and ``bar.github.io`` do not. IP literals are their own domain.
"""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import urlsplit

from pipelines.fetch.guard import parse_ip
from pipelines.urls import registrable_domain

logger = logging.getLogger(__name__)

__all__ = ["domain_of", "shard_index"]


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
    try:
        return registrable_domain(host)
    except Exception:  # noqa: BLE001 - odd input must not break fetching; the host alone is a safe key
        logger.warning("no registrable domain for %r; using the host", host, exc_info=True)
        return host


def shard_index(url: str, shards: int) -> int:
    """Stable across processes and runs (SHA-256, not ``hash()``): which of ``shards`` fetchers owns ``url``."""
    if shards <= 1:
        return 0
    digest = hashlib.sha256(domain_of(url).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards
