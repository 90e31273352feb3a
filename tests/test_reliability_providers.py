"""Providers that fail at random: LLM and search answering 429, 500, timeouts and malformed bodies.

With a fallback configured (a second LLM server, a second search provider)
the job completes. Without one, the affected cells end `failed` with the
reason, the job still finishes, and `trawl rerun --failed` completes them
once the provider is back.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from cluster.runner import run_job
from pipelines.spec import parse_job
from pipelines.store.reader import read_table
from pipelines.world import LLMFaults, SearchFaults, WorldConfig, start_world
from pipelines.world.llm_server import start_llm_server
from tests.fixtures_reliability import LoopbackServer, raw_duplicates, world_job_spec

pytestmark = pytest.mark.slow

# Transport-level faults only: a 200 whose *content* ignores the format is the parser's business (repair hint,
# unit-tested), not the fallback chain's, and would make "every cell done" a matter of luck.
FLAKY_LLM = LLMFaults(rate_429=0.25, retry_after_s=0.2, rate_500=0.25, rate_timeout=0.1, timeout_s=60,
                      rate_bad_json=0.15, seed=4)
FLAKY_SEARCH = SearchFaults(rate_429=0.3, rate_500=0.3, rate_503=0.2, retry_after_s=0.2, seed=4)


@pytest.fixture(scope="module")
def flaky_world(tmp_path_factory):
    with start_world(WorldConfig(companies=3, seed=21), world_dir=tmp_path_factory.mktemp("world")) as world:
        yield world


@pytest.fixture()
def healthy(flaky_world):
    """Faults are lifted after each test, whatever it set."""
    yield flaky_world
    flaky_world.set_faults("llm", LLMFaults())
    flaky_world.set_faults("search", SearchFaults())


def _proxy_results(world):
    """A second search provider: the world's own index, reached through another server that never fails."""

    def results(query: str) -> list[str]:
        url = f"{world.search_base_url}/search?" + urllib.parse.urlencode({"q": query, "format": "json"})
        for _ in range(20):  # the world's search may be failing on purpose right now
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    return [r["url"] for r in json.load(resp)["results"]]
            except OSError:
                continue
        return []

    return results


def _fast_retries(spec: dict) -> None:
    spec["llm"].update({"max_attempts_per_provider": 2, "backoff_base_s": 0.05, "max_wait_s": 1.0})
    spec["search"].update({"max_attempts_per_provider": 2, "backoff_base_s": 0.05, "backoff_max_s": 0.5})
    for provider in spec["llm"]["providers"]:
        provider["timeout_s"] = 2.0
    for provider in spec["search"]["providers"]:
        provider["timeout_s"] = 3.0


def _cells(output, job_id):
    return {(c["row_key"], c["column"]): c for c in read_table(output, "cells", job_id=job_id).to_pylist()}


def test_flaky_providers_with_fallbacks_complete_the_job(ray_local, healthy, tmp_path):
    world = healthy
    world.set_faults("llm", FLAKY_LLM)
    world.set_faults("search", FLAKY_SEARCH)
    with start_llm_server() as backup_llm, LoopbackServer(results=_proxy_results(world)) as backup_search:
        spec = world_job_spec(world, tmp_path / "out", name="flaky-fallback", columns=("ceo", "founded", "ceo_previous"))
        spec["llm"]["providers"].append({"name": "backup", "base_url": backup_llm.base_url, "model": "trawl-extractive"})
        spec["search"]["providers"].append({"name": "backup", "kind": "searxng", "base_url": backup_search.base_url})
        _fast_retries(spec)
        job = parse_job(spec)
        result = run_job(job, dashboard=False)

    cells = _cells(result.output, job.job_id)
    assert len(cells) == 9
    assert {c["status"] for c in cells.values()} == {"done"}, {k: c["error"] for k, c in cells.items() if c["status"] != "done"}
    llm = read_table(result.output, "llm_calls", job_id=job.job_id).to_pylist()
    failed = {r["error.type"] for r in llm if r["gen_ai.provider.name"] == "local" and r["error.type"]}
    assert failed, "the primary LLM never failed: the faults did not bite"
    assert any(r["gen_ai.provider.name"] == "backup" and not r["error.type"] for r in llm)
    searches = read_table(result.output, "search_calls", job_id=job.job_id).to_pylist()
    assert any(r["provider"] == "local" and r["error.type"] for r in searches)
    assert any(r["provider"] == "backup" and not r["error.type"] for r in searches)
    assert all(n == 0 for n in raw_duplicates(result.output, job.job_id).values())


