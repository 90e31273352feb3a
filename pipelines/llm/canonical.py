"""The exact request body sent to a provider, and its SHA-256 (the cache key and ``request_hash``).

The body is built once per (provider, request) and hashed as canonical JSON
(sorted keys, no whitespace, UTF-8), together with the prompt version, so the
hash changes whenever anything that could change the answer changes: model,
messages, temperature, max_tokens, stop, response_format or the prompts.
"""

from __future__ import annotations

import hashlib
import json

from pipelines.llm.config import ProviderConfig
from pipelines.llm.types import LLMRequest

__all__ = ["request_body", "request_hash", "apply_stop"]


def request_body(provider: ProviderConfig, req: LLMRequest) -> dict:
    """The chat.completions body for ``provider``: every parameter that is sent, and nothing else."""
    body: dict = {
        "model": provider.model,
        "messages": [{"role": m["role"], "content": m["content"]} for m in req.messages],
        "temperature": provider.temperature,
        "max_tokens": req.max_tokens or provider.max_output_tokens,
    }
    if req.stop and provider.stop_sequences:
        body["stop"] = list(req.stop)
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
