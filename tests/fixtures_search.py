"""A search provider stand-in on a real 127.0.0.1 socket: replays scripted answers, records every request.

``search_replay.reply(status, json=..., text=..., headers=...)`` queues one
answer; requests beyond the queue get the last ``default`` answer (200, empty
results). ``search_replay.requests`` lists what arrived: method, path, query
(a dict), headers (lower-case names) and the parsed JSON body.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import threading
import time
from dataclasses import dataclass, field

import pytest
from aiohttp import web


@dataclass
class Reply:
    status: int = 200
    json: object = None
    text: str | None = None
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict
    headers: dict
    body: object
    arrived: float = 0.0  # server-side time.monotonic() on arrival: the spacing a rate limit promises


class ReplayServer:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.default = Reply(200, json={"results": []})
        self.requests: list[SeenRequest] = []
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def reply(self, status: int = 200, *, json: object = None, text: str | None = None, headers: dict | None = None, delay_s: float = 0.0) -> None:
        self.replies.append(Reply(status, json, text, headers or {}, delay_s))

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()
        self.default = Reply(200, json={"results": []})

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = jsonlib.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append(
            SeenRequest(request.method, request.path, dict(request.query), {k.lower(): v for k, v in request.headers.items()}, body,
                        time.monotonic())
        )
        reply = self.replies.pop(0) if self.replies else self.default
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.text is not None:
            return web.Response(status=reply.status, text=reply.text, headers=reply.headers, content_type="application/json")
        return web.json_response(reply.json, status=reply.status, headers=reply.headers)

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            port = self._runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="search-replay-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("replay server did not start")

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


@pytest.fixture(scope="module")
def _search_replay_module():
    server = ReplayServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def search_replay(_search_replay_module):
    """A fresh script and request log on the module's replay server."""
    _search_replay_module.reset()
    yield _search_replay_module
    _search_replay_module.reset()


@pytest.fixture
def second_search_replay():
    """An independent replay server, for fallback tests."""
    server = ReplayServer()
    server.start()
    yield server
    server.stop()


def call_adapter(adapter, req):
    """Run one adapter search on a fresh session, synchronously (no pytest-asyncio here)."""
    import aiohttp

    async def go():
        async with aiohttp.ClientSession() as session:
            return await adapter.search(session, req)

    return asyncio.run(go())


# Failure answers that arrive with HTTP 200, shaped as each provider documents its bodies:
# SearXNG's /search?format=json (searx/webutils.py get_json_response: `unresponsive_engines` is a sorted list of
# [engine, message], the message "Suspended: " + reason for a suspended engine); Brave's ErrorResponse (Brave Search
# API docs, error responses); Tavily's {"detail": {"error": ...}} (docs.tavily.com search endpoint, every error
# response); Serper's {"message", "statusCode"}.
SEARXNG_SUSPENDED = {
    "query": "x", "number_of_results": 0, "results": [], "answers": [], "corrections": [], "infoboxes": [],
    "suggestions": [],
    "unresponsive_engines": [["brave", "Suspended: too many requests"], ["duckduckgo", "Suspended: CAPTCHA"],
                             ["google", "Suspended: CAPTCHA"], ["startpage", "Suspended: access denied"]],
}
SEARXNG_TIMED_OUT = {**SEARXNG_SUSPENDED, "unresponsive_engines": [["bing", "timeout"], ["google", "Suspended: CAPTCHA"]]}
BRAVE_ERROR_BODY = {"type": "ErrorResponse", "error": {"id": "c2d6", "status": 429, "code": "RATE_LIMITED",
                                                        "detail": "Request rate limit exceeded for plan.", "meta": {}}}
TAVILY_ERROR_BODY = {"detail": {"error": "Internal server error while searching"}}
SERPER_ERROR_BODY = {"message": "Not enough credits", "statusCode": 400}
