"""Run a world server as a real subprocess, and run an aiohttp app inside one.

The child binds its socket first and only then prints one line,
``TRAWL-READY <port>``, on stdout; the parent blocks on that line, so
readiness is a fact and never a guessed sleep. The child also watches its
stdin: the parent holds the write end of that pipe, so when the parent dies
(crash, Ctrl-C, SIGKILL) the child reads EOF and exits. Detached worlds pass
``--detached`` and are stopped by pid instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["READY", "ServerProcess", "spawn_server", "serve_app", "post_json", "get_json"]

READY = "TRAWL-READY"


@dataclass
class ServerProcess:
    """A running world server: its port, its process, and how to stop it."""

    name: str
    port: int
    proc: subprocess.Popen
    host: str = "127.0.0.1"
    _stopped: bool = field(default=False, repr=False)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()


def spawn_server(name: str, module: str, args: list[str], *, timeout: float = 120.0, detached: bool = False,
                 log_path: str | None = None) -> ServerProcess:
    """Start ``python -m module args`` and wait for its ready line (or its death)."""
    cmd = [sys.executable, "-m", module, *args] + (["--detached"] if detached else [])
    stderr = open(log_path, "ab") if log_path else None  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL if detached else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        start_new_session=detached,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if stderr:
        stderr.close()
    deadline = time.monotonic() + timeout
    buf = b""
    assert proc.stdout is not None  # spawned with stdout=PIPE
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], min(1.0, max(0.0, deadline - time.monotonic())))
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            for line in buf.decode(errors="replace").splitlines():
                if line.startswith(READY):
                    return ServerProcess(name, int(line.split()[1]), proc)
        elif proc.poll() is not None:
            break
    proc.kill()
    proc.wait()
    raise RuntimeError(f"{name} server did not become ready (exit={proc.returncode}, output={buf[-500:]!r})")


def _watch_parent(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader aborts interpreter shutdown.
    try:
        while os.read(0, 1024):
            pass
    except OSError:
        pass
    loop.call_soon_threadsafe(stop.set)


async def _serve(app: web.Application, host: str, port: int, detached: bool, sock=None) -> None:
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, host, port, reuse_address=True, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # port 0 -> the port the OS picked
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not detached:
        threading.Thread(target=_watch_parent, args=(loop, stop), daemon=True).start()
    print(f"{READY} {bound}", flush=True)
    if detached and not sys.stdout.isatty():
        # The parent that read our ready line may be gone; a later write to its pipe would kill us with SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    await stop.wait()
    await runner.cleanup()


def serve_app(app: web.Application, host: str, port: int, detached: bool, sock=None) -> None:
    """Serve ``app`` until SIGTERM/SIGINT or (unless detached) the parent's death; ``sock``: an already bound socket."""
    asyncio.run(_serve(app, host, port, detached, sock))


def post_json(url: str, payload: dict, timeout: float = 10.0) -> dict:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback admin call
        return json.loads(resp.read() or b"{}")


def get_json(url: str, timeout: float = 10.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback admin call
        return json.loads(resp.read() or b"{}")
