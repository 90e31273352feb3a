"""Ray metrics for progress, stage latency, LLM calls and searches (Prometheus/Grafana via the Ray dashboard).

Every metric trawl defines is listed in ``EXPORTED`` (name -> label keys). Ray
exports an application metric named ``x`` as ``ray_x``, with its own labels
added (``SessionName``, ``NodeAddress``, ``WorkerId``, ``Component``...):
https://docs.ray.io/en/latest/ray-observability/user-guides/add-app-metrics.html
Each process that records a metric exports its own series (the driver, each
gateway actor); sum over ``WorkerId`` to get the job's total.

- ``JobMetrics`` (the driver): cells by status, cells in flight, events,
  stage latency, and the LLM and search records the driver answers from the
  caches itself (a cache hit never reaches a gateway actor).
- ``LLMMetrics`` / ``SearchMetrics``: metrics from ``llm_calls`` /
  ``search_calls`` records, used by the gateway actors and by the driver.
"""

from __future__ import annotations

import logging

from ray.util import metrics

__all__ = ["EXPORTED", "PREFIX", "JobMetrics", "LLMMetrics", "SearchMetrics"]

logger = logging.getLogger(__name__)

PREFIX = "ray_"  # what Ray puts before an application metric's name in its Prometheus export

EXPORTED: dict[str, tuple[str, ...]] = {
    "trawl_cells_total": ("job", "status"),
    "trawl_cells_in_flight": ("job",),
    "trawl_events_total": ("job", "kind"),
    "trawl_stage_seconds": ("job", "stage"),
    "trawl_llm_calls_total": ("provider", "model", "outcome"),
    "trawl_llm_failures_total": ("provider", "model", "error_type"),
    "trawl_llm_latency_seconds": ("provider", "model"),
    "trawl_llm_input_tokens_total": ("provider", "model"),
    "trawl_llm_output_tokens_total": ("provider", "model"),
    "trawl_llm_cost_usd_total": ("provider", "model"),
    "trawl_search_calls_total": ("provider", "outcome"),
    "trawl_search_failures_total": ("provider", "error_type"),
    "trawl_search_latency_seconds": ("provider",),
}

_STAGE_BOUNDARIES = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120]
_LLM_BOUNDARIES = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120]
_SEARCH_BOUNDARIES = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]


def _tags(name: str) -> tuple[str, ...]:
    return EXPORTED[name]


class LLMMetrics:
    """Ray metrics from ``llm_calls`` records, labelled by provider and model (the request model)."""

    def __init__(self) -> None:
        self.latency = metrics.Histogram(
            "trawl_llm_latency_seconds", "Duration of one upstream LLM attempt that succeeded.",
            boundaries=_LLM_BOUNDARIES, tag_keys=_tags("trawl_llm_latency_seconds"),
        )
        self.input_tokens = metrics.Counter("trawl_llm_input_tokens_total", "Input tokens billed.",
                                            tag_keys=_tags("trawl_llm_input_tokens_total"))
        self.output_tokens = metrics.Counter("trawl_llm_output_tokens_total", "Output tokens billed.",
                                             tag_keys=_tags("trawl_llm_output_tokens_total"))
        self.calls = metrics.Counter("trawl_llm_calls_total", "LLM attempts and cache hits.",
                                     tag_keys=_tags("trawl_llm_calls_total"))
        self.failures = metrics.Counter("trawl_llm_failures_total", "Failed LLM attempts, by error type.",
                                        tag_keys=_tags("trawl_llm_failures_total"))
        self.cost = metrics.Counter("trawl_llm_cost_usd_total", "Cost in USD from the configured prices.",
                                    tag_keys=_tags("trawl_llm_cost_usd_total"))

    def observe(self, record: dict) -> None:
        tags = {"provider": record["gen_ai.provider.name"], "model": record["gen_ai.request.model"]}
        if record["cache_hit"]:
            self.calls.inc(1, {**tags, "outcome": "cache_hit"})
        elif record["error.type"]:
            self.calls.inc(1, {**tags, "outcome": "error"})
            self.failures.inc(1, {**tags, "error_type": record["error.type"]})
        else:
            self.calls.inc(1, {**tags, "outcome": "ok"})
            self.latency.observe(record["gen_ai.client.operation.duration"], tags)
            if record["gen_ai.usage.input_tokens"]:
                self.input_tokens.inc(record["gen_ai.usage.input_tokens"], tags)
            if record["gen_ai.usage.output_tokens"]:
                self.output_tokens.inc(record["gen_ai.usage.output_tokens"], tags)
            if record["cost_usd"]:
                self.cost.inc(record["cost_usd"], tags)


