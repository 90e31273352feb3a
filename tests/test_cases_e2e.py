"""Real-world failure cases end to end (../shared/cases: yaml-norway, searxng-suspended, every page unreadable).

Each job runs on Ray against real loopback servers: a SearXNG-shaped search
server, the local world's extractive LLM server and a site whose pages are
fixed routes. The kinds, not only the one input: every YAML 1.1 scalar kind
as a row value; every engine suspended and engines timing out; pages failing
with different reasons, alone and mixed with an irrelevant page.
"""

from __future__ import annotations

import os
import textwrap

import pytest
import yaml
from typer.testing import CliRunner

from cluster.cli import app
from cluster.runner import run_job
from pipelines.spec import load_job, parse_job
from pipelines.store.reader import read_table
from pipelines.world.llm_server import start_llm_server
from tests.fixtures_reliability import LoopbackServer
from tests.fixtures_search import BRAVE_ERROR_BODY, SEARXNG_SUSPENDED, SEARXNG_TIMED_OUT, SERPER_ERROR_BODY, TAVILY_ERROR_BODY, ReplayServer

pytestmark = pytest.mark.slow

HTML = {"Content-Type": "text/html; charset=utf-8"}
CAPITALS = (b"<!doctype html><html><head><title>Nordic capitals</title></head><body><article>"
            b"<p>Oslo is the capital of Norway (NO) and its largest city.</p>"
            b"<p>Stockholm is the capital of Sweden (SE).</p>"
            b"<p>Toronto is the capital of Ontario (ON).</p></article></body></html>")
TOWNS = (b"<html><head><title>Capitals of the provinces</title></head><body><article>"
         b"<p>Springfield is the capital of Acme province.</p><p>Shelbyville is the capital of Beta province.</p>"
         b"</article></body></html>")
WEATHER = (b"<html><head><title>Weather</title></head><body><article><p>It will rain in Gamma town tomorrow, "
           b"and the wind turns north by the evening.</p></article></body></html>")


KEY_ENV = "TRAWL_T_CASES_SEARCH_KEY"


@pytest.fixture(scope="module", autouse=True)
def _search_key():
    """Set before this module's Ray starts, so the search gateway actor's process inherits it."""
    os.environ[KEY_ENV] = "k-cases-123"
    yield
    os.environ.pop(KEY_ENV, None)


@pytest.fixture(scope="module")
def llm():
    with start_llm_server() as server:
        yield server


def _cells(output, job_id):
    return {c["row_key"]: c for c in read_table(output, "cells", job_id=job_id).to_pylist()}


def _common(search_url: str, llm_url: str, output) -> str:
    return textwrap.dedent(f"""\
        research: {{keywords_per_cell: 1, results_per_keyword: 5, max_pages_per_cell: 5}}
        llm: {{providers: [{{name: local, base_url: "{llm_url}", model: trawl-extractive}}], cache: false}}
        search:
          providers: [{{name: sx, kind: searxng, base_url: "{search_url}"}}]
          cache: false
          max_attempts_per_provider: 2
          backoff_base_s: 0.05
          backoff_max_s: 0.2
        fetch: {{resolve: {{"*.example": "127.0.0.1"}}, allow_hosts: ["*.example"], total_timeout_s: 5}}
        output: "{output}"
        """)


def test_yaml_row_values_reach_the_question_as_written(ray_reliability, llm, tmp_path):
    """yaml-norway: `NO` is Norway, not false; and so for `on`, `0123`, `1e3`, `2024-01-01`, `1_000`, `yes`."""
    with LoopbackServer(routes={"/capitals": (200, HTML, CAPITALS)}) as site, \
            LoopbackServer(results=lambda q: [f"http://site.example:{site.port}/capitals"]) as search:
        written = ["NO", "SE", "ON", "on", "0123", "1e3", "2024-01-01", "1_000", "yes"]
        rows = "".join(f"  - {{country: {w}}}\n" for w in written)
        spec = (f"name: yaml-rows\nkey: country\nrows:\n{rows}"
                'columns:\n  capital: {question: "What is the capital of {country}?"}\n'
                + _common(search.base_url, llm.base_url, tmp_path / "out"))
        (tmp_path / "job.yaml").write_text(spec)
        job = load_job(tmp_path / "job.yaml")
        result = run_job(job, dashboard=False)
    cells = _cells(result.output, job.job_id)
    assert sorted(cells) == sorted(written)
    assert {k: c["question"] for k, c in cells.items()} == {w: f"What is the capital of {w}?" for w in written}
    assert cells["NO"]["status"] == "done" and cells["NO"]["answer"].startswith("Oslo"), {k: (c["answer"], c["error"]) for k, c in cells.items()}
    assert cells["SE"]["status"] == "done" and cells["SE"]["answer"].startswith("Stockholm"), cells["SE"]


def test_cells_whose_pages_could_not_be_read_say_so_and_why(ray_reliability, llm, tmp_path):
    """Every page of a cell failed to fetch (403, 404, redirect loop); and a cell with one page read, one not."""
    with LoopbackServer(routes={
        "/forbidden": (403, HTML, b"<html><body>no</body></html>"),
        "/forbidden2": (403, HTML, b"<html><body>no</body></html>"),
        "/gone": (404, HTML, b"<html><body>gone</body></html>"),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/weather": (200, HTML, WEATHER),
    }) as site:
        base = f"http://site.example:{site.port}"

        def results(query: str) -> list[str]:
            if "Gamma" in query:
                return [f"{base}/forbidden", f"{base}/forbidden2", f"{base}/gone", f"{base}/loop"]
            return [f"{base}/weather", f"{base}/gone"]

        with LoopbackServer(results=results) as search:
            job = parse_job(yaml.safe_load(_spec("unreadable", ["Gamma", "Delta"], search.base_url, llm.base_url, tmp_path)))
            result = run_job(job, dashboard=False)
    errors = {k: (c["status"], c["error"]) for k, c in _cells(result.output, job.job_id).items()}
    assert errors == {
        "Gamma": ("failed", "no_readable_pages: 4 of 4 page(s) could not be read (http_403 ×2, http_404 ×1, redirect_loop ×1)"),
        "Delta": ("failed", "no_relevant_pages: 1 page(s) read, none relevant; 1 of 2 could not be read (http_404 ×1)"),
    }


