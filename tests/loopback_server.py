"""A threaded aiohttp server on 127.0.0.1 for in-process fakes (the LLM fake and the contract servers)."""

from __future__ import annotations

import asyncio
import socket
import threading

from aiohttp import web


def serve_on_loopback(loop: asyncio.AbstractEventLoop, path: str, handler) -> tuple[int, web.AppRunner]:
    """Serve POST ``path`` with ``handler`` on a free 127.0.0.1 port, on ``loop`` (running in its own thread)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))

    async def boot() -> web.AppRunner:
        app = web.Application()
        app.router.add_post(path, handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        return runner

    return sock.getsockname()[1], asyncio.run_coroutine_threadsafe(boot(), loop).result(10)


def stop_serving(loop: asyncio.AbstractEventLoop, thread: threading.Thread, runner: web.AppRunner | None) -> None:
    """Undo ``serve_on_loopback``: close the server, stop the loop, join its thread."""
    if runner is not None:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
