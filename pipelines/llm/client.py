"""One attempt against one OpenAI-compatible provider, with openai's exceptions turned into trawl's.

The official ``AsyncOpenAI`` client is used with ``max_retries=0``: the
gateway is the only retry loop. Every response's headers (success or error)
go to ``on_headers`` so the gateway can follow the server's own rate-limit
headers. No openai or httpx object leaves this module: callers see a
``Reply`` or an error from ``pipelines.errors`` whose message never contains
the API key.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import httpx2 as httpx  # the HTTP client the openai SDK itself uses (a pinned dependency of it)
import openai

from pipelines.errors import AuthError, BadRequestError, RateLimitedError, TimeoutError_, TrawlError, UnavailableError, exception_chain
from pipelines.llm.config import ProviderConfig
from pipelines.llm.replies import read_message
from pipelines.llm.usage import UsageDetails, output_tokens_of, usage_details
from pipelines.retry_after import retry_after_from_headers

__all__ = ["Reply", "ProviderClient", "convert_openai_error", "scrub"]

logger = logging.getLogger(__name__)

_KEYLIKE = re.compile(r"\b(sk|rk|pk|key)-[A-Za-z0-9_\-*]{6,}")
_CONTEXT_LENGTH = re.compile(r"context[_ ]length|maximum context|too many tokens|context window", re.I)


@dataclass(frozen=True)
class Reply:
    text: str
    response_model: str
    input_tokens: int
    output_tokens: int
    finish_reason: str | None
    reasoning_chars: int = 0  # reasoning set apart from the answer (reasoning_content/reasoning, <think>...)
    refusal: str | None = None
    usage: UsageDetails = UsageDetails()  # cached input and reasoning tokens, where reported


def scrub(message: str, secret: str | None = None, limit: int = 500) -> str:
    """``message`` without the key (or anything shaped like one), cut to ``limit`` characters."""
    if secret and len(secret) >= 4:
        message = message.replace(secret, "[redacted]")
    return _KEYLIKE.sub("[redacted]", message)[:limit]


def _headers_of(exc: openai.APIStatusError) -> dict[str, str]:
    try:
        return {k.lower(): v for k, v in exc.response.headers.items()}
    except Exception as err:  # noqa: BLE001 - a malformed response must not hide the real error
        logger.debug("no headers readable on %s: %r", type(exc).__name__, err)
        return {}


def _refused_or_dropped(exc: BaseException) -> BaseException | None:
    """The aiohttp connection error under an ``APITimeoutError`` that was no timeout, else None.

    The SDK's aiohttp transport (openai/_vendor/httpx_aiohttp) maps every ``aiohttp.ClientConnectionError``
    that is not a timeout, a refused connection or a dropped one included, to ``httpx.ConnectTimeout``,
    which the SDK raises as ``APITimeoutError``; the aiohttp error is kept as the cause.
    """
    for cause in exception_chain(exc):
        if isinstance(cause, aiohttp.ClientConnectionError):
            return None if isinstance(cause, aiohttp.ServerTimeoutError | asyncio.TimeoutError) else cause
    return None


def convert_openai_error(exc: BaseException, provider: str, secret: str | None = None) -> TrawlError:
    """The trawl error for an exception raised by the openai SDK (or by our own timeout)."""
    msg = scrub(f"{provider}: {getattr(exc, 'message', None) or exc}", secret)
    if isinstance(exc, openai.APITimeoutError) and (dropped := _refused_or_dropped(exc)) is not None:
        return UnavailableError(scrub(f"{provider}: connection error: {dropped}", secret), reason="connection_error")
    if isinstance(exc, openai.APITimeoutError | asyncio.TimeoutError | TimeoutError):
        return TimeoutError_(f"{provider}: request timed out", reason="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return UnavailableError(scrub(f"{provider}: connection error: {exc.__cause__ or exc}", secret), reason="connection_error")
    if isinstance(exc, openai.APIResponseValidationError):
        return UnavailableError(msg, reason="malformed_response")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code = str(getattr(exc, "code", "") or "")
        if status == 429:
            if code == "insufficient_quota":  # retrying an empty account never helps
                return AuthError(msg, reason="insufficient_quota")
            return RateLimitedError(msg, retry_after=retry_after_from_headers(_headers_of(exc)), reason="http_429")
        if status == 408:
            return TimeoutError_(msg, reason="http_408")
        if status == 409 or status >= 500:
            return UnavailableError(msg, reason=f"http_{status}")
        if status in (401, 403):
            return AuthError(msg, reason=f"http_{status}")
        if code == "context_length_exceeded" or _CONTEXT_LENGTH.search(msg):
            return BadRequestError(msg, reason="context_length")
        err = BadRequestError(msg, reason=f"http_{status}")
        err.param = str(getattr(exc, "param", "") or "")  # what pipelines.llm.adapt reads to adapt the request
        return err
    if isinstance(exc, openai.OpenAIError):
        return UnavailableError(msg, reason="client_error")
    return UnavailableError(msg, reason=type(exc).__name__.lower())


# Seconds past ``timeout_s`` after which trawl gives up on a call the SDK's own timeout did not end
# (a transport that ignores it); the SDK's timeout is the one that normally fires.
TIMEOUT_MARGIN_S = 5.0


def _estimate_tokens(text: str) -> int:
    # Only when a server reports no usage: ~4 characters per token for English text.
    return max(1, len(text) // 4)


@functools.lru_cache(maxsize=1)
def _tls_context():
    """httpx's default TLS context (CA bundle, SSL_CERT_FILE/SSL_CERT_DIR honoured), built once per process."""
    return httpx.create_ssl_context()