def test_searxng_with_engines_down_is_a_provider_failure_and_rerun_failed_completes(ray_reliability, llm, tmp_path):
    """searxng-suspended: every engine suspended, then engines timing out, then back."""
    answer = {"now": SEARXNG_SUSPENDED}  # the whole /search answer; None: the results below
    with LoopbackServer(routes={"/capitals": (200, HTML, TOWNS)}) as site, \
            LoopbackServer(results=lambda q: [f"http://site.example:{site.port}/capitals"], payload=lambda q: answer["now"]) as search:
        job = parse_job(yaml.safe_load(_spec("engines-down", ["Acme", "Beta"], search.base_url, llm.base_url, tmp_path)))
        first = run_job(job, dashboard=False)
        cells = _cells(first.output, job.job_id)
        for cell in cells.values():
            # the first search names the engines; the other is skipped while the instance is suspended, saying why
            assert cell["status"] == "failed" and cell["error"].split(":")[0] in ("engines_suspended", "cooling_down")
            assert "google (Suspended: CAPTCHA), startpage (Suspended: access denied)" in cell["error"], cell["error"]
        calls = _calls(first.output, job.job_id)
        suspended = [c["error.type"] for c in calls].count("engines_suspended")
        # asked at most once per cell (the two may be in flight together), never retried: suspended for minutes
        assert suspended in (1, 2) and search.hits["/search"] == suspended
        assert "duckduckgo (Suspended: CAPTCHA)" in next(c for c in calls if c["error.type"] == "engines_suspended")["error_message"]

        answer["now"] = SEARXNG_TIMED_OUT  # not suspended, timing out: retried, then failed with that reason
        _rerun_failed(job, first.output)
        cells = _cells(first.output, job.job_id)
        for cell in cells.values():
            assert cell["error"].startswith("engines_unresponsive:") and "bing (timeout)" in cell["error"], cell["error"]
        assert [c["error.type"] for c in _calls(first.output, job.job_id)].count("engines_unresponsive") == 4  # 2 tries each

        answer["now"] = None  # the engines are back
        _rerun_failed(job, first.output)
        cells = _cells(first.output, job.job_id)
        base = f"http://site.example:{site.port}"
    assert {k: (c["status"], c["answer"].split()[0], c["citations"]) for k, c in cells.items()} == {
        "Acme": ("done", "Springfield", [f"{base}/capitals"]), "Beta": ("done", "Shelbyville", [f"{base}/capitals"])}


def test_error_bodies_with_http_200_fall_back_to_the_next_provider(ray_reliability, llm, tmp_path):
    """Brave, Tavily and Serper each answer 200 with their error body; the SearXNG after them answers."""
    replays = {kind: ReplayServer() for kind in ("brave", "tavily", "serper")}
    bodies = {"brave": BRAVE_ERROR_BODY, "tavily": TAVILY_ERROR_BODY, "serper": SERPER_ERROR_BODY}
    for kind, server in replays.items():
        server.start()
        server.default.json = bodies[kind]
    try:
        with LoopbackServer(routes={"/capitals": (200, HTML, TOWNS)}) as site, \
                LoopbackServer(results=lambda q: [f"http://site.example:{site.port}/capitals"]) as search:
            spec = yaml.safe_load(_spec("error-bodies", ["Acme"], search.base_url, llm.base_url, tmp_path))
            spec["search"]["providers"] = [
                *({"name": kind, "kind": kind, "base_url": server.url, "api_key_env": KEY_ENV} for kind, server in replays.items()),
                *spec["search"]["providers"]]
            job = parse_job(spec)
            result = run_job(job, dashboard=False)
    finally:
        for server in replays.values():
            server.stop()
    (cell,) = _cells(result.output, job.job_id).values()
    assert cell["status"] == "done" and cell["answer"].startswith("Springfield"), cell
    calls = sorted(_calls(result.output, job.job_id), key=lambda c: c["attempt"])
    assert [(c["provider"], c["error.type"]) for c in calls] == [
        ("brave", "http_429"), ("brave", "http_429"),  # a rate limit in the body: retried, then the next provider
        ("tavily", "error_body"), ("tavily", "error_body"),  # no status in the body: retryable
        ("serper", "quota_exceeded"),  # "Not enough credits": not worth a retry
        ("sx", None)]
    assert "Not enough credits" in calls[4]["error_message"] and "k-cases-123" not in str(calls)


def _spec(name, places, search_url, llm_url, tmp_path) -> str:
    rows = ", ".join(f"{{place: {p}}}" for p in places)
    return (f"name: {name}\nkey: place\nrows: [{rows}]\n"
            'columns:\n  capital: {question: "What is the capital of {place}?"}\n'
            + _common(search_url, llm_url, tmp_path / "out"))


def _calls(output, job_id):
    return read_table(output, "search_calls", job_id=job_id).to_pylist()


def _rerun_failed(job, output):
    out = CliRunner().invoke(app, ["rerun", job.job_id, "--failed", "--output", output, "--quiet"])
    assert out.exit_code == 0, out.output
