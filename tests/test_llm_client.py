"""One attempt against one provider: openai's exceptions become trawl's plain, picklable errors."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import socket
import threading

import pytest

from pipelines.errors import AuthError, BadRequestError, RateLimitedError, TimeoutError_, UnavailableError
from pipelines.llm.client import ProviderClient, scrub
from tests.fixtures_llm import error_body, free_port, ok_body, provider

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.0, "max_tokens": 16}


def attempt(base_url: str, **kw):
    headers: list[dict] = []
    client = ProviderClient(provider("p", base_url, **kw), "sk-test-0123456789", on_headers=headers.append)

    async def go():
        try:
            return await client.complete(BODY)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            return exc
        finally:
            await client.aclose()

    return asyncio.run(go()), headers


@pytest.mark.parametrize(
    "status, headers, body, error, reason",
    [
        (429, {"retry-after": "7"}, error_body("slow down", "rate_limit_exceeded"), RateLimitedError, "http_429"),
        (429, {}, error_body("You exceeded your current quota", "insufficient_quota"), AuthError, "insufficient_quota"),
        (500, {}, error_body("oops"), UnavailableError, "http_500"),
        (503, {}, error_body("overloaded"), UnavailableError, "http_503"),
        (408, {}, error_body("timeout"), TimeoutError_, "http_408"),
        (400, {}, error_body("maximum context length is 4096 tokens"), BadRequestError, "context_length"),
        (422, {}, error_body("bad"), BadRequestError, "http_422"),
        (403, {}, error_body("forbidden"), AuthError, "http_403"),
    ],
)
def test_status_codes_map_to_the_error_tree(llm_server, status, headers, body, error, reason):
    llm_server.script = [(status, headers, body)]
    err, seen = attempt(llm_server.base_url)
    assert type(err) is error and err.reason == reason
    assert seen and isinstance(pickle.loads(pickle.dumps(err)), error)
    if status == 429 and headers:
        assert err.retry_after == 7.0 and pickle.loads(pickle.dumps(err)).retry_after == 7.0


def test_connection_refused_is_unavailable():
    err, _ = attempt(f"http://127.0.0.1:{free_port()}/v1")
    assert isinstance(err, UnavailableError) and err.reason == "connection_error"


@contextlib.contextmanager
def raw_server(reply: bytes):
    """A loopback server that reads each request and answers ``reply`` (raw bytes, maybe broken HTTP), then closes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(5)
                conn.recv(65536)
                if reply:
                    conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_connection_the_server_drops_is_unavailable_not_a_timeout():
    # The SDK's aiohttp transport reports a dropped connection as httpx.ConnectTimeout (its cause is the
    # aiohttp error); a person reading the cell's reason must see a connection error, not a slow server.
    with raw_server(b"") as base_url:  # no status line: the server is gone mid-request
        err, _ = attempt(base_url, timeout_s=5.0)
    assert isinstance(err, UnavailableError) and err.reason == "connection_error", err
    assert "timed out" not in str(err)


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 abc\r\n\r\n",  # no status code
    b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 10_000 + b"\r\nContent-Length: 2\r\n\r\n{}",  # a header over aiohttp's 8 KB
])
def test_a_response_the_http_client_cannot_read_is_a_retryable_trawl_error(reply):
    # aiohttp raises ClientResponseError for these, which neither its transport nor the SDK turns into an
    # openai error; it must still be a trawl error (the gateway retries, falls back and records it).
    with raw_server(reply) as base_url:
        err, _ = attempt(base_url, timeout_s=5.0)
    assert isinstance(err, UnavailableError) and err.reason in ("malformed_response", "connection_error"), repr(err)


def test_the_connection_pool_holds_every_call_the_provider_allows():
    client = ProviderClient(provider("p", "http://127.0.0.1:9/v1", max_concurrency=4000), "sk-test-0123456789")
    limits = client._sdk()._client._transport.limits  # the SDK's httpx client, over the aiohttp transport
    assert limits.max_connections >= 4000


def test_slow_server_times_out(llm_server_factory):
    server = llm_server_factory(delay_s=2.0)
    err, _ = attempt(server.base_url, timeout_s=0.3)
    assert isinstance(err, TimeoutError_) and err.reason == "timeout"


def test_a_call_the_sdk_never_ends_still_times_out(monkeypatch):
    # trawl's own deadline (timeout_s + TIMEOUT_MARGIN_S) ends a call whose transport ignores the SDK's timeout,
    # and it is a trawl timeout, not a bare TimeoutError or a cancelled task.
    from pipelines.llm import client as client_module

    monkeypatch.setattr(client_module, "TIMEOUT_MARGIN_S", 0.0)
    never = asyncio.Event()

    class Stuck:
        async def post(self, *args, **kwargs):
            await never.wait()

    client = ProviderClient(provider("p", "http://127.0.0.1:9/v1", timeout_s=0.05), "sk-test-0123456789")
    client._client = Stuck()  # type: ignore[assignment]

    async def call():
        try:
            await client.complete({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        except Exception as exc:  # noqa: BLE001 - the error is what is checked
            return exc
        return None

    err = asyncio.run(asyncio.wait_for(call(), 10.0))  # without trawl's deadline: this wait_for fails the test
    assert isinstance(err, TimeoutError_) and err.reason == "timeout", repr(err)


def test_a_body_without_choices_is_a_retryable_malformed_response(llm_server):
    llm_server.script = [(200, {}, {"id": "x", "object": "chat.completion", "model": "m", "choices": []})]
    err, _ = attempt(llm_server.base_url)
    assert isinstance(err, UnavailableError) and err.reason == "malformed_response"


def test_usage_is_estimated_when_the_server_reports_none(llm_server):
    body = ok_body("served-model", "a fairly short answer")
    del body["usage"]
    llm_server.script = [(200, {"x-ratelimit-remaining-requests": "9"}, body)]
    reply, seen = attempt(llm_server.base_url)
    assert reply.response_model == "served-model" and reply.input_tokens > 0 and reply.output_tokens > 0
    assert seen[0]["x-ratelimit-remaining-requests"] == "9"


def test_scrub_removes_keys():
    assert "0123456789" not in scrub("bad key sk-test-0123456789 given", "sk-test-0123456789")
    assert "sk-proj-abcdefghijkl" not in scrub("Incorrect API key provided: sk-proj-abcdefghijkl")
