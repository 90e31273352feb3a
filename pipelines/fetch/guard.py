"""The address guard: which hosts and IP addresses a fetch may connect to.

Refused unless the host is listed in ``FetchSettings.allow_hosts``:

- loopback (127.0.0.0/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7),
  link-local (169.254/16, fe80::/10) and with it the cloud metadata address
  169.254.169.254, the unspecified address (0.0.0.0, ::), multicast, and every
  other range IANA marks as not globally reachable (CGNAT 100.64/10,
  documentation and benchmarking ranges, reserved space);
- IPv6 addresses that embed one of the above (IPv4-mapped ``::ffff:a.b.c.d``,
  6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``);
- schemes other than http and https.

The guard is consulted twice: once on the URL (scheme, IP literals) before each
redirect hop, and once inside the resolver (``pipelines.fetch.resolver``) on the
addresses a hostname resolves to, so the address that is checked is the address
that is connected to.

Allow patterns: ``host`` (exact), ``*.suffix`` (any subdomain of suffix, not the
suffix itself), each optionally with ``:port`` (``127.0.0.1:8080``,
``[::1]:8080``, ``*.example:80``). A pattern without a port allows every port.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

__all__ = ["AddressGuard", "address_problem", "parse_ip", "HostPattern", "parse_host_pattern", "ALLOWED_SCHEMES"]

ALLOWED_SCHEMES = frozenset({"http", "https"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA = ipaddress.ip_address("169.254.169.254")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class HostPattern:
    """One ``allow_hosts`` / ``resolve`` key: exact host or ``*.suffix``, optional port."""

    host: str  # lower case, no brackets; for wildcards the suffix without "*."
    wildcard: bool
    port: int | None

    def matches(self, host: str, port: int | None = None) -> bool:
        host = _clean_host(host)
        if self.port is not None and port is not None and port != self.port:
            return False
        if self.port is not None and port is None:
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host


def parse_host_pattern(pattern: str) -> HostPattern:
    """Parse 'host', '*.suffix', 'host:port', '[v6]:port'. Raises ValueError on nonsense."""
    text = pattern.strip().lower()
    if not text:
        raise ValueError("empty host pattern")
    port: int | None = None
    if text.startswith("["):  # [v6] or [v6]:port
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unbalanced '[' in host pattern {pattern!r}")
        rest = text[end + 1 :]
        host = text[1:end]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad host pattern {pattern!r}")
            port = _port(rest[1:], pattern)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, pattern)
    else:  # plain host, or a bare IPv6 literal
        host = text
    wildcard = host.startswith("*.")
    if wildcard:
        host = host[2:]
    if not host or "*" in host:
        raise ValueError(f"bad host pattern {pattern!r}: use 'host' or '*.suffix'")
    if not re.fullmatch(r"[a-z0-9._:-]+", host):  # letters, digits, dots, hyphens (and ':' of IPv6): a space is a typo
        raise ValueError(f"bad host pattern {pattern!r}: a host has only letters, digits, '.', '-' (and ':' in IPv6)")
    return HostPattern(host=host.rstrip("."), wildcard=wildcard, port=port)


def _port(text: str, pattern: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in host pattern {pattern!r}")
    return int(text)


def _clean_host(host: str) -> str:
    return host.strip().lower().strip("[]").rstrip(".")


def parse_ip(value: str | IPAddress) -> IPAddress | None:
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    text = _clean_host(value).split("%", 1)[0]  # drop an IPv6 zone id
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def address_problem(ip: str | IPAddress) -> str | None:
    """Why ``ip`` may not be connected to ('loopback', 'private', ...), or None if it is public."""
    addr = parse_ip(ip)
    if addr is None:
        return "not_an_ip"
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded)
    if addr == _METADATA:
        return "metadata"
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link_local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_reserved:
        return "reserved"
    if addr.is_private:
        return "private"
    if not addr.is_global:
        return "not_global"
    return None


class AddressGuard:
    """Decides whether (host, port, ip) may be connected to. Cheap; build one per fetcher."""

    def __init__(self, allow_hosts: list[str] | tuple[str, ...] = ()) -> None:
        self._allow = [parse_host_pattern(p) for p in allow_hosts]

    def host_allowed(self, host: str, port: int | None = None) -> bool:
        """True if the job explicitly allows ``host`` (and ``port``) to be private."""
        return any(p.matches(host, port) for p in self._allow)

    def check_ip(self, host: str, port: int | None, ip: str | IPAddress) -> str | None:
        """None if connecting to ``ip`` for ``host`` is fine, else a reason like 'blocked_address: 10.0.0.5 (private)'."""
        problem = address_problem(ip)
        if problem is None or self.host_allowed(host, port):
            return None
        return f"blocked_address: {parse_ip(ip) or ip} ({problem})"

    def check_url_parts(self, scheme: str, host: str | None, port: int | None) -> str | None:
        """Checks that need no DNS: the scheme, a missing host, and IP-literal hosts."""
        if scheme.lower() not in ALLOWED_SCHEMES:
            return f"blocked_scheme: {scheme or '(none)'}"
        if not host:
            return "invalid_url: no host"
        ip = parse_ip(host)
        if ip is not None:
            return self.check_ip(host, port, ip)
        if _looks_numeric(host):
            # '2130706433', '127.1', '0x7f.1': legacy IPv4 spellings some resolvers map onto addresses.
            return f"blocked_address: {host} (numeric host)"
        return None


def _looks_numeric(host: str) -> bool:
    labels = _clean_host(host).split(".")
    return all(lbl.isdigit() or (lbl.startswith("0x") and len(lbl) > 2) for lbl in labels if lbl)
