"""A hostile little web server in its own process, for the fetcher's tests.

It serves many "sites" on one 127.0.0.1 port, told apart by the Host header, so
tests reach ``plain.example``, ``robots.example``... through ``FetchSettings.resolve``
(``*.example -> 127.0.0.1``). Routes: normal HTML, robots.txt variants, redirect
chains, loops and redirects to anywhere, a huge body, a slow-loris body, a gzip
bomb, binary served as text/html, a PDF, any status code, a 503-then-200 page,
and a slow page for counting concurrency. ``GET /__stats`` returns hit counts per
``host/path`` and the peak number of concurrent requests per host; ``/__reset``
clears them.

Run standalone: ``python -m tests.fixtures_fetch`` prints the port and serves.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web

from pipelines.settings import FetchSettings

ROOT = Path(__file__).resolve().parent.parent

ROBOTS = {
    # Rules for trawl; everyone else is shut out, so a user-agent mismatch shows up as "blocked everywhere".
    "robots": "User-agent: trawl\nDisallow: /private\nCrawl-delay: 0.4\n\nUser-agent: *\nDisallow: /\n",
    "robotsall": "User-agent: *\nDisallow: /\n",
}


def _site(request: web.Request) -> str:
    host = (request.host or "").rsplit(":", 1)[0]
    return host.split(".")[0]


def _html(title: str, text: str) -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"


class _State:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.bomb = gzip.compress(b"<html><body>" + b"A" * (64 * 1024 * 1024), compresslevel=6)


def build_app() -> web.Application:
    state = _State()

    @web.middleware
    async def count(request: web.Request, handler):
        if request.path.startswith("/__"):
            return await handler(request)
        host = (request.host or "").rsplit(":", 1)[0]
        state.hits[f"{host}{request.path}"] += 1
        for key in (host, "*"):  # "*": all hosts together
            state.active[key] += 1
            state.peak[key] = max(state.peak[key], state.active[key])
        try:
            return await handler(request)
        finally:
            state.active[host] -= 1
            state.active["*"] -= 1

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"hits": dict(state.hits), "peak": dict(state.peak)})

    async def reset(request: web.Request) -> web.Response:
        state.hits.clear()
        state.peak.clear()
        return web.json_response({"ok": True})

    async def robots(request: web.Request) -> web.Response:
        site = _site(request)
        if site == "robots5xx":
            return web.Response(status=503, text="down")
        if site in ROBOTS:
            return web.Response(text=ROBOTS[site], content_type="text/plain")
        return web.Response(status=404, text="no robots here")

    async def page(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.Response(text=_html(name, f"page {name} on {request.host}"), content_type="text/html", charset="utf-8")

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="just plain text", content_type="text/plain")

    async def slow_page(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("s", "0.3")))
        return web.Response(text=_html("slow", "took a while"), content_type="text/html")

    async def chain(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n <= 0:
            return web.Response(text=_html("end", "end of chain"), content_type="text/html")
        raise web.HTTPFound(f"/redirect/chain/{n - 1}")

    async def loop(request: web.Request) -> web.Response:
        other = "b" if request.match_info["side"] == "a" else "a"
        raise web.HTTPFound(f"/redirect/loop/{other}")

    async def redirect_to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["u"])

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        if request.query.get("cl"):
            resp.content_length = 50 * 1024 * 1024
        await resp.prepare(request)
        chunk = b"<p>" + b"x" * 65_530 + b"</p>"
        try:
            for _ in range(50 * 16):  # 50 MB at most
                await resp.write(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def slow_body(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        await resp.prepare(request)
        try:
            await resp.write(b"<html><body>")
            for _ in range(120):  # a byte every 0.25 s for 30 s
                await asyncio.sleep(0.25)
                await resp.write(b"z")
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def bomb(request: web.Request) -> web.Response:
        return web.Response(body=state.bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})

    async def binary(request: web.Request) -> web.Response:
        body = bytes(range(256)) * 64 if request.query.get("kind") != "png" else b"\x89PNG\r\n\x1a\n" + b"\x01" * 500
        return web.Response(body=body, headers={"Content-Type": "text/html"})

    async def pdf(request: web.Request) -> web.Response:
        # ?as=<media type>: the same bytes under another Content-Type (PDFs are recognized by their %PDF- magic too)
        return web.Response(body=b"%PDF-1.7\n" + b"1" * 2000, content_type=request.query.get("as", "application/pdf"))

    async def status(request: web.Request) -> web.Response:
        headers = {}
        if "retry_after" in request.query:
            headers["Retry-After"] = request.query["retry_after"]
        return web.Response(status=int(request.match_info["code"]), text="status page", headers=headers)

    async def flaky(request: web.Request) -> web.Response:
        host = (request.host or "").rsplit(":", 1)[0]
        if state.hits[f"{host}{request.path}"] == 1:
            return web.Response(status=503, text="busy", headers={"Retry-After": request.query.get("ra", "1")})
        return web.Response(text=_html("flaky", "second time lucky"), content_type="text/html")

    app = web.Application(middlewares=[count])
    app.router.add_get("/__stats", stats)
    app.router.add_get("/__reset", reset)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/page/{name}", page)
    app.router.add_get("/private/{name}", page)
    app.router.add_get("/text", text)
    app.router.add_get("/slowpage/{key}", slow_page)
    app.router.add_get("/redirect/chain/{n}", chain)
    app.router.add_get("/redirect/loop/{side}", loop)
    app.router.add_get("/redirect/to", redirect_to)
    app.router.add_get("/huge", huge)
    app.router.add_get("/slow", slow_body)
    app.router.add_get("/bomb", bomb)
    app.router.add_get("/binary", binary)
    app.router.add_get("/pdf", pdf)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/flaky/{key}", flaky)
    return app


def serve_forever(make_app) -> None:  # pragma: no cover - runs in a server subprocess
    """Serve ``make_app()`` on a free loopback port, print the port (the parent reads it), run until killed."""
    async def serve() -> None:
        runner = web.AppRunner(make_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - aiohttp has no public getter
        print(port, flush=True)
        while True:
            await asyncio.sleep(3600)

    asyncio.run(serve())


def main() -> None:  # pragma: no cover - runs in the server subprocess
    serve_forever(build_app)


class FetchServer:
    """Handle on the server process: ``url(host, path)``, ``stats()``, ``reset()``."""

    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.port = port

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:  # noqa: S310 - loopback only
            return json.loads(resp.read())

    def stats(self) -> dict:
        return self._get("/__stats")

    def hits(self, host: str, path: str) -> int:
        return self.stats()["hits"].get(f"{host}{path}", 0)

    def reset(self) -> None:
        self._get("/__reset")


@pytest.fixture(scope="session")
def fetch_server():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.fixtures_fetch"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        line = ""
        while not line and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"fetch test server did not start (exit code {proc.poll()})")
        yield FetchServer(proc, int(line))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def local_fetch_settings(**overrides) -> FetchSettings:
    """Settings that reach the fixture server's ``*.example`` hosts and nothing else private."""
    base = dict(
        resolve={"*.example": "127.0.0.1"},
        allow_hosts=["*.example"],
        connect_timeout_s=2.0,
        total_timeout_s=3.0,
        max_bytes=1_000_000,
    )
    base.update(overrides)
    return FetchSettings(**base)