@pytest.mark.parametrize("service, faults, reason_words", [
    # Down for good while the job runs (every call a 500 or a non-JSON body; every search a 500), so the
    # outcome does not depend on which calls the dice spare.
    ("llm", LLMFaults(rate_500=0.6, rate_bad_json=1.0, seed=2),
     ("judge_failed", "http_500", "malformed_response", "circuit")),
    ("search", SearchFaults(rate_500=1.0, seed=2), ("http_500", "search")),
])
def test_without_fallback_cells_fail_with_reason_and_rerun_failed_completes_them(
        ray_local, healthy, tmp_path, service, faults, reason_words):
    world = healthy
    spec = world_job_spec(world, tmp_path / "out", name=f"down-{service}", companies=2, columns=("ceo", "ceo_previous"))
    _fast_retries(spec)
    job = parse_job(spec)
    world.set_faults(service, faults)
    first = run_job(job, dashboard=False)
    cells = _cells(first.output, job.job_id)
    assert len(cells) == 4  # the job finished: every cell has an outcome
    ceo = [c for (row, col), c in cells.items() if col == "ceo"]
    assert {c["status"] for c in ceo} == {"failed"}, [(c["status"], c["error"]) for c in ceo]
    for c in ceo:
        assert c["error"] and any(w in c["error"].lower() for w in reason_words), c["error"]
    dependents = [c for (row, col), c in cells.items() if col == "ceo_previous"]
    assert {c["status"] for c in dependents} == {"skipped"} and all("ceo" in c["error"] for c in dependents)

    world.set_faults(service, LLMFaults() if service == "llm" else SearchFaults())
    out = CliRunner().invoke(app, ["rerun", job.job_id, "--failed", "--output", first.output, "--quiet"])
    assert out.exit_code == 0, out.output
    assert "4 done of 4 cells" in out.output, out.output
    cells = _cells(first.output, job.job_id)
    assert {c["status"] for c in cells.values()} == {"done"}
    assert all(n == 0 for n in raw_duplicates(first.output, job.job_id).values())


def test_a_judge_outage_is_reported_as_such_not_as_irrelevant_pages(ray_local, healthy, tmp_path):
    """Expand and summarize work, every judge call fails: the cell must say the judge failed, with the reason."""
    world = healthy
    with start_llm_server(LLMFaults(rate_500=1.0)) as judge_llm:
        spec = world_job_spec(world, tmp_path / "out", name="judge-down", companies=1, columns=("ceo",))
        spec["llm"]["providers"].append({"name": "judge-down", "base_url": judge_llm.base_url, "model": "trawl-extractive"})
        spec["llm"]["chains"] = {"judge": ["judge-down"], "default": ["local"]}
        _fast_retries(spec)
        job = parse_job(spec)
        first = run_job(job, dashboard=False)
        (cell,) = _cells(first.output, job.job_id).values()
        assert cell["status"] == "failed" and cell["error"].startswith("judge_failed:"), cell["error"]
        assert "http_500" in cell["error"] or "circuit" in cell["error"], cell["error"]

        judge_llm.set_faults(LLMFaults())
        out = CliRunner().invoke(app, ["rerun", job.job_id, "--failed", "--output", first.output, "--quiet"])
        assert out.exit_code == 0 and "1 done of 1 cells" in out.output, out.output
