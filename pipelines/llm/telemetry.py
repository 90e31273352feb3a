"""In-process counters behind ``Gateway.stats()``: per provider and model, from the same records the sink gets."""

from __future__ import annotations

from collections import Counter, defaultdict, deque

__all__ = ["CallStats"]


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class CallStats:
    """Aggregates ``llm_calls`` records; latency percentiles over the last ``window`` successful calls."""

    def __init__(self, window: int = 2000):
        self._rows: dict[tuple[str, str], dict] = {}
        self._latency: dict[tuple[str, str], deque[float]] = defaultdict(lambda: deque(maxlen=window))
        self.merged = 0  # callers that shared an identical call already in flight

    def observe(self, record: dict) -> None:
        key = (record["gen_ai.provider.name"], record["gen_ai.request.model"])
        row = self._rows.setdefault(
            key, {"calls": 0, "cache_hits": 0, "failures": Counter(), "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
                  "unpriced_calls": 0}
        )
        row["calls"] += 1
        row["cache_hits"] += int(bool(record["cache_hit"]))
        if record["error.type"]:
            row["failures"][record["error.type"]] += 1
        row["input_tokens"] += record["gen_ai.usage.input_tokens"] or 0
        row["output_tokens"] += record["gen_ai.usage.output_tokens"] or 0
        if record["cost_usd"] is None:
            row["unpriced_calls"] += 1  # no price known: counted, not guessed
        else:
            row["cost_usd"] += record["cost_usd"]
        if not record["cache_hit"] and not record["error.type"]:
            self._latency[key].append(record["gen_ai.client.operation.duration"])

    def snapshot(self) -> list[dict]:
        out = []
        for (provider, model), row in sorted(self._rows.items()):
            lat = list(self._latency[(provider, model)])
            out.append(
                {
                    "provider": provider,
                    "model": model,
                    **{k: v for k, v in row.items() if k != "failures"},
                    "cost_usd": round(row["cost_usd"], 6),
                    "failures": dict(row["failures"]),
                    "p50_s": _percentile(lat, 0.50),
                    "p95_s": _percentile(lat, 0.95),
                }
            )
        return out
