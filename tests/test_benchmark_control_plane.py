"""benchmarks/control_plane.py: its stubs drive the real gateways through a whole cell; its accounting; a tiny run.

The fast tests run one cell through the real ``research_cell`` over the real
LLM and search gateways with only the provider hop stubbed (as the benchmark
installs it), so a change to prompts or parsers that the stubs no longer
satisfy fails here, not silently in the benchmark's numbers.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from benchmarks import control_plane as cp, control_plane_stubs as stubs
from pipelines import prompts
from pipelines.llm.client import ProviderClient
from pipelines.llm.config import LLMSettings, ProviderConfig
from pipelines.llm.gateway import Gateway
from pipelines.research import CellTask, research_cell
from pipelines.search.adapter import SearchAdapter
from pipelines.search.config import SearchProviderConfig, SearchSettings
from pipelines.search.gateway import SearchGateway
from pipelines.settings import ResearchSettings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = ResearchSettings(keywords_per_cell=4, results_per_keyword=10, max_pages_per_cell=12, chunks_per_page=3)


class _GatewayServices:
    """``Services`` over the real pipelines gateways (no Ray) and the benchmark's stub page."""

    def __init__(self, tmp_path) -> None:
        self.records: dict[str, list[dict]] = {}
        self.counters: dict[str, int] = {}
        llm = LLMSettings(providers=[ProviderConfig(name="stub", base_url=f"{cp.NOWHERE}/v1", model="gpt-4o-mini",
                                                    price_input_per_m=0.15, price_output_per_m=0.6)], cache=True)
        self.llm_gateway = Gateway(llm, record_sink=lambda rs: self.record("llm_calls", rs), cache_dir=str(tmp_path / "llm"))
        search = SearchSettings(providers=[SearchProviderConfig(name="stub", kind="searxng", base_url=cp.NOWHERE)])
        self.search_gateway = SearchGateway(search, record_sink=lambda rs: self.record("search_calls", rs),
                                            cache_dir=str(tmp_path / "search"))

    async def llm(self, req):
        return await self.llm_gateway.complete(req)

    async def search(self, req):
        return await self.search_gateway.search(req)

    async def page(self, url):
        return await stubs._stub_page(None, url)

    def record(self, table, records):
        self.records.setdefault(table, []).extend(records)

    def count(self, counter, n=1):
        self.counters[counter] = self.counters.get(counter, 0) + n


@pytest.fixture
def stubbed(monkeypatch):
    # what install() does to the provider hop, undone after the test (install() itself is process-wide)
    monkeypatch.setattr(ProviderClient, "complete", stubs._stub_complete)
    monkeypatch.setattr(SearchAdapter, "search", stubs._stub_search)


def _task(company: str) -> CellTask:
    return CellTask(job_id="bench", row_key=company, column="ceo", question=f"Who is the CEO of {company}?",
                    context={"company": company}, research=SHAPE, run_id="run-1")


def test_one_cell_through_the_real_gateways_has_the_benchmark_shape(stubbed, tmp_path):
    services = _GatewayServices(tmp_path)

    async def go():
        try:
            return await research_cell(_task("Stubco 00042"), services)
        finally:
            await services.llm_gateway.aclose()
            await services.search_gateway.aclose()

    outcome = asyncio.run(go())
    assert outcome.status == "done" and outcome.error is None
    assert outcome.answer == stubs.ceo_of("Stubco 00042") and outcome.citations
    # the shape the benchmark promises: 1 expand + 12 judge + 1 summarize, 4 searches, 12 pages
    assert (outcome.keywords, outcome.pages_fetched, outcome.llm_calls) == (4, 12, 14)
    assert 1 <= outcome.pages_relevant < outcome.pages_fetched
    calls = services.records["llm_calls"]
    assert len(calls) == 14 and not any(c["cache_hit"] for c in calls)
    assert all(c["gen_ai.response.model"].startswith(stubs.STUB_MODEL_PREFIX) for c in calls)
    assert all(c["gen_ai.usage.input_tokens"] > 100 for c in calls)
    searches = services.records["search_calls"]
    assert len(searches) == 4 and all(s["results"] == 10 and not s["cache_hit"] for s in searches)
    assert services.counters.get("ungrounded_excerpts", 0) == 0  # the judge stub quotes the page


