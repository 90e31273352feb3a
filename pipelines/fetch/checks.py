"""Validate the fetch settings that pydantic types alone cannot: host patterns and IP addresses.

``fetch_settings_problems`` lists every problem with its field path, so a job
spec can report them all at once; it imports nothing heavier than ``ipaddress``
so ``pipelines.settings`` may call it from a validator.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pipelines.fetch.guard import parse_host_pattern, parse_ip

__all__ = ["fetch_settings_problems"]


def fetch_settings_problems(settings: Any, *, prefix: str = "fetch") -> list[str]:
    """['fetch.allow_hosts[1]: bad host pattern ...', ...]; empty when everything is usable."""
    problems: list[str] = []
    for i, pattern in enumerate(getattr(settings, "allow_hosts", None) or []):
        try:
            parse_host_pattern(pattern)
        except ValueError as exc:
            problems.append(f"{prefix}.allow_hosts[{i}]: {exc}")
    for pattern, ip in (getattr(settings, "resolve", None) or {}).items():
        try:
            parsed = parse_host_pattern(pattern)
            if parsed.port is not None:
                problems.append(f"{prefix}.resolve[{pattern!r}]: give a host or '*.suffix' without a port")
        except ValueError as exc:
            problems.append(f"{prefix}.resolve[{pattern!r}]: {exc}")
        if parse_ip(str(ip)) is None:
            problems.append(f"{prefix}.resolve[{pattern!r}]: {ip!r} is not an IP address")
    proxy = getattr(settings, "proxy", None)
    if proxy is not None:
        problem = _proxy_problem(proxy)
        if problem:
            problems.append(f"{prefix}.proxy: {problem}")
    return problems


def _proxy_problem(proxy: str) -> str | None:
    """aiohttp speaks to HTTP proxies (https targets through CONNECT): 'http://host:port', credentials allowed."""
    try:
        parts = urlsplit(proxy)
        port = parts.port
    except ValueError as exc:
        return f"{proxy!r} is not a URL ({exc})"
    if parts.scheme != "http" or not parts.hostname or port is None:
        return f"{proxy!r}: give 'http://host:port' (aiohttp supports HTTP proxies; https targets go through CONNECT)"
    return None
