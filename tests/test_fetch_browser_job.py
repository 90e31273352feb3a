"""A whole job on Ray whose pages only read right when fetched as a browser fetches them (one page per kind).

Rows are four companies; the search stand-in returns the four pages for every
query: an undeclared windows-1252 page, a meta-refresh stub, a cookie wall
that redirects to itself, and a URL whose query holds ``%2B``. Each cell must
end ``done`` with its CEO spelled right, citing the page it came from.
"""

from __future__ import annotations

import pytest
import ray

from cluster.runner import run_job
from pipelines.spec import parse_job
from pipelines.store.query import query
from tests.fixtures_browser_web import E2E_FACTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_local():
    ray.init(address="local", num_cpus=2, include_dashboard=False, namespace="trawl", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def llm_base_url():
    from pipelines.world.llm_server import LLMFaults, start_llm_server

    server = start_llm_server(LLMFaults(), port=0)
    try:
        yield server.base_url
    finally:
        server.stop()


def test_each_kind_ends_right_in_a_whole_job(browser_web, ray_local, llm_base_url, tmp_path):
    spec = {
        "name": "browser-kinds",
        "key": "company",
        "rows": [{"company": name} for name in E2E_FACTS],
        "columns": {"ceo": {"question": "Who is the CEO of {company}?"}},
        "research": {"keywords_per_cell": 1, "results_per_keyword": 4, "max_pages_per_cell": 4},
        "llm": {"providers": [{"name": "local", "base_url": llm_base_url, "model": "trawl-extractive"}]},
        "search": {"providers": [{"name": "stand-in", "kind": "searxng", "base_url": f"http://127.0.0.1:{browser_web.port}"}]},
        "fetch": {"resolve": {"*.example": "127.0.0.1"}, "allow_hosts": ["*.example"]},
        "output": str(tmp_path),
    }
    run_job(parse_job(spec), dashboard=False)
    cells = {r["row_key"]: r for r in query(str(tmp_path), "SELECT row_key, status, answer, error FROM cells").to_pylist()}
    for company, (_, ceo) in E2E_FACTS.items():
        assert cells[company]["status"] == "done", cells[company]
        assert cells[company]["answer"] == ceo, cells[company]
    pages = {r["url"]: r for r in query(str(tmp_path), "SELECT url, final_url, status, encoding, encoding_source, text FROM pages").to_pylist()}
    base = f"http://site.example:{browser_web.port}"
    legacy = pages[base + E2E_FACTS["Acme Widgets"][0]]
    assert (legacy["encoding"], legacy["encoding_source"]) == ("cp1252", "detected") and "\ufffd" not in legacy["text"]
    assert pages[base + "/e2e/moved"]["final_url"] == base + "/e2e/northwind/about"
    assert pages[base + "/register?name=A%2BB%20Logistics"]["status"] == "ok"
