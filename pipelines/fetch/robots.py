"""robots.txt, fetched once per origin and cached (RFC 9309).

What a robots.txt answer means here:

- 2xx: parsed (first ``max_bytes``, 500 KiB by default as RFC 9309 asks parsers
  to accept) by Protego, Scrapy's RFC 9309 parser: the most specific (longest)
  matching rule wins, ``Allow`` over ``Disallow`` on a tie, ``*`` and ``$``
  match as the RFC says (section 2.2.2-2.2.3), and the group of our product
  token (``trawl`` of ``trawl/0.1``) wins over ``*``. ``Crawl-delay`` (not in
  the RFC, honoured by convention, fractions allowed) comes from the same
  group. Cached for ``ttl_s``. The standard library's parser, used before,
  applied the first matching rule and knew no wildcards, so ``Disallow: /*.pdf$``
  let every PDF through.
- 3xx: followed by the fetcher (each hop through the address guard).
- 4xx (including 401/403): "unavailable", so everything is allowed (RFC 9309 2.3.1.3),
  except 429, which is treated like a 5xx (as major crawlers do).
- 5xx, timeouts, connection errors: "unreachable", so everything on that origin
  is disallowed (RFC 9309 2.3.1.4). Pages fail (status "failed", not "blocked":
  it is transient) with reason ``robots_unreachable: http_503`` for a 5xx, or
  the transport reason itself (``timeout``, ``connect_error: ...``) when the
  origin did not answer at all. The verdict is cached only for
  ``unreachable_ttl_s`` so the origin gets another chance soon.
- the robots.txt URL itself refused by the address guard: the page is refused
  with the same reason (the page would be too).

Concurrent asks for one origin share one request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from protego import Protego

__all__ = ["RobotsCache", "RobotsRules", "RobotsResponse", "crawl_delay_for"]


@dataclass
class RobotsResponse:
    """What the fetcher got for /robots.txt: an HTTP status and body, or an error reason."""

    http_status: int | None
    body: bytes = b""
    error: str | None = None  # set when there is no HTTP status (timeout, connect error...)
    blocked: bool = False  # the address guard refused robots.txt (then ``error`` holds its reason)


@dataclass
class RobotsRules:
    """The verdict for one origin."""

    parser: Protego | None  # None means allow all (or disallow all, when ``problem`` is set)
    crawl_delay: float | None = None
    problem: str | None = None  # a reason when every URL of the origin is refused
    problem_blocks: bool = False  # True: page status "blocked"; False: "failed" (transient)

    def allowed(self, url: str, user_agent: str) -> bool:
        if self.problem is not None:
            return False
        if self.parser is None:
            return True
        return bool(self.parser.can_fetch(url, user_agent))


Fetch = Callable[[str], Awaitable[RobotsResponse]]


class RobotsCache:
    """Per-origin robots rules with an LRU bound and TTLs."""

    def __init__(
        self,
        user_agent: str,
        *,
        max_entries: int = 4096,
        ttl_s: float = 3600.0,
        unreachable_ttl_s: float = 60.0,
        max_bytes: int = 512_000,
    ) -> None:
        self.user_agent = user_agent
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._unreachable_ttl_s = unreachable_ttl_s
        self.max_bytes = max_bytes
        self._cache: OrderedDict[str, tuple[RobotsRules, float]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[RobotsRules]] = {}  # one robots.txt load per origin
        self.fetches = 0  # robots.txt requests made (for tests and stats)

    async def rules_for(self, origin: str, fetch: Fetch) -> RobotsRules:
        """Rules for ``origin`` ('https://host[:port]'); ``fetch(robots_url)`` is called at most once per TTL."""
        cached = self._cache.get(origin)
        if cached is not None:
            rules, expires = cached
            if expires > time.monotonic():
                self._cache.move_to_end(origin)
                return rules
            del self._cache[origin]
        task = self._inflight.get(origin)
        if task is None:
            # A task of its own, so a caller being cancelled does not cancel the other waiters' fetch.
            task = asyncio.ensure_future(self._load(origin, fetch))
            self._inflight[origin] = task
            task.add_done_callback(lambda done: self._inflight.pop(origin, None) if self._inflight.get(origin) is done else None)
        return await asyncio.shield(task)

    async def _load(self, origin: str, fetch: Fetch) -> RobotsRules:
        self.fetches += 1
        try:
            response = await fetch(origin + "/robots.txt")
        except Exception as exc:  # noqa: BLE001 - the fetcher should not raise; a bug must not wedge the origin
            response = RobotsResponse(None, error=f"error: {type(exc).__name__}")
        rules, ttl = self._interpret(response)
        self._store(origin, rules, ttl)
        return rules

    def _interpret(self, response: RobotsResponse) -> tuple[RobotsRules, float]:
        if response.blocked:
            return RobotsRules(None, problem=response.error or "blocked_address", problem_blocks=True), self._ttl_s
        status = response.http_status
        if status is None:  # the origin itself is unreachable; the page would fail the same way
            return RobotsRules(None, problem=response.error or "robots_unreachable"), self._unreachable_ttl_s
        if status >= 500 or status == 429:  # a rate-limited robots.txt is no licence to crawl
            return RobotsRules(None, problem=f"robots_unreachable: http_{status}"), self._unreachable_ttl_s
        if status >= 400 or status < 200 or status >= 300:
            return RobotsRules(None), self._ttl_s
        text = response.body[: self.max_bytes].decode("utf-8", errors="replace")
        parser = Protego.parse(text)
        return RobotsRules(parser, crawl_delay=_crawl_delay(parser, self.user_agent)), self._ttl_s

    def _store(self, origin: str, rules: RobotsRules, ttl: float) -> None:
        self._cache[origin] = (rules, time.monotonic() + ttl)
        self._cache.move_to_end(origin)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)


def _crawl_delay(parser: Protego, user_agent: str) -> float | None:
    delay = parser.crawl_delay(user_agent)
    return None if delay is None else max(0.0, float(delay))


def crawl_delay_for(text: str, user_agent: str) -> float | None:
    """Crawl-delay of the group that applies to ``user_agent`` (seconds, fractions allowed); None when unset."""
    return _crawl_delay(Protego.parse(text), user_agent)