def test_cells_of_different_rows_share_no_call(stubbed, tmp_path):
    """Every row asks new questions: the caches and in-flight merging never answer for the provider."""
    services = _GatewayServices(tmp_path)

    async def go():
        try:
            return await asyncio.gather(*(research_cell(_task(f"Stubco {i:05d}"), services) for i in (1, 2)))
        finally:
            await services.llm_gateway.aclose()
            await services.search_gateway.aclose()

    outcomes = asyncio.run(go())
    assert [o.status for o in outcomes] == ["done", "done"]
    assert not any(c["cache_hit"] for c in services.records["llm_calls"] + services.records["search_calls"])


def test_judge_stub_says_not_relevant_for_pages_not_about_the_question():
    url = "https://stubco-00001.example/p1"  # p1: not one of the relevant pages
    title, text = stubs.page_text(url)
    page = prompts.PageForJudge("P", url, title, text.split("\n")[:3])
    reply = stubs.llm_reply_text(prompts.judge_messages("Who is the CEO of Stubco 00001?", {"company": "Stubco 00001"}, page))
    assert prompts.parse_judgement(reply) == []


def test_expand_stub_names_the_entity_in_every_keyword():
    reply = stubs.llm_reply_text(prompts.expand_messages("Who is the CEO of Stubco 00007?", {"company": "Stubco 00007"}, 4))
    keywords = prompts.parse_keywords(reply, 4)
    assert len(keywords) == 4 and len(set(keywords)) == 4 and all("Stubco 00007" in k for k in keywords)


@pytest.mark.parametrize("group, central", [
    ("driver", True), ("ray_llm_gateway", True), ("ray_search_gateway", True), ("ray_writer", True),
    ("ray_limits", True), ("ray_system_gcs_server", True),
    ("ray_research_worker", False), ("ray_fetcher", False), ("ray_extract", False), ("ray_idle", False),
    ("ray_system_raylet", False), ("ray_DashboardAgent", False),
])
def test_central_processes_are_those_one_per_cluster(group, central):
    assert cp.is_central(group) is central


def test_ceiling_is_cells_per_cpu_second_and_central_rows_come_first():
    rows = cp.process_rows({"ray_fetcher": 9.0, "driver": 5.0, "ray_llm_gateway": 2.0}, cells=100)
    assert [r["group"] for r in rows] == ["driver", "ray_llm_gateway", "ray_fetcher"]
    assert rows[0]["cpu_ms_per_cell"] == 50.0 and rows[0]["ceiling_cells_per_s"] == 20.0
    assert rows[1]["ceiling_cells_per_s"] == 50.0


@pytest.mark.slow
def test_control_plane_benchmark_runs_both_designs_at_tiny_size(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    args = ["--rows", "300", "--seconds", "3", "--warmup", "1", "--both", "--results-dir", str(tmp_path)]
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "control_plane.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "control_plane.json").read_text())
    assert (tmp_path / "control_plane.md").exists()
    assert [r["research_workers"] for r in data["runs"]] == [0, None] and data["ceiling_ratio"] > 0
    for run in data["runs"]:
        assert run["interrupted"] and run["cells"] > 0 and set(run["statuses"]) == {"done"}
        # every LLM call in the window was answered by the stub, in the gateway actor, through its (empty) cache
        assert run["llm_calls"] > 0 and run["llm_calls_stubbed"] == run["llm_calls"] and run["llm_cache_hits"] == 0
        groups = {p["group"]: p for p in run["processes"]}
        assert groups["driver"]["central"]
        if run["research_workers"] == 0:  # with research workers the driver may use no measurable CPU in a tiny window
            assert groups["driver"]["cpu_s"] > 0
        assert run["bottleneck"] in groups and run["ceiling_cells_per_s"] > 0
