"""Reading a chat.completions reply: the answer text, set apart from any reasoning, plus finish_reason and refusal.

Reasoning never reaches a parser. It arrives as

* a ``reasoning_content`` field (DeepSeek, https://api-docs.deepseek.com/guides/reasoning_model;
  vLLM, https://docs.vllm.ai/en/latest/features/reasoning_outputs.html; llama.cpp server with
  ``--reasoning-format deepseek``) or a ``reasoning`` field (OpenRouter,
  https://openrouter.ai/docs/use-cases/reasoning-tokens; Groq ``reasoning_format: parsed``,
  https://console.groq.com/docs/reasoning; Ollama);
* ``<think>``/``<thinking>``/``<reasoning>``/``<thought>`` blocks inside the content (models served raw:
  Groq ``reasoning_format: raw``, vLLM without a reasoning parser, Ollama, LM Studio), including a
  block whose opening tag was part of the prompt template (content starts inside it and only
  ``</think>`` is seen) and a block never closed (the whole content is reasoning);
* content given as a list of parts, where ``{"type": "thinking"}`` parts are reasoning and
  ``{"type": "text"}`` parts the answer (Mistral's magistral, https://docs.mistral.ai/capabilities/reasoning/).

A refusal is ``message.refusal`` (https://platform.openai.com/docs/guides/structured-outputs#refusals),
a ``{"type": "refusal"}`` part, or ``finish_reason: "content_filter"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.errors import RefusedError, TrawlError, TruncatedOutputError

__all__ = ["ReplyParts", "read_message", "split_reasoning", "reply_problem"]

_TAGS = ("think", "thinking", "reasoning", "thought")
_TAG_NAMES = "|".join(_TAGS)
_BLOCK = re.compile(rf"<({_TAG_NAMES})\b[^>]*>(.*?)</\1\s*>", re.S | re.I)
_OPEN = re.compile(rf"<({_TAG_NAMES})\b[^>]*>", re.I)
_CLOSE = re.compile(rf"</({_TAG_NAMES})\s*>", re.I)


@dataclass(frozen=True)
class ReplyParts:
    text: str  # the answer, reasoning removed
    reasoning_chars: int  # size of the reasoning set apart (0: none)
    refusal: str | None  # the model's refusal message, if it refused


def split_reasoning(content: str) -> tuple[str, str]:
    """(answer, reasoning) from content that may hold reasoning blocks."""
    reasoning: list[str] = []

    def keep(match: re.Match) -> str:
        reasoning.append(match.group(2))
        return ""

    text = _BLOCK.sub(keep, content)
    close = _CLOSE.search(text)
    if close and not _OPEN.search(text[: close.start()]):  # the opening tag was in the prompt template
        reasoning.append(text[: close.start()])
        text = text[close.end():]
    opened = _OPEN.search(text)
    if opened:  # never closed: everything after it is reasoning (typically cut off by the token limit)
        reasoning.append(text[opened.end():])
        text = text[: opened.start()]
    return text.strip(), "".join(reasoning)


def _flatten(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_flatten(v) for v in value)
    if isinstance(value, dict):
        return _flatten(value.get("text") or value.get("thinking") or value.get("content") or "")
    return ""


def _content_parts(content) -> tuple[str, str, str | None]:
    if content is None:
        return "", "", None
    if isinstance(content, str):
        return content, "", None
    if not isinstance(content, list):
        raise TypeError(f"message.content is {type(content).__name__}, not a string or a list of parts")
    text, reasoning, refusal = [], [], None
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else "text"
        if kind in ("thinking", "reasoning"):
            reasoning.append(_flatten(part.get(kind) if part.get(kind) is not None else part))
        elif kind == "refusal":
            refusal = _flatten(part.get("refusal")) or "refused"
        else:
            text.append(_flatten(part))
    return "".join(text), "".join(reasoning), refusal


def read_message(message: dict, finish_reason: str | None) -> ReplyParts:
    """The answer, the reasoning's size and any refusal from ``choices[0].message``. TypeError on an unusable shape."""
    content, reasoning, refusal = _content_parts(message.get("content"))
    fields = [message.get(k) for k in ("reasoning_content", "reasoning")]
    reasoning += "".join(f for f in fields if isinstance(f, str))
    answer, in_content = split_reasoning(content)
    refusal = message.get("refusal") or refusal
    if finish_reason == "content_filter" and not refusal:
        refusal = "the provider's content filter stopped the reply (finish_reason content_filter)"
    return ReplyParts(answer, len(reasoning) + len(in_content), refusal if refusal else None)


def reply_problem(provider: str, body: dict, reply) -> TrawlError | None:
    """The outcome a 200 reply (a ``client.Reply``) still is: ``RefusedError``, ``TruncatedOutputError``
    (finish_reason ``length``: the message names the setting to raise), or None when it is usable."""
    if reply.refusal:
        return RefusedError(f"{provider}: the model refused (finish_reason {reply.finish_reason}): {reply.refusal[:300]}")
    if reply.finish_reason == "length":
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        spent = f", {reply.reasoning_chars} characters of it reasoning" if reply.reasoning_chars else ""
        return TruncatedOutputError(
            f"{provider}: the reply was cut off at the output token limit (finish_reason length, "
            f"{reply.output_tokens} output tokens{spent}); raise max_output_tokens of provider {provider!r} "
            f"(now {cap if cap is not None else 'unset'})"
        )
    return None
