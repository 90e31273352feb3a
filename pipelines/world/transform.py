"""The extractive engine's ``transform`` task (trawl's ``llm`` column kind), answered from the prompt alone.

A transform prompt (``pipelines.tasks.llm_kind.transform_messages``) has a
``<question>``, its inputs in ``<context>``, a ``<type>`` and optionally a
closed set of ``<choices>``. Rules, in order:

1. with choices: the choice named most often in the context values (whole
   words, case-insensitive; a tie goes to the choice listed first), or
   "unknown" when no value names any choice;
2. without: the best answer span of the question's kind (``spans.candidates``)
   in the context values, or "unknown".

Like every task of the engine it never sees the corpus or its ground truth.
"""

from __future__ import annotations

import html
import re

from pipelines.world.spans import candidates, question_kind

__all__ = ["parse_choices", "transform"]


def parse_choices(content: str) -> list[str]:
    block = re.search(r"<choices>(.*?)</choices>", content, re.S | re.I)
    if not block:
        return []
    return [html.unescape(c.strip()) for c in re.findall(r"<choice>(.*?)</choice>", block.group(1), re.S) if c.strip()]


def _mentions(choice: str, text: str) -> int:
    return len(re.findall(rf"(?<![\w]){re.escape(choice.lower())}(?![\w])", text.lower()))


def transform(question: str, context: dict[str, str], answer_type: str, choices: list[str], entity: str) -> tuple[str | None, float]:
    """``(answer, confidence)``; ``(None, 0.0)`` when the context does not answer."""
    values = [v for v in context.values() if v]
    if choices:
        counts = [(sum(_mentions(c, v) for v in values), -i, c) for i, c in enumerate(choices)]
        best = max(counts)
        if best[0] == 0:
            return None, 0.0
        total = sum(n for n, _, _ in counts)
        return best[2], round(min(0.99, 0.5 + 0.5 * best[0] / total), 2)
    kind = question_kind(question, answer_type)
    if kind == "generic":
        return None, 0.0
    found = [c for v in values for c in candidates(kind, v, entity)]
    if not found:
        return None, 0.0
    best_candidate = max(found, key=lambda c: (c.score * (0.2 if c.stale else 1.0), len(c.value)))
    return best_candidate.value, 0.7
