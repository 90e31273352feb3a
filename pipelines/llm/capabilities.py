"""What each model family accepts in a chat.completions request: ONE table, model-name patterns -> capabilities.

``capabilities_for(provider)`` is the table row for the provider's model (or
its ``family``, for Azure deployment names and aliases), with the provider's
``capabilities`` overrides from the spec/profile on top, and with what the
gateway learned from a 400 during the job (``Capabilities.merged``) on top of
that. ``pipelines.llm.canonical`` builds the request body from it.

Fields:
    token_limit        which parameter carries the output cap: ``max_tokens``,
                       ``max_completion_tokens`` (OpenAI reasoning models) or
                       ``none`` (not sent)
    temperature/top_p/stop   whether the parameter may be sent at all
    system_role        ``system``, ``developer`` (OpenAI o-series / gpt-5) or
                       ``none``: the system text is folded into the first user
                       message
    reasoning_effort   whether ``reasoning_effort`` may be sent (the value is
                       the provider's per-stage setting)
    structured_output  ``json_schema`` (strict schema in ``response_format``),
                       ``json_object`` (JSON mode; the schema goes in the prompt)
                       or ``none`` (tags/JSON in the text, parsed tolerantly)

Patterns are ``fnmatch`` globs matched case-insensitively against the model
name and against its last ``/``-segment (OpenRouter's ``openai/gpt-5``,
Groq's ``qwen/qwen3-32b``); the first matching row wins, ``*`` is the
default. Each row cites the document its rules come from.
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass, fields, replace
from typing import Literal

__all__ = ["Capabilities", "FAMILIES", "TokenLimit", "SystemRole", "StructuredOutput", "capabilities_for", "family_row"]

TokenLimit = Literal["max_tokens", "max_completion_tokens", "none"]
SystemRole = Literal["system", "developer", "none"]
StructuredOutput = Literal["json_schema", "json_object", "none"]


@dataclass(frozen=True)
class Capabilities:
    """What one model accepts; see the module docstring for each field."""

    token_limit: TokenLimit = "max_tokens"
    temperature: bool = True
    top_p: bool = True
    stop: bool = True
    system_role: SystemRole = "system"
    reasoning_effort: bool = False
    structured_output: StructuredOutput = "none"

    def merged(self, changes: dict | None) -> Capabilities:
        """This row with ``changes`` (field -> value; None values ignored) applied."""
        applied = {k: v for k, v in (changes or {}).items() if v is not None and k in _FIELDS and getattr(self, k) != v}
        return replace(self, **applied) if applied else self  # once per LLM request: no copy when nothing changes


_FIELDS = frozenset(f.name for f in fields(Capabilities))

_OPENAI_REF = "https://platform.openai.com/docs/api-reference/chat/create"
_OPENAI_REASONING = "https://platform.openai.com/docs/guides/reasoning"
# OpenAI reasoning models: max_tokens "is not compatible with o-series models" (use max_completion_tokens);
# temperature/top_p other than the default and `stop` are rejected ("Unsupported value: 'temperature' does
# not support 0.0 with this model. Only the default (1) value is supported."); "with o1 models and newer,
# developer messages replace the previous system messages" (_OPENAI_REF, messages / developer message).
_OPENAI_REASONING_ROW = Capabilities("max_completion_tokens", False, False, False, "developer", True, "json_schema")

# (patterns, capabilities, source document). First match wins.
FAMILIES: tuple[tuple[tuple[str, ...], Capabilities, str], ...] = (
    # o1-mini / o1-preview: no system nor developer message, no response_format json_schema, no reasoning_effort
    # ("Unsupported value: 'messages[0].role' does not support 'system' with this model.").
    (("o1-mini*", "o1-preview*"), Capabilities("max_completion_tokens", False, False, False, "none", False, "none"),
     _OPENAI_REASONING),
    (("o1*", "o3*", "o4-mini*"), _OPENAI_REASONING_ROW, _OPENAI_REASONING),
    # gpt-5-chat-latest is the non-reasoning chat model of the family: sampling parameters are accepted.
    (("gpt-5*-chat*",), Capabilities("max_completion_tokens", True, True, True, "developer", False, "json_schema"), _OPENAI_REF),
    (("gpt-5*",), _OPENAI_REASONING_ROW, _OPENAI_REASONING),
    # gpt-4o / gpt-4.1: classic chat models; Structured Outputs (json_schema) from gpt-4o-2024-08-06 on.
    # https://platform.openai.com/docs/guides/structured-outputs
    (("gpt-4o*", "gpt-4.1*", "chatgpt-4o*"), Capabilities(structured_output="json_schema"), _OPENAI_REF),
    # gpt-oss (OpenAI open-weight, served by Groq, vLLM, Ollama...): reasoning_effort low|medium|high; the reasoning
    # comes back in `reasoning` / `reasoning_content`. https://console.groq.com/docs/reasoning
    (("gpt-oss*",), Capabilities(reasoning_effort=True), "https://console.groq.com/docs/reasoning"),
    # Anthropic's OpenAI SDK compatibility layer: max_tokens and max_completion_tokens fully supported, temperature
    # 0..1, stop: non-whitespace sequences; response_format and reasoning_effort are ignored (so not sent);
    # system/developer messages are hoisted into one system prompt. https://docs.claude.com/en/api/openai-sdk
    (("claude*",), Capabilities(), "https://docs.claude.com/en/api/openai-sdk"),
    # Gemini's OpenAI compatibility: reasoning_effort maps to the thinking budget, response_format json_schema is
    # supported (Structured output section). https://ai.google.dev/gemini-api/docs/openai
    (("gemini-2.5*", "gemini-3*"), Capabilities(reasoning_effort=True, structured_output="json_schema"),
     "https://ai.google.dev/gemini-api/docs/openai"),
    (("gemini*",), Capabilities(structured_output="json_schema"), "https://ai.google.dev/gemini-api/docs/openai"),
    # deepseek-reasoner: temperature/top_p "will not trigger an error but will also have no effect" (so not sent);
    # the chain of thought comes back in `reasoning_content`, and sending it back is a 400.
    # https://api-docs.deepseek.com/guides/reasoning_model
    (("deepseek-reasoner*", "deepseek-r1*"), Capabilities(temperature=False, top_p=False),
     "https://api-docs.deepseek.com/guides/reasoning_model"),
    # Mistral: magistral answers with content as a list of parts ({"type": "thinking"}, {"type": "text"});
    # chat models take response_format json_schema. https://docs.mistral.ai/capabilities/reasoning/ and
    # https://docs.mistral.ai/capabilities/structured-output/custom_structured_output/
    (("magistral*",), Capabilities(), "https://docs.mistral.ai/capabilities/reasoning/"),
    (("mistral-*", "ministral*", "codestral*", "open-mistral*", "pixtral*"), Capabilities(structured_output="json_schema"),
     "https://docs.mistral.ai/capabilities/structured-output/custom_structured_output/"),
    # Gemma's chat template has no system role (raises "System role not supported" under vLLM and others).
    # https://ai.google.dev/gemma/docs/core/prompt-structure ("Gemma ... only supports user and model roles")
    (("gemma*",), Capabilities(system_role="none"), "https://ai.google.dev/gemma/docs/core/prompt-structure"),
    # Everything else (vLLM, Ollama, llama.cpp server, LM Studio, Groq's Llama/Qwen...): the classic
    # chat.completions parameters. https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html,
    # https://docs.ollama.com/api/openai-compatibility, https://lmstudio.ai/docs/app/api/endpoints/openai
    (("*",), Capabilities(), _OPENAI_REF),
)


def _matches(pattern: str, name: str) -> bool:
    name = name.lower()
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name.rsplit("/", 1)[-1], pattern)


@functools.lru_cache(maxsize=1024)
def family_row(model: str) -> tuple[tuple[str, ...], Capabilities, str]:
    """The first table row whose pattern matches ``model``: (patterns, capabilities, source document)."""
    for row in FAMILIES:
        if any(_matches(p, model) for p in row[0]):
            return row
    return FAMILIES[-1]


def capabilities_for(provider, learned: dict | None = None) -> Capabilities:
    """Capabilities of ``provider`` (a ``ProviderConfig``): table row, then its overrides, then ``learned``."""
    caps = family_row(provider.family or provider.model)[1]
    legacy = {"structured_output": {True: "json_schema", False: "none", None: None}[provider.json_schema],
              "stop": provider.stop_sequences}
    overrides = provider.capabilities.model_dump() if provider.capabilities is not None else None
    return caps.merged(legacy).merged(overrides).merged(learned)
