"""OpenAI-compatible HTTP server over the extractive engine, with fault injection.

Endpoints: ``POST /v1/chat/completions`` (plain or ``stream: true``),
``GET /v1/models``, ``GET|POST /_admin/faults`` (read / replace the
``LLMFaults`` at runtime), ``GET /_admin/stats`` (calls by outcome).

Every response carries OpenAI's rate-limit headers
(``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``); 429s also carry
``Retry-After``. Two instances with different faults stand in for a failing
primary and a healthy fallback provider::

    with start_llm_server(LLMFaults(rate_429=0.5), port=0) as srv:
        client = OpenAI(base_url=srv.base_url, api_key="local")
        srv.set_faults(LLMFaults())  # heal it mid-run

``LLMFaults(hold_prompts_with=[...])`` is a gate: matching calls wait until
the faults are replaced, so a test can hold part of a job until its own
faults (kills, signals) have landed.

Run directly: ``python -m pipelines.world.llm_server --port 8782``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import time
import uuid
from collections import Counter, deque

from aiohttp import web

from pipelines.world.extractive import MODEL_NAME, complete
from pipelines.world.faults import LLMFaults
from pipelines.world.proc import ServerProcess, get_json, post_json, serve_app, spawn_server

__all__ = ["LLMFaults", "LLMServer", "start_llm_server", "make_app", "count_tokens"]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_MALFORMED = "Sure! Here is what I found. The answer is probably in the text above; let me know if you need more."


def count_tokens(text: str) -> int:
    """A tokenizer-free estimate: words and punctuation marks (close to BPE counts for English)."""
    return len(_TOKEN.findall(text))


def _message_text(messages: list) -> str:
    parts = []
    for m in messages:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, list):
            c = " ".join(p.get("text", "") for p in c if isinstance(p, dict))
        parts.append(str(c or ""))
    return "\n".join(parts)


class _Limits:
    """Sliding one-minute windows of requests and tokens, for rpm/tpm limits and the headers."""

    def __init__(self) -> None:
        self.requests: deque[float] = deque()
        self.tokens: deque[tuple[float, int]] = deque()

    def _trim(self, now: float) -> None:
        while self.requests and now - self.requests[0] >= 60:
            self.requests.popleft()
        while self.tokens and now - self.tokens[0][0] >= 60:
            self.tokens.popleft()

    def headers(self, faults: LLMFaults, now: float) -> dict[str, str]:
        self._trim(now)
        rpm = faults.rpm_limit or 10_000
        tpm = faults.tpm_limit or 10_000_000
        used_t = sum(t for _, t in self.tokens)
        reset_r = 60 - (now - self.requests[0]) if self.requests else 0.0
        reset_t = 60 - (now - self.tokens[0][0]) if self.tokens else 0.0
        return {
            "x-ratelimit-limit-requests": str(rpm),
            "x-ratelimit-remaining-requests": str(max(0, rpm - len(self.requests))),
            "x-ratelimit-reset-requests": f"{reset_r:.3f}s",
            "x-ratelimit-limit-tokens": str(tpm),
            "x-ratelimit-remaining-tokens": str(max(0, tpm - used_t)),
            "x-ratelimit-reset-tokens": f"{reset_t:.3f}s",
        }

    def over(self, faults: LLMFaults, now: float, tokens: int) -> float | None:
        """Seconds until the call would fit, or None when it fits now."""
        self._trim(now)
        if faults.rpm_limit and len(self.requests) >= faults.rpm_limit:
            return 60 - (now - self.requests[0])
        if faults.tpm_limit and self.tokens and sum(t for _, t in self.tokens) + tokens > faults.tpm_limit:
            return 60 - (now - self.tokens[0][0])
        return None


class LLMServerState:
    def __init__(self, faults: LLMFaults, api_key: str | None = None) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.limits = _Limits()
        self.stats: Counter[str] = Counter()
        self.api_key = api_key
        self._replaced = asyncio.Event()  # set (then renewed) each time the faults are replaced

    def set_faults(self, faults: LLMFaults) -> None:
        self.faults = faults
        self._replaced.set()
        self._replaced = asyncio.Event()
        self.rng = random.Random(faults.seed)
        self.limits = _Limits()  # new limits start with an empty window, so tests see exactly rpm_limit successes


    async def pass_gate(self, prompt: str) -> None:
        """Wait while ``prompt`` contains a string of ``faults.hold_prompts_with`` (re-checked at each replacement)."""
        while any(s in prompt for s in self.faults.hold_prompts_with):
            self.stats["held"] += 1
            await self._replaced.wait()


def _error(status: int, message: str, etype: str, code: str | None, headers: dict[str, str]) -> web.Response:
    body = {"error": {"message": message, "type": etype, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state: LLMServerState = request.app["state"]
    faults = state.faults
    now = time.monotonic()
    headers = state.limits.headers(faults, now)
    state.stats["requests"] += 1
    if state.api_key and request.headers.get("Authorization", "") != f"Bearer {state.api_key}":
        state.stats["401"] += 1
        return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key", headers)
    try:
        body = await request.json()
        messages = body["messages"]
        if not isinstance(messages, list):
            raise TypeError
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        state.stats["400"] += 1
        return _error(400, "Request body must be JSON with a 'messages' list.", "invalid_request_error", None, headers)
    text = _message_text(messages)
    await state.pass_gate(text)
    faults, now = state.faults, time.monotonic()  # the gate may have waited for new faults
    prompt_tokens = count_tokens(text)
    wait = state.limits.over(faults, now, prompt_tokens)
    if wait is not None:
        state.stats["429_limit"] += 1
        headers.update({"Retry-After": f"{max(faults.retry_after_s, wait):.0f}",
                        "retry-after-ms": str(int(max(faults.retry_after_s, wait) * 1000))})
        return _error(429, "Rate limit reached for requests.", "requests", "rate_limit_exceeded", headers)
    state.limits.requests.append(now)
    dice = state.rng.random
    if dice() < faults.rate_429:
        state.stats["429"] += 1
        headers.update({"Retry-After": f"{faults.retry_after_s:g}", "retry-after-ms": str(int(faults.retry_after_s * 1000)),
                        "x-ratelimit-remaining-requests": "0"})
        return _error(429, "Rate limit reached (injected).", "requests", "rate_limit_exceeded", headers)
    if dice() < faults.rate_500:
        state.stats["500"] += 1
        return _error(500, "The server had an error while processing your request (injected).", "server_error", None, headers)
    if dice() < faults.rate_timeout:
        state.stats["timeout"] += 1
        await asyncio.sleep(faults.timeout_s)
    json_mode = (body.get("response_format") or {}).get("type") in {"json_object", "json_schema"}
    content = complete(messages, json_mode=json_mode)
    finish = "stop"
    if dice() < faults.rate_malformed:
        state.stats["malformed"] += 1
        content = _MALFORMED
    elif dice() < faults.rate_truncated:
        state.stats["truncated"] += 1
        content, finish = content[: max(1, len(content) // 3)], "length"
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    completion_tokens = count_tokens(content)
    if isinstance(max_tokens, int) and 0 < max_tokens < completion_tokens:
        content, finish = " ".join(_TOKEN.findall(content)[:max_tokens]), "length"
        completion_tokens = max_tokens
    state.limits.tokens.append((now, prompt_tokens + completion_tokens))
    delay = faults.latency_s + faults.latency_per_token_s * completion_tokens
    if delay:
        state.stats["delay_ms"] += round(delay * 1000)  # what was injected, for tests and benchmarks to read back
        await asyncio.sleep(delay)
    if dice() < faults.rate_bad_json:
        state.stats["bad_json"] += 1
        return web.Response(text='{"id": "chatcmpl-broken", "choices": [', content_type="application/json", headers=headers)
    state.stats["ok"] += 1
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
             "total_tokens": prompt_tokens + completion_tokens}
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    if body.get("stream"):
        return await _stream(request, cid, content, finish, usage, headers, bool((body.get("stream_options") or {}).get("include_usage")))
    return web.json_response({
        "id": cid, "object": "chat.completion", "created": int(time.time()), "model": MODEL_NAME,
        "system_fingerprint": "trawl-extractive-1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish, "logprobs": None}],
        "usage": usage,
    }, headers=headers)


async def _stream(request, cid, content, finish, usage, headers, include_usage) -> web.StreamResponse:
    resp = web.StreamResponse(headers={**headers, "Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    base = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": MODEL_NAME}
    pieces = [content[i: i + 64] for i in range(0, len(content), 64)] or [""]
    first = True
    for piece in pieces:
        delta = {"role": "assistant", "content": piece} if first else {"content": piece}
        first = False
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await resp.write(f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': finish}]})}\n\n".encode())
    if include_usage:
        await resp.write(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode())
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


async def models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [
        {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "trawl-local-world"}]})


async def admin_faults(request: web.Request) -> web.Response:
    state: LLMServerState = request.app["state"]
    if request.method == "POST":
        try:
            state.set_faults(LLMFaults.model_validate(await request.json()))
        except Exception as exc:  # noqa: BLE001 - a bad admin payload is the caller's problem, reported back
            return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(state.faults.model_dump())


async def admin_stats(request: web.Request) -> web.Response:
    return web.json_response(dict(request.app["state"].stats))


def make_app(faults: LLMFaults | None = None, api_key: str | None = None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app["state"] = LLMServerState(faults or LLMFaults(), api_key)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/chat/completions", chat_completions)
    app.router.add_get("/v1/models", models)
    app.router.add_route("*", "/_admin/faults", admin_faults)
    app.router.add_get("/_admin/stats", admin_stats)
    return app


class LLMServer:
    """Handle on a running LLM server subprocess."""

    def __init__(self, proc: ServerProcess) -> None:
        self.proc = proc
        self.port = proc.port
        self.base_url = f"http://127.0.0.1:{proc.port}/v1"
        self.admin_url = f"http://127.0.0.1:{proc.port}/_admin"

    def set_faults(self, faults: LLMFaults | dict) -> None:
        faults = faults if isinstance(faults, LLMFaults) else LLMFaults.model_validate(faults)
        post_json(f"{self.admin_url}/faults", faults.model_dump())

    def faults(self) -> LLMFaults:
        return LLMFaults.model_validate(get_json(f"{self.admin_url}/faults"))

    def stats(self) -> dict[str, int]:
        return get_json(f"{self.admin_url}/stats")

    def stop(self) -> None:
        self.proc.stop()

    def __enter__(self) -> LLMServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_llm_server(faults: LLMFaults | None = None, port: int = 0, *, api_key: str | None = None,
                     detached: bool = False) -> LLMServer:
    """Start the server as a real subprocess on 127.0.0.1 and return once it accepts connections."""
    args = ["--port", str(port), "--faults", (faults or LLMFaults()).model_dump_json()]
    if api_key:
        args += ["--api-key", api_key]
    return LLMServer(spawn_server("llm", "pipelines.world.llm_server", args, detached=detached))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="trawl's local OpenAI-compatible extractive LLM server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8782)
    parser.add_argument("--faults", default="{}", help="LLMFaults as JSON")
    parser.add_argument("--api-key", default=None, help="Require this bearer key (401 otherwise)")
    parser.add_argument("--detached", action="store_true", help="Do not exit when stdin closes")
    args = parser.parse_args(argv)
    app = make_app(LLMFaults.model_validate_json(args.faults), args.api_key)
    serve_app(app, args.host, args.port, args.detached)


if __name__ == "__main__":
    main()
