"""Adapting a request after a 400 that names an unsupported parameter or value.

The model family table (``pipelines.llm.capabilities``) cannot know every
deployment. When a server answers 400/422 and the error names what it does
not accept, ``adaptation_for`` returns the capability change that avoids it
(drop the parameter, rename the token limit, fold the system message); the
gateway retries once with it, records it in ``llm_calls.request_adaptations``
and keeps it for the rest of the job for that provider and model. Any other
400 stays a recorded failure.

Error texts this reads (each as the service documents or returns it):

* OpenAI: ``{"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this
  model. Use 'max_completion_tokens' instead.", "param": "max_tokens", "code": "unsupported_parameter"}}``
  and ``"Unsupported value: 'temperature' does not support 0.0 with this model. Only the default (1)
  value is supported."`` (code ``unsupported_value``); ``"Unsupported value: 'messages[0].role' does
  not support 'system' with this model."``; ``"Invalid parameter: 'response_format' of type
  'json_schema' is not supported with this model."``
  (https://platform.openai.com/docs/guides/error-codes, https://platform.openai.com/docs/guides/reasoning)
* vLLM / Jinja chat templates without a system role: ``"System role not supported"``
  (https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html#chat-template)
* Mistral (pydantic validation, 422): ``"Extra inputs are not permitted"`` with the field's name
  (https://docs.mistral.ai/api/)
* a role the API version does not know: ``"Invalid value: 'developer'. Supported values are: 'system',
  'assistant', 'user', 'function', and 'tool'."`` with ``param: messages[0].role`` (Azure OpenAI before the
  developer role, https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/reasoning)
* Groq: ``"'logprobs' is not supported"``-style 400s for fields it lists as unsupported
  (https://console.groq.com/docs/openai)
"""

from __future__ import annotations

import re

from pipelines.errors import TrawlError
from pipelines.llm.capabilities import Capabilities

__all__ = ["adaptation_for", "describe"]

# Words that say "this parameter/value is not accepted", as opposed to "your input is too long" or "bad key".
_REJECTS = re.compile(r"unsupported|not supported|does not support|not (?:allowed|permitted|available)|"
                      r"extra (?:inputs|fields)|unrecognized|unknown (?:parameter|field|argument)|invalid parameter|"
                      r"only the default|supported values are", re.I)
_SYSTEM_ROLE = re.compile(r"system (?:role|message)s? (?:is |are )?not supported|"
                          r"role'? does not support '?system|does not support '?(?:system|developer)|"
                          r"(?:system|developer) role", re.I)
_PARAMS = ("max_completion_tokens", "max_tokens", "temperature", "top_p", "stop", "reasoning_effort", "response_format")


def _named(message: str, param: str) -> str | None:
    """The parameter the error names: its ``param`` field first, else the first known name quoted in the text."""
    for name in _PARAMS:
        if param == name or param.startswith(f"{name}."):
            return name
    found = [(m.start(), name) for name in _PARAMS if (m := re.search(rf"\b{name}\b", message))]
    return min(found)[1] if found else None


def adaptation_for(err: TrawlError, caps: Capabilities) -> dict | None:
    """The capability change that avoids ``err`` (a 400/422), or None when the error names nothing we can change.

    Returns a dict of ``Capabilities`` fields, e.g. ``{"token_limit": "max_completion_tokens"}``;
    only a change that differs from ``caps`` is returned, so the same error never adapts twice.
    """
    if not err.reason.startswith("http_4") or err.reason in ("http_401", "http_403", "http_404", "http_429"):
        return None
    message, param = str(err), getattr(err, "param", "") or ""
    if not _REJECTS.search(message):  # e.g. "max_tokens is too large": a value to fix in the spec, not to drop
        return None
    change: dict | None = None
    if _SYSTEM_ROLE.search(message) or param.startswith("messages") and "role" in f"{param} {message}":
        change = {"system_role": "none"}
    else:
        name = _named(message, param)
        if name == "max_tokens":
            change = {"token_limit": "max_completion_tokens" if "max_completion_tokens" in message else "none"}
        elif name == "max_completion_tokens":
            change = {"token_limit": "max_tokens"}
        elif name == "response_format":
            change = {"structured_output": "none"}
        elif name is not None:
            change = {name: False}
    if change is None or caps.merged(change) == caps:
        return None
    return change


def describe(learned: dict) -> str:
    """A short, stable text for ``llm_calls.request_adaptations``: ``token_limit=max_completion_tokens;temperature=off``."""
    shown = []
    for key in sorted(learned):
        value = learned[key]
        shown.append(f"{key}={'off' if value is False else value}")
    return ";".join(shown)
