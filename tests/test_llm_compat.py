"""Compatibility with an OpenAI-compatible server that someone else wrote: llmock (PyPI), with its own chaos.

llmock is an independent mock of the OpenAI API (FastAPI + uvicorn) that
injects 429s with Retry-After, 5xx, per-key rpm limits with
x-ratelimit-* headers and context-window rejections. The test runs it as a
subprocess from wherever it is installed, so it need not live in trawl's own
environment::

    python -m venv /tmp/llmock && /tmp/llmock/bin/pip install llmock==0.2.2
    TRAWL_LLMOCK=/tmp/llmock/bin/llmock pytest tests/test_llm_compat.py

(llama-cpp-python's server was the first choice, but PyPI has no binary wheel
for it and it needs a GGUF model, which no PyPI package here ships.)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections import Counter

import pytest

from pipelines.errors import BadRequestError
from pipelines.llm.gateway import Gateway
from pipelines.llm.types import CallContext, LLMRequest
from tests.fixtures_llm import provider, settings_for

LLMOCK = os.environ.get("TRAWL_LLMOCK") or shutil.which("llmock")

pytestmark = pytest.mark.skipif(
    not LLMOCK or not os.path.exists(LLMOCK),
    reason="llmock (an independent OpenAI-compatible mock server on PyPI) is not installed: "
    "pip install llmock==0.2.2 in any venv and set TRAWL_LLMOCK to its llmock executable",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def llmock():
    procs = []

    def start(*flags: str) -> str:
        port = _free_port()
        proc = subprocess.Popen(
            [LLMOCK, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--response-style", "echo", *flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
        procs.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return f"http://127.0.0.1:{port}/v1"
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"llmock exited with {proc.returncode}")
                time.sleep(0.1)
        pytest.fail("llmock did not start within 30 s")

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def ask(gateway: Gateway, n: int) -> list:
    async def go():
        try:
            return await asyncio.gather(
                *(gateway.complete(LLMRequest(stage="judge", messages=[{"role": "user", "content": f"question {i}"}],
                                              context=CallContext("compat", f"r{i}", "c"))) for i in range(n)),
                return_exceptions=True,
            )
        finally:
            await gateway.aclose()

    return asyncio.run(go())


def test_chaotic_llmock_primary_with_fallback(llmock, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAWL_COMPAT_KEY", "sk-compat-key-0000")
    primary = llmock("--error-rate-429", "0.3", "--error-rate-503", "0.1", "--rpm", "15")
    backup = llmock()
    records: list[dict] = []
    settings = settings_for(provider("llmock", primary, model="gpt-4o-mini", api_key_env="TRAWL_COMPAT_KEY"),
                            provider("llmock-backup", backup, model="gpt-4o-mini"), max_wait_s=2.0)
    results = ask(Gateway(settings, record_sink=records.extend, cache_dir=str(tmp_path)), 40)
    assert all(not isinstance(r, Exception) for r in results), [r for r in results if isinstance(r, Exception)]
    assert all("question" in r.text and r.input_tokens > 0 for r in results)
    errors = Counter(r["error.type"] for r in records if r["error.type"])
    assert set(errors) <= {"http_429", "http_503"} and errors["http_429"] > 0
    assert any(r["gen_ai.provider.name"] == "llmock-backup" for r in records)


def test_llmock_context_window_is_a_permanent_error(llmock, tmp_path):
    base = llmock("--context-window", "50")
    records: list[dict] = []
    gateway = Gateway(settings_for(provider("llmock", base, model="gpt-4o-mini")), record_sink=records.extend, cache_dir=str(tmp_path))

    async def go():
        try:
            await gateway.complete(LLMRequest(stage="summarize", messages=[{"role": "user", "content": "word " * 400}]))
        finally:
            await gateway.aclose()

    with pytest.raises(BadRequestError) as info:
        asyncio.run(go())
    assert info.value.reason == "context_length" and len(records) == 1  # not retried
