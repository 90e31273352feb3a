"""A folder of documents researched with no web: `trawl index DIR --serve` + the whole pipeline on Ray.

The folder holds a page whose text its script builds (the render tier reads
it in headless Chromium), a plain-text note and a PDF whose fact is on page 3.
Each planted fact must come back as the cell's answer, cited: the PDF with its
page (``url#page=3``). No browser process may outlive the job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil
import pytest

from cluster.runner import run_job
from pipelines.render.decision import browser_problem
from pipelines.settings import RenderSettings
from pipelines.spec import parse_job
from pipelines.store.reader import read_table
from tests.pdf_docs import text_pdf

pytestmark = pytest.mark.slow

TRAWL = os.path.join(os.path.dirname(sys.executable), "trawl")
NO_BROWSER = browser_problem(RenderSettings().executable_path)
CEO = "Imelda Fanshawe is the Chief Executive Officer of Quorra Labs and has led the company as CEO since 2021."
ABOUT = """<!doctype html><html><head><title>Quorra Labs leadership</title>
<meta name="description" content="Who leads Quorra Labs: the chief executive officer (CEO) and the board.">
</head><body><div id="app"></div><script src="app.js"></script></body></html>"""
APP_JS = """fetch('leadership.json').then(r => r.json()).then(d => {
  document.getElementById('app').innerHTML = '<main><article><h1>Leadership</h1><p>' + d.ceo + '</p><p>' + d.board + '</p></article></main>';
});"""
LEADERSHIP = {"ceo": CEO, "board": "The board of Quorra Labs meets four times a year in Tromso and reviews the strategy."}
FILLER = ["Quorra Labs reports revenue by segment; the cloud segment grew fastest this year."] * 4


def _folder(root) -> None:
    (root / "about.html").write_text(ABOUT)
    (root / "app.js").write_text(APP_JS)
    (root / "leadership.json").write_text(json.dumps(LEADERSHIP))
    (root / "notes.txt").write_text("Quorra Labs staff notes\nQuorra Labs employs 412 people across its two offices.\n")
    (root / "report.pdf").write_bytes(text_pdf([["Quorra Labs annual report 2024", *FILLER], FILLER,
                                                [*FILLER, "Quorra Labs was founded in 1987 and is headquartered in Tromso, Norway."]]))


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs")
    _folder(root)
    proc = subprocess.Popen([TRAWL, "index", str(root), "--serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        port = None
        for line in proc.stdout:
            if line.startswith("TRAWL-READY"):
                port = int(line.split()[1])
                break
        assert port, "index server never became ready"
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _renderer_processes(tag: str) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(arg.startswith("--trawl-renderer=") and tag in arg for arg in proc.info["cmdline"] or []):
                out.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return [p for p in out if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.fixture(scope="module")
def docs_run(world, ray_reliability, docs_server, tmp_path_factory):
    port = docs_server
    spec = {
        "name": "documents", "key": "company", "rows": [{"company": "Quorra Labs"}],
        "columns": {
            "ceo": {"question": "Who is the CEO of {company}?"},
            "founded": {"question": "In what year was {company} founded?", "type": "integer"},
            "employees": {"question": "How many employees does {company} have?", "type": "integer"},
        },
        "research": {"keywords_per_cell": 2, "results_per_keyword": 5, "max_pages_per_cell": 5, "chunks_per_page": 3,
                     "chunk_chars": 300},
        "llm": world.job_spec()["llm"],
        "search": {"providers": [{"name": "docs", "kind": "searxng", "base_url": f"http://127.0.0.1:{port}"}]},
        "fetch": {"allow_hosts": [f"127.0.0.1:{port}"]},
        "output": str(tmp_path_factory.mktemp("docs-out")),
    }
    job = parse_job(spec)
    result = run_job(job, dashboard=False)
    return job, result, port


def _cells(docs_run) -> dict:
    job, result, _ = docs_run
    return {c["column"]: c for c in read_table(result.output, "cells", job_id=job.job_id).to_pylist()}


def test_the_pdf_fact_is_answered_and_cited_with_its_page(docs_run):
    _, _, port = docs_run
    cell = _cells(docs_run)["founded"]
    assert cell["status"] == "done" and json.loads(cell["value_json"]) == 1987, cell
    assert f"http://127.0.0.1:{port}/files/report.pdf#page=3" in cell["citations"], cell["citations"]
    job, result, _ = docs_run
    excerpts = read_table(result.output, "excerpts", job_id=job.job_id).to_pylist()
    quoted = [e for e in excerpts if e["column"] == "founded" and e["relevant"] and e["url"].endswith("/report.pdf")]
    assert quoted and all(e["pdf_page"] == 3 for e in quoted if "1987" in e["text"])


def test_the_text_file_fact_is_answered_and_cited(docs_run):
    _, _, port = docs_run
    cell = _cells(docs_run)["employees"]
    assert cell["status"] == "done" and json.loads(cell["value_json"]) == 412, cell
    assert f"http://127.0.0.1:{port}/files/notes.txt" in cell["citations"]


@pytest.mark.skipif(NO_BROWSER is not None, reason=f"{NO_BROWSER}")
def test_the_script_built_page_is_rendered_answered_and_cited_and_no_browser_outlives_the_job(docs_run):
    job, result, port = docs_run
    cell = _cells(docs_run)["ceo"]
    about = f"http://127.0.0.1:{port}/files/about.html"
    assert cell["status"] == "done" and "Imelda Fanshawe" in cell["answer"], cell
    assert about in cell["citations"]
    pages = {p["url"]: p for p in read_table(result.output, "pages", job_id=job.job_id).to_pylist()}
    assert pages[about]["status"] == "ok" and pages[about]["fetcher"].startswith("trawl.renderer")
    assert "Imelda Fanshawe" in pages[about]["text"]
    assert _renderer_processes(f"trawl.{job.job_id}/") == []
