"""The exact request body sent to a provider, and its SHA-256 (the cache key and ``request_hash``).

The body is shaped by the model's capabilities (``pipelines.llm.capabilities``:
which token-limit parameter, whether temperature/stop/reasoning_effort may be
sent, where the system text goes, which response_format) and by what the
gateway learned from a 400 during the job. It is built once per (provider,
request) and hashed as canonical JSON (sorted keys, no whitespace, UTF-8),
together with the prompt version, so the hash changes whenever anything that
could change the answer changes: model, messages, temperature, the output cap,
stop, response_format, reasoning_effort or the prompts.
"""

from __future__ import annotations

import hashlib
import json

from pipelines.llm.capabilities import Capabilities, capabilities_for
from pipelines.llm.config import ProviderConfig
from pipelines.llm.types import LLMRequest

__all__ = ["request_body", "request_hash", "apply_stop", "shape_messages"]

_JSON_MODE_HINT = "\n\nReply with one JSON object (no tags, no prose) that follows this JSON schema:\n"


def shape_messages(messages: list[dict], system_role: str) -> list[dict]:
    """``messages`` with the system text under the role the model accepts.

    ``developer`` renames it (OpenAI: "with o1 models and newer, developer
    messages replace the previous system messages",
    https://platform.openai.com/docs/api-reference/chat/create); ``none``
    folds it into the first user message, separated by a blank line.
    """
    out = [{"role": m["role"], "content": m["content"]} for m in messages]
    if system_role == "system":
        return out
    if system_role == "developer":
        return [{**m, "role": "developer"} if m["role"] == "system" else m for m in out]
    system = "\n\n".join(m["content"] for m in out if m["role"] == "system")
    rest = [m for m in out if m["role"] != "system"]
    if system:
        first_user = next((i for i, m in enumerate(rest) if m["role"] == "user"), None)
        if first_user is None:
            rest.insert(0, {"role": "user", "content": system})
        else:
            rest[first_user] = {"role": "user", "content": f"{system}\n\n{rest[first_user]['content']}"}
    return rest


def _response_format(caps: Capabilities, req: LLMRequest, body: dict) -> None:
    schema = req.response_schema
    if not schema or caps.structured_output == "none":
        return
    if caps.structured_output == "json_schema":
        # https://platform.openai.com/docs/guides/structured-outputs: strict mode needs every property
        # required and additionalProperties false, which the prompts' schemas are written to.
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": schema["name"], "schema": schema["schema"], "strict": True}}
        return
    # JSON mode: "you must also instruct the model to produce JSON via a system or user message" (same guide).
    body["response_format"] = {"type": "json_object"}
    last = body["messages"][-1]
    last["content"] = last["content"] + _JSON_MODE_HINT + json.dumps(schema["schema"], sort_keys=True)


def request_body(provider: ProviderConfig, req: LLMRequest, learned: dict | None = None) -> dict:
    """The chat.completions body for ``provider``: every parameter that is sent, and nothing else.

    ``learned``: capability changes the gateway adopted after a 400 named an
    unsupported parameter (``pipelines.llm.adapt``).
    """
    caps = capabilities_for(provider, learned)
    body: dict = {"model": provider.model, "messages": shape_messages(req.messages, caps.system_role)}
    if caps.temperature:
        body["temperature"] = provider.temperature
    if caps.token_limit != "none":
        body[caps.token_limit] = req.max_tokens or provider.max_output_tokens
    if req.stop and caps.stop:
        body["stop"] = list(req.stop)
    effort = provider.effort_for(req.stage)
    if effort and caps.reasoning_effort:
        body["reasoning_effort"] = effort
    _response_format(caps, req, body)
    return body


def request_hash(body: dict, prompt_version: str) -> str:
    canonical = json.dumps({"body": body, "prompt_version": prompt_version}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def apply_stop(text: str, stop: list[str] | None) -> str:
    """Cut ``text`` at the first stop sequence, for providers that cannot do it server-side."""
    for seq in stop or ():
        cut = text.find(seq)
        if cut >= 0:
            text = text[:cut]
    return text
