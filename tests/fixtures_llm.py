"""Fixtures for the LLM gateway tests: a scriptable OpenAI-compatible server on a real socket.

``FakeLLMServer`` runs an aiohttp app in its own thread and event loop, so the
gateway under test talks to it through the real openai SDK and real HTTP. A
test scripts it with ``server.script = [...]`` (one entry per request, then
success) or ``server.responder = fn``; ``server.requests`` holds every body
received, in order.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from aiohttp import web

from pipelines.llm.config import LLMSettings, ProviderConfig
from tests.loopback_server import serve_on_loopback, stop_serving


def ok_body(model: str, text: str, prompt_tokens: int = 10, completion_tokens: int = 5, finish: str = "stop") -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
    }


def error_body(message: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": "error", "code": code}}


class FakeLLMServer:
    """A tiny OpenAI-compatible /v1/chat/completions with scripted failures."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.script: list[tuple[int, dict, dict]] = []  # (status, headers, body), consumed one per request
        self.responder: Callable[[dict], tuple[int, dict, dict]] | None = None
        self.requests: list[dict] = []
        self.headers_seen: list[dict] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers_seen.append(dict(request.headers))
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        finally:
            self.concurrent -= 1
        if self.script:
            status, headers, payload = self.script.pop(0)
        elif self.responder is not None:
            status, headers, payload = self.responder(body)
        else:
            last = body["messages"][-1]["content"]
            status, headers, payload = 200, {}, ok_body(body["model"], f"echo: {last}")
        return web.json_response(payload, status=status, headers=headers)

    def start(self) -> FakeLLMServer:
        self._thread.start()
        self.port, self._runner = serve_on_loopback(self._loop, "/v1/chat/completions", self._handle)
        return self

    def stop(self) -> None:
        stop_serving(self._loop, self._thread, self._runner)


@pytest.fixture
def llm_server_factory() -> Iterator[Callable[..., FakeLLMServer]]:
    servers: list[FakeLLMServer] = []

    def make(**kwargs) -> FakeLLMServer:
        server = FakeLLMServer(**kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def llm_server(llm_server_factory) -> FakeLLMServer:
    return llm_server_factory()


def free_port() -> int:
    """A port nothing listens on (for 'connection refused')."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def provider(name: str, base_url: str, **overrides) -> ProviderConfig:
    return ProviderConfig(name=name, base_url=base_url, model=overrides.pop("model", f"{name}-model"), timeout_s=overrides.pop("timeout_s", 5.0), **overrides)


def settings_for(*providers: ProviderConfig, **overrides) -> LLMSettings:
    defaults = {"backoff_base_s": 0.01, "max_wait_s": 0.2}
    return LLMSettings(providers=list(providers), **{**defaults, **overrides})


def dump(obj) -> str:
    return json.dumps(obj, default=str)