class SearchMetrics:
    """Ray metrics from ``search_calls`` records, labelled by provider."""

    def __init__(self) -> None:
        self.calls = metrics.Counter("trawl_search_calls_total", "Search attempts and cache hits.",
                                     tag_keys=_tags("trawl_search_calls_total"))
        self.failures = metrics.Counter("trawl_search_failures_total", "Failed search attempts.",
                                        tag_keys=_tags("trawl_search_failures_total"))
        self.latency = metrics.Histogram(
            "trawl_search_latency_seconds", "Duration of one upstream search that answered.",
            boundaries=_SEARCH_BOUNDARIES, tag_keys=_tags("trawl_search_latency_seconds"),
        )

    def observe(self, record: dict) -> None:
        provider = record["provider"]
        if record["cache_hit"]:
            outcome = "cache_hit"
        elif record["error.type"]:
            outcome = "error"
            self.failures.inc(1, {"provider": provider, "error_type": record["error.type"]})
        else:
            outcome = "ok" if record["results"] else "empty"
            self.latency.observe(record["duration_s"], {"provider": provider})
        self.calls.inc(1, {"provider": provider, "outcome": outcome})


class JobMetrics:
    """The driver's metrics, tagged by job. ``progress`` (a ``pipelines.coordinator.Progress``) feeds the in-flight gauge."""

    def __init__(self, job_id: str, progress=None) -> None:
        self.tags = {"job": job_id}
        self.progress = progress
        self._in_flight_shown: int | None = None
        self.cells = metrics.Counter("trawl_cells_total", "Cells finished, by status.", tag_keys=_tags("trawl_cells_total"))
        self.events = metrics.Counter("trawl_events_total", "Pages, searches, LLM calls and tokens.",
                                      tag_keys=_tags("trawl_events_total"))
        self.in_flight = metrics.Gauge("trawl_cells_in_flight", "Cells being researched now.",
                                       tag_keys=_tags("trawl_cells_in_flight"))
        self.stage = metrics.Histogram(
            "trawl_stage_seconds", "Latency of one stage call, seen by the coordinator.", boundaries=_STAGE_BOUNDARIES,
            tag_keys=_tags("trawl_stage_seconds"),
        )
        self.llm = LLMMetrics()
        self.search = SearchMetrics()

    def cell(self, status: str) -> None:
        self.cells.inc(1, {**self.tags, "status": status})

    def count(self, kind: str, n: int = 1) -> None:
        if n:
            self.events.inc(n, {**self.tags, "kind": kind})
        self.sync()

    def observe(self, stage: str, seconds: float) -> None:
        self.stage.observe(seconds, {**self.tags, "stage": stage})

    def set_in_flight(self, n: int) -> None:
        self.in_flight.set(n, self.tags)
        self._in_flight_shown = n

    def records(self, table: str, records: list[dict]) -> None:
        """Metrics from records the driver writes: ``cells`` outcomes, and the LLM and search cache hits it answered."""
        if table == "cells":
            for rec in records:
                self.cell(rec["status"])
        elif table == "llm_calls":
            for rec in records:
                self.llm.observe(rec)
        elif table == "search_calls":
            for rec in records:
                self.search.observe(rec)
        self.sync()

    def sync(self) -> None:
        """Set the in-flight gauge from ``progress`` when it changed (called on every record and count)."""
        if self.progress is not None and self.progress.in_flight != self._in_flight_shown:
            self.set_in_flight(self.progress.in_flight)
