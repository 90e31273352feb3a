"""URL hygiene between search and fetch: normalize, deduplicate, filter by domain, cap.

``normalize_url`` gives every page one spelling, so the same page found by two
keywords (or two cells) is fetched once: scheme and host lowercased, default
ports, fragments, credentials and tracking parameters dropped, the remaining
query parameters sorted. ``select_urls`` turns one cell's search results into
the list of pages to fetch and says, for every hit, whether it was kept and why
not.

``normalize_url`` is only the deduplication key. The URL that is fetched
(``fetch_url``) is the one the search result gave, with only its tracking
parameters taken out: every other byte of the query (``%2B``, ``%2F``,
``%26``, ``%3D``, non-UTF-8 escapes such as Latin-1 ``%FC``) and the order of
the parameters stay as they were, because the server reads exactly those
bytes (``a%2Bb`` is "a+b", ``a+b`` is "a b"). Characters a URL may not
contain (spaces, raw non-ASCII) are percent-encoded as browsers do (w3lib's
``safe_url_string``, after the WHATWG URL Standard).

``registrable_domain`` uses the whole Public Suffix List
(https://publicsuffix.org/list/) as bundled in the ``publicsuffixlist``
package: no network at run time, private suffixes such as ``github.io``
included. Names under a TLD the list does not know (``.example``, ``.test``,
``.localhost``) are treated as one-label suffixes; IP addresses are their own
domain.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from publicsuffixlist import PublicSuffixList
from w3lib.url import safe_url_string

if TYPE_CHECKING:
    from pipelines.search.types import SearchHit

__all__ = [
    "normalize_url",
    "fetch_url",
    "host_of",
    "registrable_domain",
    "domain_matches",
    "SelectedHit",
    "select_urls",
    "TRACKING_PARAMS",
]

# Exact names of query parameters that identify a campaign or a click, never a page.
TRACKING_PARAMS = frozenset(
    {
        "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "yclid", "twclid", "ttclid",
        "li_fat_id", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp", "hsctatrack",
        "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "_ga", "_gl", "_openstat", "srsltid",
        "spm", "scid", "ref_src", "ref_url",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_PCT = re.compile(r"%[0-9a-fA-F]{2}")
# Characters left as they are in paths and query values (RFC 3986 unreserved + sub-delims + ':' '@' '%').
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "%:@!$'()*+,;/?-._~"

def normalize_url(url: str) -> str | None:
    """One spelling per page, or None for anything that is not a usable http(s) URL."""
    if not isinstance(url, str):
        return None
    return _normalize_url(url)


# The URL functions below are pure and see the same URLs again and again (a site's pages are found by
# many cells): cached, they were ~5 % of a research worker's CPU less (py-spy, benchmarks/scale.py). 8,192
# entries each: a few MB per process, where 65,536 long URLs could hold tens.
@lru_cache(maxsize=8_192)
def _normalize_url(url: str) -> str | None:
    url = url.strip()
    if not url or any(c in url for c in "\r\n\t"):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    host = _normalize_host(parts.hostname or "")
    if host is None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = _normalize_path(parts.path)
    query = _normalize_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def _normalize_host(host: str) -> str | None:
    host = host.strip().rstrip(".").lower()
    if not host:
        return None
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = host.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        return None
    return host


def _normalize_path(path: str) -> str:
    segments = path.split("/") if path.startswith("/") else ["", *path.split("/")]
    kept: list[str] = []
    for segment in segments[1:]:
        if segment == ".":
            continue
        if segment == "..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    if segments[-1] in (".", ".."):
        kept.append("")  # '/a/b/..' names the directory '/a/'
    path = "/" + "/".join(kept)
    return _PCT.sub(lambda m: m.group(0).upper(), quote(path, safe=_PATH_SAFE))


def _normalize_query(query: str) -> str:
    if not query:
        return ""
    pairs = [
        (key, value)
        for key, value in parse_qsl(query, keep_blank_values=True)
        if key and key.lower() not in TRACKING_PARAMS and not key.lower().startswith(_TRACKING_PREFIXES)
    ]
    pairs.sort(key=lambda pair: pair[0])  # stable: repeated keys keep their order
    return urlencode(pairs, quote_via=quote, safe=_QUERY_SAFE.replace("%", ""))


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key in TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES)


@lru_cache(maxsize=8_192)
def fetch_url(url: str) -> str | None:
    """The URL to request for a search result: as given, minus tracking parameters and the fragment.

    Percent-encoded bytes and parameter order are kept; unsafe characters are
    percent-encoded (w3lib ``safe_url_string``). None for anything
    ``normalize_url`` rejects. Send it with ``yarl.URL(u, encoded=True)`` so
    the client does not re-encode it.
    """
    if normalize_url(url) is None:
        return None
    try:
        safe = safe_url_string(url.strip())
        parts = urlsplit(safe)
    except (ValueError, UnicodeError):
        return None
    kept = [pair for pair in parts.query.split("&") if pair and not _is_tracking(unquote(pair.split("=", 1)[0]))]
    query = "&".join(kept) if kept or not parts.query else ""
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, query, ""))


def host_of(url: str) -> str:
    """The URL's host, lowercased, without port or trailing dot; '' when there is none."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except (ValueError, AttributeError):
        return ""
    return host.rstrip(".").lower()


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the snapshot bundled with the package; never downloads


