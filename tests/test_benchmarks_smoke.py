"""Every benchmark script still runs, end to end, at a tiny size (no timing is asserted: benchmarks are not tests).

Each script runs as its own process, as a user would run it, with its own
local world and Ray instance, and writes its JSON and Markdown into a
temporary folder instead of benchmarks/results/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.slow

CASES = {
    "critical_path": ["--companies", "2", "--columns", "1", "--llm-latency", "0", "--search-latency", "0",
                      "--page-latency", "0", "--skip", "defaults"],
    "scale": ["--rows", "2", "--limit-pages", "10"],
    "cache": ["--rows", "1", "--columns", "1", "--llm-latency", "0", "--search-latency", "0", "--page-latency", "0"],
    "tokens": ["--rows", "1", "--columns", "1", "--variants", "ranked,whole"],
    "gateway_cpu": ["--calls", "20", "--concurrency", "4", "--repeats", "1"],
    "ray_call_cpu": ["--pages", "40", "--batch", "4", "--in-flight", "8", "--repeats", "1"],
    "pdf_readers": ["--documents", "1", "--pages", "2", "--repeats", "1"],
    "render_cost": ["--pages", "2"],
    "progress": ["--companies", "2", "--llm-latency", "0", "--search-latency", "0", "--page-latency", "0"],
}


def _run(script: str, args: list[str], results: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", f"{script}.py"), *args, "--results-dir", results],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(os.path.join(results, f"{script}.json")) as fh:
        data = json.load(fh)
    assert os.path.exists(os.path.join(results, f"{script}.md"))
    assert data["machine"]["cores"] >= 1 and data["machine"]["date_utc"]
    return data


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_script_runs_at_tiny_size(script, tmp_path):
    if script == "render_cost":
        from pipelines.render.decision import browser_problem
        from pipelines.settings import RenderSettings

        if (problem := browser_problem(RenderSettings().executable_path)) is not None:
            pytest.skip(problem)
    data = _run(script, CASES[script], str(tmp_path))
    if script == "critical_path":
        assert {"trawl", "trawl_lazy", "asyncio", "sequential"} <= set(data["runs"])
        assert data["runs"]["trawl"]["accuracy"]["total"] == 1
        assert data["critical_path"]["levels"] == 1
    elif script == "scale":
        run = data["runs"][0]
        assert run["rows"] == 2 and run["pages"] > 0 and run["extraction_limit"]["pages"] > 0
        # the research worker's and fetchers' CPU is counted as trawl's, under their own groups
        assert {"ray_research", "ray_fetcher"} <= set(run["cpu"]["cpu_s_by_group"]), run["cpu"]["cpu_s_by_group"]
        assert run["cpu_outside_over_extraction"] > 0 and run["ratio_to_limit_with_world"] > 0
    elif script == "gateway_cpu":
        assert set(data["runs"]) == {"sdk_create", "httpx_post", "trawl", "aiohttp_direct"}
        assert all(r["failed"] == 0 for r in data["runs"].values())
        assert "sdk_request_path_cpu_ms_per_call" in data["summary"]
    elif script == "ray_call_cpu":
        assert set(data["runs"]) == {"one_call_per_page", "list_of_4", "num_returns_4", "streaming_4"}
        assert all(r["caller_cpu_ms_per_page"] > 0 and r["callee_cpu_ms_per_page"] > 0 for r in data["runs"].values())
    elif script == "pdf_readers":
        assert {r["reader"] for r in data["results"]} == {"pypdf", "pypdfium2", "pdfminer.six"}
        assert all(r["planted_on_its_page"] for r in data["results"])
    elif script == "render_cost":
        assert data["pages"] == 2 and data["browser_rss_mib_max"] > 0
    elif script == "progress":
        assert set(data["runs"]) == {"fifo", "priority"}
        assert all(r["cells"] == 14 and r["first_cell_s"] is not None and 0 <= r["share_at_50"] <= 1 for r in data["runs"].values())
    elif script == "cache":
        assert data["runs"]["second"]["llm_uncached"] == 0 and data["summary"]["answers_identical"]
    else:
        assert set(data["runs"]) == {"ranked", "whole"}
        assert all(r["input_tokens_per_cell"] > 0 for r in data["runs"].values())


def test_ranking_benchmark_runs_on_a_few_real_pages(tmp_path):
    from benchmarks.realweb import find_realweb

    realweb = find_realweb()
    if realweb is None:
        pytest.skip("no shared/realweb above the repository")
    data = _run("ranking", ["--limit", "25", "--realweb", str(realweb)], str(tmp_path))
    assert data["cases"] > 0 and set(data["hit_at_k"]) == {"words", "inflected", "title", "title+keywords"}
    assert all(0.0 <= v <= 1.0 for row in data["hit_at_k"].values() for v in row.values())
    cost = data["cost"]  # ranking from the page's chunk index gives the per-call ranking, every time
    assert cost["rankings"] == data["cases"] * 4 and cost["orderings_differing"] == 0 and cost["bytes_per_page"]["index_pickle"] > 0
