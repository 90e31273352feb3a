"""Every metric trawl advertises is in Ray's Prometheus export during a job, with its labels, and moves.

A real job runs against the local world in a background thread while the
test scrapes the node's metrics export port (``MetricsExportPort`` of
``ray.nodes()``). The world LLM's gate holds the job: first until a scrape
has seen cells finished and cells in flight, then (one more company let
through, the last still held) until every series has moved — while the
gateway actors are alive: an actor killed at the end of a job takes the
values it recorded since its last report with it. After the job the
driver's series show every cell done and none in flight. A failing primary LLM provider and a
failing first search provider (every call answered 500) make the failure
series certain; a second run of the same job is answered from the caches in
the driver, so the cache-hit series must appear too.
"""

from __future__ import annotations

import threading
import urllib.request
from collections import defaultdict

import pytest
import ray
from prometheus_client.parser import text_string_to_metric_families

from actors.metrics import EXPORTED, PREFIX
from cluster.runner import run_job
from pipelines.spec import parse_job
from pipelines.world import LLMFaults, WorldConfig, start_world
from pipelines.world.llm_server import start_llm_server
from tests.fixtures_reliability import LoopbackServer, wait_for, world_job_spec

pytestmark = pytest.mark.slow

_RAY_LABELS = {"Component", "NodeAddress", "SessionName", "Version", "WorkerId", "JobId", "otel_scope_name",
               "otel_scope_schema_url", "otel_scope_version"}


@pytest.fixture(scope="module")
def ray_metrics():
    # Ray reports application metrics to its exporter every 10 s by default; a short interval keeps the test short.
    ray.init(address="local", num_cpus=2, include_dashboard=False, namespace="trawl", log_to_driver=False,
             _system_config={"metrics_report_interval_ms": 500})
    yield ray.nodes()[0]["MetricsExportPort"]
    ray.shutdown()


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    """(trawl metric name, its own labels) -> value summed over Ray's per-process series; histograms by their count."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values: dict[tuple[str, frozenset], float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:  # a counter's family is named without its _total suffix; its samples with it
            if family.type == "histogram":
                if not sample.name.endswith("_count"):
                    continue
                name = family.name.removeprefix(PREFIX)
            else:
                name = sample.name.removeprefix(PREFIX)
            if name not in EXPORTED:
                continue
            labels = frozenset((k, v) for k, v in sample.labels.items() if k not in _RAY_LABELS)
            values[(name, labels)] += sample.value
    return dict(values)


def total(snapshot: dict, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lab), v in snapshot.items() if n == name and want <= lab)


def test_every_advertised_metric_is_exported_with_its_labels_and_moves(ray_metrics, tmp_path):
    port = ray_metrics
    config = WorldConfig(companies=4, seed=5, llm_latency_s=0.05)
    with start_world(config, world_dir=tmp_path / "world") as world, \
            start_llm_server(LLMFaults(rate_500=1.0)) as flaky_llm, \
            LoopbackServer(routes={"/search": (500, {"Content-Type": "text/plain"}, b"down")}) as down_search:
        spec = world_job_spec(world, tmp_path / "out", name="metrics", columns=("ceo", "founded"))
        local = {**spec["llm"]["providers"][0], "price_input_per_m": 1.0, "price_output_per_m": 2.0}
        spec["llm"] = {"providers": [{"name": "flaky", "base_url": flaky_llm.base_url, "model": "flaky-model"}, local],
                       "max_attempts_per_provider": 1, "backoff_base_s": 0, "breaker_failures": 1000}
        spec["search"]["providers"].insert(0, {"name": "down", "kind": "searxng", "base_url": down_search.base_url})
        spec["search"].update(max_attempts_per_provider=1, backoff_base_s=0)
        job = parse_job(spec)
        companies = [row["company"] for row in spec["rows"]]

        def hold(held: list[str]) -> None:
            questions = [q for c in held for q in (f"CEO of {c}?</question>", f"was {c} founded?</question>")]
            world.set_faults("llm", LLMFaults(latency_s=config.llm_latency_s, hold_prompts_with=questions))

        hold(companies[1:])
        outcome: dict = {}
        runner = threading.Thread(target=lambda: outcome.update(result=run_job(job, dashboard=False)), daemon=True)
        runner.start()
        try:
            # While the gate holds all but one company: some cells are done, others are in flight.
            during = wait_for(lambda: (s := scrape(port)) and total(s, "trawl_cells_total") >= 2
                              and total(s, "trawl_cells_in_flight") > 0 and s, timeout=300,
                              what="cells done and in flight", interval=1)
            # One more company goes through while the last is still held, so every actor is alive to export.
            hold(companies[3:])
            moved = wait_for(lambda: (s := scrape(port)) and all(
                total(s, name) > total(during, name) for name in EXPORTED if name != "trawl_cells_in_flight") and s,
                timeout=300, what="every series to move", interval=1)
        finally:
            world.set_faults("llm", LLMFaults(latency_s=config.llm_latency_s))
            runner.join(600)
        cells = len(companies) * 2
        after = wait_for(lambda: (s := scrape(port)) and total(s, "trawl_cells_total") == cells
                         and total(s, "trawl_cells_in_flight") == 0 and s, timeout=60, what="the final export", interval=1)

        # A second run is answered by the caches in the driver: cache hits never reach a gateway actor.
        run_job(job, dashboard=False)
        hits = wait_for(lambda: (s := scrape(port)) and total(s, "trawl_llm_calls_total", outcome="cache_hit") > 0
                        and total(s, "trawl_search_calls_total", outcome="cache_hit") > 0 and s,
                        timeout=60, what="cache hits answered in the driver", interval=1)

    assert "result" in outcome
    for name, keys in EXPORTED.items():
        series = [lab for (n, lab) in moved if n == name]
        assert series, f"{PREFIX}{name} is not exported"
        assert all({k for k, _ in lab} == set(keys) for lab in series), (name, series)
    assert total(during, "trawl_cells_in_flight") > 0 and total(after, "trawl_cells_in_flight") == 0
    # Latency, tokens and cost per provider AND model; failures on the failing provider, by error type.
    assert total(moved, "trawl_llm_latency_seconds", provider="local", model="trawl-extractive") > 0
    assert total(moved, "trawl_llm_cost_usd_total", provider="local", model="trawl-extractive") > 0
    assert total(moved, "trawl_llm_failures_total", provider="flaky", model="flaky-model") > 0
    assert total(moved, "trawl_search_failures_total", provider="down") > 0
    assert total(after, "trawl_cells_total", job=job.job_id, status="done") == cells
    assert total(hits, "trawl_llm_calls_total", provider="local", model="trawl-extractive", outcome="cache_hit") > 0
    assert total(hits, "trawl_events_total", job=job.job_id) > total(after, "trawl_events_total", job=job.job_id)
