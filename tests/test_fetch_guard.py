"""The address guard: private, loopback, link-local and metadata addresses are refused unless allowed.

Checked three ways: the pure decision table, the resolver (names that resolve to
such addresses), and whole fetches through ``PageFetcher`` including redirect hops.
"""

from __future__ import annotations

import asyncio

import pytest

from pipelines.fetch import AddressGuard, PageFetcher, address_problem
from pipelines.fetch.guard import parse_host_pattern
from pipelines.fetch.resolver import BlockedAddressError, GuardedResolver, StaticHostMap
from pipelines.settings import FetchSettings
from tests.fixtures_fetch import local_fetch_settings

# Fetches below aim at private and metadata addresses on purpose; the net makes a guard bug fail the test
# instead of sending traffic off the machine.
pytestmark = pytest.mark.usefixtures("loopback_only")

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "172.31.255.254": "private",
    "192.168.1.1": "private",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "169.254.169.254": "metadata",
    "169.254.10.10": "link_local",
    "fe80::1": "link_local",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved",
    "100.64.0.1": "not_global",  # carrier-grade NAT
    "::ffff:10.0.0.1": "private",  # IPv4-mapped
    "::ffff:169.254.169.254": "metadata",
    "2002:7f00:1::": "loopback",  # 6to4 wrapping 127.0.0.1
    "64:ff9b::a00:1": "private",  # NAT64 wrapping 10.0.0.1
}


@pytest.mark.parametrize("ip,problem", sorted(REFUSED.items()))
def test_refused_addresses(ip, problem):
    assert address_problem(ip) == problem
    reason = AddressGuard([]).check_ip("somehost.test", 80, ip)
    assert reason is not None and reason.startswith("blocked_address: ") and f"({problem})" in reason


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1", "192.169.0.1"])
def test_public_addresses_pass(ip):
    assert address_problem(ip) is None
    assert AddressGuard([]).check_ip("somehost.test", 80, ip) is None


def test_allow_patterns():
    guard = AddressGuard(["*.example", "intranet.corp:8080", "127.0.0.1", "[::1]:9000"])
    assert guard.check_ip("acme.example", 80, "127.0.0.1") is None
    assert guard.check_ip("deep.acme.example", 443, "10.0.0.1") is None
    assert guard.check_ip("example", 80, "127.0.0.1") is not None  # '*.suffix' is subdomains only
    assert guard.check_ip("evilexample", 80, "127.0.0.1") is not None
    assert guard.check_ip("intranet.corp", 8080, "10.0.0.1") is None
    assert guard.check_ip("intranet.corp", 80, "10.0.0.1") is not None  # the port is part of the pattern
    assert guard.check_ip("127.0.0.1", 1234, "127.0.0.1") is None
    assert guard.check_ip("::1", 9000, "::1") is None
    assert guard.check_ip("::1", 9001, "::1") is not None
    with pytest.raises(ValueError):
        parse_host_pattern("*")
    with pytest.raises(ValueError):
        parse_host_pattern("host:99999")


@pytest.mark.parametrize(
    "scheme,host,expect",
    [
        ("ftp", "a.test", "blocked_scheme: ftp"),
        ("file", "", "blocked_scheme: file"),
        ("http", "", "invalid_url: no host"),
        ("http", "2130706433", "blocked_address: 2130706433 (numeric host)"),
        ("http", "0x7f.1", "blocked_address: 0x7f.1 (numeric host)"),
        ("http", "127.1", "blocked_address: 127.1 (numeric host)"),
        ("http", "0177.0.0.1", "blocked_address: 0177.0.0.1 (numeric host)"),
        ("http", "0", "blocked_address: 0 (numeric host)"),
        ("http", "::ffff:127.0.0.1", "blocked_address: ::ffff:7f00:1 (loopback)"),
        ("http", "10.0.0.1", "blocked_address: 10.0.0.1 (private)"),
        ("https", "acme.test", None),
    ],
)
def test_url_checks(scheme, host, expect):
    assert AddressGuard([]).check_url_parts(scheme, host, 80) == expect


