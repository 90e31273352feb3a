"""Shared pieces of the reliability and security battery (tests/test_reliability_*.py, tests/test_security_*.py).

- ``LoopbackServer``: a real HTTP server on 127.0.0.1 (a thread of the test
  process) that counts every request. It answers ``/search`` in the SearXNG
  JSON shape from a ``results(query)`` callable (optionally behind a bearer
  key, echoing a wrong key back in its 401 like a careless proxy would) and
  serves fixed ``routes`` (status, headers, body) — redirects and hostile
  pages the world's traps do not cover.
- ``raw_duplicates``: rows per key in the Parquet files *as written* (the
  readers deduplicate, so they would hide a duplicate).
- ``world_job_spec``: a small job spec against a world, with the knobs the
  battery keeps bounded.
- ``RssSampler``: peak resident memory of this (the driver's) process.
- ``kill_ray_under``: stop the Ray processes of one session by its temp dir.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.store.reader import part_files
from pipelines.store.schemas import KEYS

__all__ = ["LoopbackServer", "raw_duplicates", "world_job_spec", "RssSampler", "kill_ray_under", "searxng_results"]


def searxng_results(urls: list[str], query: str = "") -> dict:
    return {"query": query, "results": [
        {"url": u, "title": f"result {i}", "content": f"about {query}", "score": 1.0 / (i + 1)} for i, u in enumerate(urls)
    ]}


class LoopbackServer:
    """A counting HTTP server on 127.0.0.1; ``routes`` maps a path to (status, headers, body bytes)."""

    def __init__(self, routes: dict | None = None, results=None, api_key: str | None = None, payload=None) -> None:
        self.routes = dict(routes or {})
        self.results = results  # query -> list of URLs, for /search
        self.payload = payload  # query -> the whole /search JSON answer (or None for ``results``), e.g. a failure
        self.api_key = api_key
        self.hits: Counter = Counter()
        self.auth_headers: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                server.hits[parts.path] += 1
                if parts.path == "/search" and (server.results is not None or server.payload is not None):
                    return self._search(parse_qs(parts.query).get("q", [""])[0])
                status, headers, body = server.routes.get(parts.path, (404, {"Content-Type": "text/plain"}, b"not here"))
                self._send(status, headers, body)

            def _search(self, query: str) -> None:
                auth = self.headers.get("Authorization", "")
                server.auth_headers.append(auth)
                if server.api_key and auth != f"Bearer {server.api_key}":
                    # A careless provider that echoes the credential it refused: trawl must scrub it.
                    body = json.dumps({"error": f"invalid credential {auth!r}"}).encode()
                    return self._send(401, {"Content-Type": "application/json"}, body)
                payload = server.payload(query) if server.payload is not None else None
                if payload is None:
                    payload = searxng_results(list(server.results(query)), query)
                self._send(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())

            def _send(self, status: int, headers: dict, body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"loopback:{self.port}", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def total_hits(self, exclude: tuple[str, ...] = ("/search", "/robots.txt")) -> int:
        return sum(n for path, n in self.hits.items() if path not in exclude)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def raw_duplicates(output: str, job_id: str) -> dict[str, int]:
    """Table -> number of surplus rows (rows minus distinct keys) in its Parquet parts as written, for one job."""
    surplus = {}
    for table, keys in KEYS.items():
        files = part_files(output, table, job_id)
        if not files:
            continue
        data = pa.concat_tables([pq.read_table(f, columns=list(keys)) for f in files], promote_options="default")
        distinct = data.group_by(list(keys)).aggregate([]).num_rows
        surplus[table] = data.num_rows - distinct
    return surplus


def world_job_spec(world, output, *, name: str, companies: int | None = None, columns: tuple[str, ...] = ("ceo",),
                   keywords: int = 2, results: int = 5, pages: int = 4) -> dict:
    """A job over the world's first ``companies`` rows and the named default columns, with a small fan-out."""
    spec = world.job_spec(output=str(output), name=name)
    if companies is not None:
        spec["rows"] = spec["rows"][:companies]
    spec["columns"] = {c: spec["columns"][c] for c in columns}
    spec["research"] = {"keywords_per_cell": keywords, "results_per_keyword": results, "max_pages_per_cell": pages,
                        "chunks_per_page": 3}
    return spec


class RssSampler:
    """Samples this process's RSS every ``interval`` seconds while in the ``with`` block."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._proc = psutil.Process()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self._proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.baseline = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def growth_mb(self) -> float:
        return (max(self.samples, default=self.baseline) - self.baseline) / 2**20


def kill_ray_under(temp_dir: str, timeout: float = 10.0) -> list[int]:
    """SIGKILL every process whose command line names ``temp_dir`` (one Ray session's gcs, raylet, workers...).

    Only processes of this user whose arguments point into that private
    folder match, so other Ray instances on the machine are never touched.
    """
    me = os.getuid()
    victims = []
    for proc in psutil.process_iter(["pid", "uids", "cmdline", "environ"]):
        try:
            if proc.info["uids"] is None or proc.info["uids"].real != me or proc.pid == os.getpid():
                continue
            cmdline = " ".join(proc.info["cmdline"] or [])
            env = proc.info.get("environ") or {}
            if temp_dir in cmdline or env.get("RAY_TMPDIR") == temp_dir:
                victims.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    for proc in victims:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(victims, timeout=timeout)
    return [p.pid for p in victims]


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