def warm_up() -> None:
    """Parse the Public Suffix List now, once per process.

    Parsing it is pure Python, ~65 ms on a quiet core and over 100 ms on a busy one; the first
    ``registrable_domain`` call pays it otherwise, on the event loop of a fetcher or research
    worker, while that loop holds a row's first pages (measured with benchmarks/critical_path.py).
    """
    _psl()


@lru_cache(maxsize=8_192)
def registrable_domain(host: str) -> str:
    """The part of a host a registrant controls, by the Public Suffix List.

    'news.bbc.co.uk' -> 'bbc.co.uk', 'a.acme.example' -> 'acme.example',
    'foo.github.io' -> 'foo.github.io'; a host that is itself a public suffix
    ('co.uk', 'localhost') is returned as it is.
    """
    host = (host or "").strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    labels = [label for label in host.split(".") if label]
    host = ".".join(labels)
    if len(labels) <= 1:
        return host
    return _psl().privatesuffix(host) or host


def _pattern_host(pattern: str) -> str:
    pattern = pattern.strip().lower()
    if "://" in pattern:
        pattern = host_of(pattern)
    pattern = pattern.split("/", 1)[0]
    for prefix in ("*.", "."):
        if pattern.startswith(prefix):
            pattern = pattern[len(prefix):]
    return pattern.rstrip(".")


def domain_matches(host: str, patterns: list[str] | tuple[str, ...]) -> bool:
    """True if host is one of the patterns or a subdomain of one ('example.com' matches 'www.example.com')."""
    host = (host or "").strip().rstrip(".").lower()
    if not host:
        return False
    for pattern in patterns:
        pattern = _pattern_host(pattern)
        if pattern and (host == pattern or host.endswith("." + pattern)):
            return True
    return False


@dataclass(frozen=True)
class SelectedHit:
    """What became of one search hit in one cell: kept for fetching, or why not."""

    keyword_index: int  # which keyword's result list the hit came from
    position: int  # 0-based position in that list
    hit: SearchHit
    url: str | None  # the URL fetched (``fetch_url``: as given, tracking removed); None when unusable
    selected: bool
    reason: str | None = None  # invalid_url | excluded_domain | not_included | duplicate | over_cap


def select_urls(
    hits_by_keyword: list[list[SearchHit]],
    *,
    include: list[str] | tuple[str, ...] = (),
    exclude: list[str] | tuple[str, ...] = (),
    cap: int,
) -> tuple[list[str], list[SelectedHit]]:
    """Pick the pages one cell fetches.

    Hits are visited round-robin by position (every keyword's 1st hit, then
    every keyword's 2nd...), so each keyword's best results get in before any
    keyword's 8th. Exclusions win over inclusions; the first sighting of a
    normalized URL is kept (as ``fetch_url`` spells it), later ones are duplicates; at most ``cap`` URLs are
    selected. Returns the selected URLs in that order, and one ``SelectedHit``
    per input hit, ordered by keyword then position (as given).
    """
    verdicts: dict[tuple[int, int], SelectedHit] = {}
    selected: list[str] = []
    seen: set[str] = set()
    depth = max((len(hits) for hits in hits_by_keyword), default=0)
    for position in range(depth):
        for keyword_index, hits in enumerate(hits_by_keyword):
            if position >= len(hits):
                continue
            hit = hits[position]
            key, url = normalize_url(hit.url), fetch_url(hit.url)
            reason = _rejection(key if url else None, seen, include, exclude, len(selected) >= cap)
            if reason is None and key is not None and url is not None:  # _rejection refuses a missing URL
                seen.add(key)
                selected.append(url)
            verdicts[(keyword_index, position)] = SelectedHit(
                keyword_index, position, hit, url, reason is None, reason
            )
    ordered = [verdicts[key] for key in sorted(verdicts)]
    return selected, ordered


def _rejection(url, seen, include, exclude, full) -> str | None:
    if url is None:
        return "invalid_url"
    host = host_of(url)
    if exclude and domain_matches(host, exclude):
        return "excluded_domain"
    if include and not domain_matches(host, include):
        return "not_included"
    if url in seen:
        return "duplicate"
    if full:
        return "over_cap"
    return None