def _resolve(mapping, allow, host, port=80):
    resolver = GuardedResolver(AddressGuard(allow), StaticHostMap(mapping))
    return asyncio.run(resolver.resolve(host, port))


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254"])
def test_resolver_refuses_names_resolving_to_private(ip):
    with pytest.raises(BlockedAddressError) as info:
        _resolve({"sneaky.test": ip}, [], "sneaky.test")
    assert str(info.value).startswith(f"blocked_address: {ip} ")
    # ...unless the job allows the host explicitly
    [answer] = _resolve({"sneaky.test": ip}, ["sneaky.test"], "sneaky.test")
    assert answer["host"] == ip and answer["hostname"] == "sneaky.test"


def test_static_map_prefers_exact_then_longest_suffix():
    static = StaticHostMap({"*.example": "127.0.0.1", "*.b.example": "127.0.0.2", "a.b.example": "127.0.0.3"})
    assert static.lookup("x.example") == "127.0.0.1"
    assert static.lookup("x.b.example") == "127.0.0.2"
    assert static.lookup("A.B.Example.") == "127.0.0.3"
    assert static.lookup("example.org") is None
    with pytest.raises(ValueError):
        StaticHostMap({"a.test": "not-an-ip"})


def _fetch_all(settings, urls):
    async def go():
        fetcher = PageFetcher(settings)
        try:
            return await asyncio.gather(*(fetcher.fetch(u) for u in urls))
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254"])
def test_fetch_refuses_ip_literals_and_names(fetch_server, ip):
    literal = f"http://[{ip}]:{fetch_server.port}/page/x" if ":" in ip else f"http://{ip}:{fetch_server.port}/page/x"
    named = f"http://sneaky.test:{fetch_server.port}/page/x"
    settings = local_fetch_settings(resolve={"sneaky.test": ip})
    by_literal, by_name = _fetch_all(settings, [literal, named])
    for result in (by_literal, by_name):
        assert result.status == "blocked", result
        assert result.reason.startswith(f"blocked_address: {ip} ")
        assert result.body is None and result.http_status is None


def test_fetch_allowed_loopback_reaches_server(fetch_server):
    port = fetch_server.port
    settings = local_fetch_settings(resolve={"loop.test": "127.0.0.1"}, allow_hosts=["loop.test", f"127.0.0.1:{port}"])
    by_name, by_literal, wrong_port = _fetch_all(
        settings,
        [f"http://loop.test:{port}/page/a", f"http://127.0.0.1:{port}/page/b", f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}/page/c"],
    )
    assert by_name.status == "ok" and b"page a" in by_name.body
    assert by_literal.status == "ok" and b"page b" in by_literal.body
    assert wrong_port.status == "blocked"


@pytest.mark.parametrize(
    "target,reason",
    [
        ("http://127.0.0.1:{port}/page/x", "blocked_address: 127.0.0.1 (loopback)"),
        ("http://[::1]:{port}/page/x", "blocked_address: ::1 (loopback)"),
        ("http://metadata.test/latest/meta-data/", "blocked_address: 169.254.169.254 (metadata)"),
        ("http://internal.test:{port}/page/x", "blocked_address: 10.9.8.7 (private)"),
        ("file:///etc/passwd", "blocked_scheme: file"),
    ],
)
def test_every_redirect_hop_is_guarded(fetch_server, target, reason):
    target = target.format(port=fetch_server.port)
    settings = local_fetch_settings(resolve={"*.example": "127.0.0.1", "internal.test": "10.9.8.7", "metadata.test": "169.254.169.254"})
    start = fetch_server.url("hop.example", f"/redirect/to?u={target}")
    [result] = _fetch_all(settings, [start])
    assert result.status == "blocked"
    assert result.reason.startswith(reason)
    assert result.final_url.startswith(target.split("/latest")[0])


def test_settings_problems_are_listed_with_their_paths():
    from pydantic import ValidationError

    from pipelines.fetch.checks import fetch_settings_problems

    bad = dict(allow_hosts=["*.example", "*", "h:99999"], resolve={"a.test": "nope", "b.test:80": "127.0.0.1"})
    with pytest.raises(ValidationError):  # FetchSettings itself refuses them...
        local_fetch_settings(**bad)
    settings = FetchSettings.model_construct(**bad)  # ...and the check lists every one with its path
    problems = fetch_settings_problems(settings)
    assert [p.split(":")[0] for p in problems] == ["fetch.allow_hosts[1]", "fetch.allow_hosts[2]", "fetch.resolve['a.test']", "fetch.resolve['b.test"]
    assert fetch_settings_problems(local_fetch_settings()) == []
