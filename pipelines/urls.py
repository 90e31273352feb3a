"""URL hygiene between search and fetch: normalize, deduplicate, filter by domain, cap.

``normalize_url`` gives every page one spelling, so the same page found by two
keywords (or two cells) is fetched once: scheme and host lowercased, default
ports, fragments, credentials and tracking parameters dropped, the remaining
query parameters sorted. ``select_urls`` turns one cell's search results into
the list of pages to fetch and says, for every hit, whether it was kept and why
not.

``registrable_domain`` needs no network: instead of downloading the Public
Suffix List (tldextract fetches it at runtime unless told otherwise) it knows
the common multi-label public suffixes (``co.uk``, ``com.au``...) and a few
hosting suffixes (``github.io``...). Reserved names such as ``.example``,
``.test`` and ``.localhost`` and IP addresses work like any other host.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from pipelines.search.types import SearchHit

__all__ = [
    "normalize_url",
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

# Public suffixes made of two labels (the PSL has thousands; these cover most of the web).
_MULTI_LABEL_SUFFIXES = frozenset(
    f"{second}.{tld}"
    for tld, seconds in {
        "uk": "co org ac gov ltd plc me net nhs police sch",
        "au": "com net org edu gov asn id",
        "nz": "co org net ac govt geek school",
        "jp": "co ne or ac go ed gr lg",
        "kr": "co or ne ac go re",
        "in": "co net org firm gen ind ac edu res gov",
        "za": "co org net ac gov edu web",
        "br": "com net org gov edu art blog",
        "mx": "com org gob edu net",
        "ar": "com org gob edu net",
        "cn": "com net org gov edu ac",
        "hk": "com org net edu gov idv",
        "tw": "com org net edu gov idv",
        "sg": "com org net edu gov per",
        "my": "com org net edu gov",
        "id": "co or ac go web net",
        "th": "co or ac go in net",
        "tr": "com org net edu gov biz gen",
        "il": "co org net ac gov muni",
        "ua": "com org net edu gov in",
        "ru": "com org net msk spb",
        "pl": "com org net edu gov biz info waw",
        "es": "com org nom edu gob",
        "it": "gov edu",
        "fr": "gouv asso com tm nom",
        "be": "ac",
        "at": "co or ac gv",
        "ch": "gov",
        "de": "com",
        "eg": "com org gov edu",
        "ng": "com org gov edu",
        "ke": "co or go ac",
        "pk": "com org net edu gov",
        "ph": "com org net edu gov",
        "vn": "com org net edu gov",
        "sa": "com org net edu gov",
        "ae": "co org net ac gov",
        "pe": "com org gob edu",
        "co": "com org net edu gov",
        "cl": "gob",
        "ve": "com org gob",
        "io": "github gitlab",
        "com": "blogspot herokuapp appspot azurewebsites cloudfunctions",
        "net": "cloudfront azureedge netlify",
        "app": "vercel web",
        "dev": "pages",
    }.items()
    for second in seconds.split()
)


def normalize_url(url: str) -> str | None:
    """One spelling per page, or None for anything that is not a usable http(s) URL."""
    if not isinstance(url, str):
        return None
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


def host_of(url: str) -> str:
    """The URL's host, lowercased, without port or trailing dot; '' when there is none."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except (ValueError, AttributeError):
        return ""
    return host.rstrip(".").lower()


def registrable_domain(host: str) -> str:
    """The part of a host a registrant controls: 'news.bbc.co.uk' -> 'bbc.co.uk', 'a.acme.example' -> 'acme.example'."""
    host = (host or "").strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    labels = [label for label in host.split(".") if label]
    if len(labels) <= 2:
        return ".".join(labels)
    keep = 3 if ".".join(labels[-2:]) in _MULTI_LABEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


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
    url: str | None  # normalized; None when the provider's URL is unusable
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
    normalized URL is kept, later ones are duplicates; at most ``cap`` URLs are
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
            url = normalize_url(hit.url)
            reason = _rejection(url, seen, include, exclude, len(selected) >= cap)
            if reason is None and url is not None:
                seen.add(url)
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