if __name__ == "__main__":  # pragma: no cover
    main()


@pytest.fixture()
def loopback_only(monkeypatch):
    """A safety net for tests that aim the fetcher at private addresses: should the guard ever let one
    through, the connection is refused here instead of leaving the machine."""
    import asyncio.base_events
    import asyncio.selector_events
    import ipaddress

    def check(host) -> None:
        try:
            ip = ipaddress.ip_address(str(host).split("%")[0])
        except ValueError:
            return  # a name: aiohttp resolves before connecting, so the address check comes later
        if not ip.is_loopback:
            raise OSError(f"test safety net: refused a connection to {ip} (tests stay on loopback)")

    real_sock_connect = asyncio.selector_events.BaseSelectorEventLoop.sock_connect
    real_create_connection = asyncio.base_events.BaseEventLoop.create_connection

    async def sock_connect(self, sock, address):
        check(address[0])
        return await real_sock_connect(self, sock, address)

    async def create_connection(self, *args, **kwargs):
        host = kwargs.get("host", args[1] if len(args) > 1 else None)
        if host is not None:
            check(host)
        return await real_create_connection(self, *args, **kwargs)

    monkeypatch.setattr(asyncio.selector_events.BaseSelectorEventLoop, "sock_connect", sock_connect)
    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", create_connection)
