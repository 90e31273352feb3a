"""Ray metrics for progress and stage latency (Prometheus/Grafana via the Ray dashboard)."""

from __future__ import annotations

from ray.util import metrics

__all__ = ["JobMetrics"]

_STAGE_BOUNDARIES = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120]


class JobMetrics:
    """Counters and histograms tagged by job; created once per driver."""

    def __init__(self, job_id: str) -> None:
        self.tags = {"job": job_id}
        self.cells = metrics.Counter("trawl_cells_total", "Cells finished, by status.", tag_keys=("job", "status"))
        self.events = metrics.Counter("trawl_events_total", "Pages, searches, LLM calls and tokens.", tag_keys=("job", "kind"))
        self.in_flight = metrics.Gauge("trawl_cells_in_flight", "Cells being researched now.", tag_keys=("job",))
        self.stage = metrics.Histogram(
            "trawl_stage_seconds", "Latency of one stage call, seen by the coordinator.", boundaries=_STAGE_BOUNDARIES,
            tag_keys=("job", "stage"),
        )

    def cell(self, status: str) -> None:
        self.cells.inc(1, {**self.tags, "status": status})

    def count(self, kind: str, n: int = 1) -> None:
        if n:
            self.events.inc(n, {**self.tags, "kind": kind})

    def observe(self, stage: str, seconds: float) -> None:
        self.stage.observe(seconds, {**self.tags, "stage": stage})

    def set_in_flight(self, n: int) -> None:
        self.in_flight.set(n, self.tags)