def warm_up() -> None:
    """Build the TLS context now (it loads the CA bundle, ~40 ms), not on a job's first LLM call."""
    _tls_context()


class ProviderClient:
    """Calls one provider; one instance per provider, shared by every concurrent call."""

    def __init__(self, provider: ProviderConfig, api_key: str, on_headers: Callable[[dict[str, str]], None] | None = None):
        self.provider = provider
        self._key = api_key
        self._on_headers = on_headers or (lambda headers: None)
        self._client: openai.AsyncOpenAI | None = None

    def _sdk(self) -> openai.AsyncOpenAI:
        if self._client is None:  # built on first use: its connection pool binds to the loop that runs the calls
            self._client = self._new_sdk()
        return self._client

    def _new_sdk(self) -> openai.AsyncOpenAI:
        # aiohttp as the SDK's HTTP transport: the SDK's own DefaultAioHttpClient, which its README offers
        # "for improved concurrency performance" (openai-python, "With aiohttp"). Measured with
        # benchmarks/gateway_cpu.py, 1,500 judge-sized calls, 200 in flight: 1.17 ms of CPU per call
        # against 1.48 ms for httpx's own transport over pools of 8 connections (httpx's pool checks
        # every connection it holds on every request), and one pool is enough. Errors, timeouts and
        # proxies from the environment still go through httpx's client and the SDK's error classes.
        # One TLS context per process: building one loads the CA bundle (~40 ms). The pool holds as many
        # connections as the provider may have calls in flight (the SDK's default caps it at 1,000, and a
        # call waiting for a connection would count that wait against its timeout).
        limits = httpx.Limits(max_connections=max(self.provider.max_concurrency, 100), max_keepalive_connections=100)
        http_client = openai.DefaultAioHttpClient(verify=_tls_context(), limits=limits)
        timeout_s = self.provider.timeout_s
        if self.provider.kind == "azure":
            # The SDK's Azure client posts to {endpoint}/openai/deployments/{model}/chat/completions?api-version=...
            # with the key in the api-key header, as https://learn.microsoft.com/en-us/azure/ai-foundry/openai/reference
            # documents; the body's "model" is the deployment name.
            return openai.AsyncAzureOpenAI(azure_endpoint=self.provider.base_url, api_version=self.provider.api_version,
                                           api_key=self._key, max_retries=0, timeout=timeout_s, http_client=http_client)
        return openai.AsyncOpenAI(base_url=self.provider.base_url, organization=None, project=None,
                                  api_key=self._key, max_retries=0, timeout=timeout_s, http_client=http_client)

    async def complete(self, body: dict) -> Reply:
        """Send ``body`` once; a ``Reply`` or a trawl error.

        The request goes through the SDK's own machinery (``AsyncOpenAI.post``,
        as its README shows for any endpoint): base URL, auth header, timeout,
        ``max_retries=0`` and its status-error classes all apply. It skips
        ``chat.completions.create``'s recursive TypedDict transform of the
        messages and the pydantic build of the response: ``body`` is already
        the exact request (``canonical.request_body``, also the cache key), and
        those two steps were about half of the gateway's CPU per call (measured
        with ``benchmarks/gateway_cpu.py``).
        """
        try:
            # Belt and braces over the SDK's own timeout. asyncio.timeout, not wait_for: on Python 3.11
            # wait_for wraps the call in one more Task, a cost on every call.
            async with asyncio.timeout(self.provider.timeout_s + TIMEOUT_MARGIN_S):
                response = await self._sdk().post("/chat/completions", cast_to=httpx.Response, body=body)
        except openai.APIStatusError as exc:
            self._on_headers(_headers_of(exc))
            raise convert_openai_error(exc, self.provider.name, self._key) from None
        except (openai.OpenAIError, TimeoutError) as exc:
            raise convert_openai_error(exc, self.provider.name, self._key) from None
        except aiohttp.ClientError as exc:  # what the SDK's aiohttp transport does not map to httpx (e.g. a header over 8 KB)
            reason = "malformed_response" if isinstance(exc, aiohttp.ClientResponseError) else "connection_error"
            raise UnavailableError(scrub(f"{self.provider.name}: {reason.replace('_', ' ')}: {type(exc).__name__}: {exc}", self._key),
                                   reason=reason) from None
        self._on_headers({k.lower(): v for k, v in response.headers.items()})
        try:
            data = json.loads(response.content)
            choice = data["choices"][0]
            parts = read_message(choice["message"], choice.get("finish_reason"))
            text = parts.text
            usage = data.get("usage") or {}
            model = data.get("model")
        except Exception as exc:  # noqa: BLE001 - any unusable body is the server's fault, and worth retrying
            raise UnavailableError(scrub(f"{self.provider.name}: malformed response: {type(exc).__name__}: {exc}", self._key),
                                   reason="malformed_response") from None
        input_tokens = usage.get("prompt_tokens")
        output_tokens = output_tokens_of(usage)  # reasoning tokens a provider left out are added back
        return Reply(
            text=text,
            response_model=model if isinstance(model, str) and model else self.provider.model,
            input_tokens=int(input_tokens) if isinstance(input_tokens, int) else _estimate_tokens(str(body["messages"])),
            output_tokens=int(output_tokens) if isinstance(output_tokens, int) else _estimate_tokens(text),
            finish_reason=choice.get("finish_reason"),
            reasoning_chars=parts.reasoning_chars,
            refusal=parts.refusal,
            usage=usage_details(usage),
        )

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()
