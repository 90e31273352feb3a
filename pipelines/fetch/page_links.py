"""Links in a page a browser acts on: ``Refresh`` (header and ``<meta http-equiv=refresh>``) and ``rel=canonical``.

A refresh is a redirect a browser follows after ``delay`` seconds; the fetcher
follows it at once, as one more redirect hop (address guard, robots.txt,
``max_redirects``). The value's grammar is the WHATWG "shared declarative
refresh steps" (https://html.spec.whatwg.org/multipage/semantics.html#shared-declarative-refresh-steps):
``5; url=/next``, ``0;URL='/next'``, ``3, /next``. A refresh that names no
URL, or the page itself, reloads the page: that is not a redirect. Refreshes
inside ``<noscript>`` are ignored (a browser with scripts on ignores them too),
as are delays over ``MAX_REFRESH_DELAY_S``: such a page is meant to be read
first (Scrapy's METAREFRESH_MAXDELAY uses the same bound).

``canonical_url`` reads ``<link rel="canonical" href>`` (RFC 6596), resolved
against the page's URL.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urljoin

from w3lib.html import get_base_url, get_meta_refresh

__all__ = ["refresh_target", "meta_refresh_target", "canonical_url", "MAX_REFRESH_DELAY_S"]

logger = logging.getLogger(__name__)

MAX_REFRESH_DELAY_S = 100.0
HEAD_SCAN_CHARS = 65_536  # a refresh or canonical link sits in <head>; no need to scan a whole page

_REFRESH = re.compile(r"""^\s*(?P<delay>[0-9]+(?:\.[0-9.]*)?|\.[0-9.]+)\s*(?:[;,]\s*(?:url\s*=\s*)?(?P<url>.*))?$""", re.I | re.S)
_LINK = re.compile(r"<link\b[^>]*>", re.I)
_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


def refresh_target(value: str | None, base_url: str) -> str | None:
    """The absolute URL a ``Refresh`` value sends to, or None (no URL, a long delay, unparseable)."""
    if not value:
        return None
    match = _REFRESH.match(value)
    if match is None:
        return None
    try:
        delay = float(match.group("delay").rstrip("."))
    except ValueError:
        return None
    target = (match.group("url") or "").strip().strip("'\"").strip()
    if not target or delay > MAX_REFRESH_DELAY_S:
        return None
    return _other_url(urljoin(base_url, target), base_url)


def meta_refresh_target(html: str, base_url: str) -> str | None:
    """The absolute URL a ``<meta http-equiv=refresh>`` in ``html`` sends to, or None."""
    head = html[:HEAD_SCAN_CHARS]
    if "refresh" not in head.lower():
        return None
    try:
        delay, url = get_meta_refresh(head, base_url)
    except Exception:  # noqa: BLE001 - hostile markup: no refresh is the safe reading
        logger.info("unreadable meta refresh on %s", base_url, exc_info=True)
        return None
    if url is None or delay is None or delay > MAX_REFRESH_DELAY_S:
        return None
    return _other_url(url, base_url)


def _other_url(url: str, base_url: str) -> str | None:
    if url.split("#", 1)[0] == base_url.split("#", 1)[0]:
        return None  # a reload, not a redirect
    return url


def canonical_url(html: str, base_url: str) -> str | None:
    """``<link rel=canonical href>`` as an absolute http(s) URL, or None."""
    head = html[:HEAD_SCAN_CHARS]
    if "canonical" not in head.lower():
        return None
    for tag in _LINK.finditer(head):
        attrs = {m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None) for m in _ATTR.finditer(tag.group(0))}
        if "canonical" in attrs.get("rel", "").lower().split() and attrs.get("href", "").strip():
            try:
                url = urljoin(get_base_url(head, base_url), attrs["href"].strip())
            except ValueError:
                return None
            return url if url.startswith(("http://", "https://")) else None
    return None
