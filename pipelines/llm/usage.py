"""The token counts a provider reports beyond input/output: cached input and reasoning.

Every count here is a *part* of a total the reply already carries, as the
OpenTelemetry GenAI conventions define them
(https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/):
``gen_ai.usage.cache_read.input_tokens`` and
``gen_ai.usage.cache_creation.input_tokens`` are included in
``gen_ai.usage.input_tokens``; ``gen_ai.usage.reasoning.output_tokens`` is
included in ``gen_ai.usage.output_tokens`` (defined by
https://github.com/open-telemetry/semantic-conventions/pull/3383). ``None``
means the provider did not say (which is not the same as 0).

Shapes read (first one present wins):

- OpenAI chat completions (and the servers that copy its shape: OpenRouter,
  vLLM, Groq, Mistral, Gemini's OpenAI-compatible endpoint):
  ``usage.prompt_tokens_details.cached_tokens``,
  ``usage.completion_tokens_details.reasoning_tokens``
  (https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage);
  OpenRouter adds ``usage.prompt_tokens_details.cache_write_tokens``
  (https://openrouter.ai/docs/use-cases/usage-accounting).
- DeepSeek: ``usage.prompt_cache_hit_tokens`` (``prompt_tokens`` = hit + miss;
  https://api-docs.deepseek.com/guides/kv_cache).
- Anthropic's own names, which some proxies pass through:
  ``usage.cache_read_input_tokens`` / ``usage.cache_creation_input_tokens``
  (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching). In
  Anthropic's native API those are *not* part of ``input_tokens``; behind an
  OpenAI-compatible ``prompt_tokens`` they are read as parts of it, and a
  count larger than the total is dropped rather than trusted. Anthropic's own
  OpenAI SDK compatibility layer does no prompt caching and reports no token
  details (https://docs.anthropic.com/en/api/openai-sdk), so its calls have
  these columns NULL.

Some OpenAI-compatible layers over Gemini report thinking tokens in
``completion_tokens_details.reasoning_tokens`` but leave them out of
``completion_tokens`` (while ``total_tokens`` has them); Gemini bills them as
output (https://ai.google.dev/gemini-api/docs/pricing). ``output_tokens_of``
adds them back when ``total_tokens`` proves they were left out.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UsageDetails", "usage_details", "output_tokens_of"]


@dataclass(frozen=True)
class UsageDetails:
    """Parts of a reply's token totals; each ``None`` when the provider did not report it."""

    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _first(*values: object) -> int | None:
    for value in values:
        count = _count(value)
        if count is not None:
            return count
    return None


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _part(count: int | None, total: object) -> int | None:
    # A part larger than its total is a reporting quirk, not a count to price.
    whole = _count(total)
    return count if count is None or whole is None or count <= whole else None


def output_tokens_of(usage: object) -> int | None:
    """``completion_tokens``, plus reasoning tokens when ``total_tokens = prompt + completion + reasoning`` shows they
    were left out of it; ``None`` when not reported."""
    if not isinstance(usage, dict):
        return None
    completion = _count(usage.get("completion_tokens"))
    details = usage.get("completion_tokens_details")
    reasoning = _count(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    prompt, total = _count(usage.get("prompt_tokens")), _count(usage.get("total_tokens"))
    if completion is not None and reasoning and prompt is not None and total == prompt + completion + reasoning:
        return completion + reasoning
    return completion


def usage_details(usage: object) -> UsageDetails:
    """The cached and reasoning parts of a chat-completions ``usage`` object (a dict; anything else gives all ``None``)."""
    if not isinstance(usage, dict):
        return UsageDetails()
    prompt = _mapping(usage.get("prompt_tokens_details"))
    completion = _mapping(usage.get("completion_tokens_details"))
    cache_read = _first(prompt.get("cached_tokens"), usage.get("prompt_cache_hit_tokens"), usage.get("cache_read_input_tokens"))
    cache_write = _first(prompt.get("cache_write_tokens"), usage.get("cache_creation_input_tokens"))
    reasoning = _first(completion.get("reasoning_tokens"))
    return UsageDetails(
        cache_read_input_tokens=_part(cache_read, usage.get("prompt_tokens")),
        cache_creation_input_tokens=_part(cache_write, usage.get("prompt_tokens")),
        reasoning_output_tokens=_part(reasoning, output_tokens_of(usage)),
    )
