"""An aiohttp resolver that applies the static ``resolve`` map and the address guard.

aiohttp connects to exactly the addresses its resolver returns, so filtering
them here closes the DNS-rebinding gap a "resolve, check, then let the client
resolve again" design leaves open. IP-literal hosts never reach a resolver
(aiohttp short-cuts them); the fetcher checks those with
``AddressGuard.check_url_parts`` before each hop.

Policy when a name resolves to several addresses and only some are refused:
the whole name is refused. An attacker who controls DNS can mix a public and
a private address; connecting to "the public one" would depend on aiohttp's
connection order, which is not a security boundary.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from pipelines.fetch.guard import AddressGuard, HostPattern, address_problem, parse_host_pattern, parse_ip

__all__ = ["GuardedResolver", "BlockedAddressError", "StaticHostMap"]


class BlockedAddressError(OSError):
    """Raised inside the resolver; aiohttp wraps it in ClientConnectorDNSError (``.os_error``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class StaticHostMap:
    """``resolve`` settings: host pattern -> IP. Exact names win over wildcards; longer suffixes win."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self._exact: dict[str, str] = {}
        self._wild: list[tuple[HostPattern, str]] = []
        for pattern, ip in mapping.items():
            parsed = parse_host_pattern(pattern)
            if parse_ip(ip) is None:
                raise ValueError(f"resolve[{pattern!r}]: {ip!r} is not an IP address")
            if parsed.wildcard:
                self._wild.append((parsed, ip))
            else:
                self._exact[parsed.host] = ip
        self._wild.sort(key=lambda item: -len(item[0].host))

    def lookup(self, host: str) -> str | None:
        host = host.lower().rstrip(".")
        if host in self._exact:
            return self._exact[host]
        for pattern, ip in self._wild:
            if pattern.matches(host):
                return ip
        return None


class GuardedResolver(AbstractResolver):
    """Static map first, then the system resolver; every answer passes the guard or nothing does."""

    def __init__(self, guard: AddressGuard, static: StaticHostMap, *, dns: AbstractResolver | None = None) -> None:
        self._guard = guard
        self._static = static
        self._dns = dns
        self.private_hosts: set[str] = set()  # names answered with a private address the allow-list let through

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        mapped = self._static.lookup(host)
        if mapped is not None:
            ip = parse_ip(mapped)
            fam = socket.AF_INET6 if ip is not None and ip.version == 6 else socket.AF_INET
            results: list[ResolveResult] = [
                {"hostname": host, "host": str(ip), "port": port, "family": fam, "proto": 0, "flags": socket.AI_NUMERICHOST}
            ]
        else:
            if self._dns is None:
                self._dns = ThreadedResolver()
            results = await self._dns.resolve(host, port, family)
        private = False
        for res in results:
            reason = self._guard.check_ip(host, port, res["host"])
            if reason is not None:
                raise BlockedAddressError(f"{reason} for {host}")
            private = private or address_problem(res["host"]) is not None
        if private:
            if len(self.private_hosts) > 100_000:
                self.private_hosts.clear()
            self.private_hosts.add(host.lower().rstrip("."))
        return results

    async def close(self) -> None:
        if self._dns is not None:
            await self._dns.close()
            self._dns = None
