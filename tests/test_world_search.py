"""The world's search engine: SearXNG JSON shape, relevant results, faults, and `trawl index` over a folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from pipelines.world import SearchFaults
from pipelines.world.index import Document, SearchIndex
from pipelines.world.truth import load_truth

TRAWL = str(Path(sys.executable).with_name("trawl"))


def _search(base: str, q: str, **params) -> dict:
    url = f"{base}/search?{urllib.parse.urlencode({'q': q, 'format': 'json', **params})}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def test_searxng_json_shape(world):
    data = _search(world.search_base_url, "CEO")
    assert data["query"] == "CEO" and data["number_of_results"] == len(data["results"]) == 10
    first = data["results"][0]
    assert {"url", "title", "content", "engine", "score", "category"} <= set(first)
    assert first["url"].startswith("http://") and f":{world.site_port}/" in first["url"]
    page2 = _search(world.search_base_url, "CEO", pageno=2)["results"]
    assert page2 and not {r["url"] for r in page2} & {r["url"] for r in data["results"]}
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{world.search_base_url}/search?q=ceo", timeout=10)
    assert err.value.code == 403  # like SearXNG with only the JSON format enabled


def test_company_pages_lead_the_results_for_a_question_about_the_company(world):
    truth = load_truth(world.ground_truth_path)
    for facts in truth["companies"]:
        for question in (f"Who is the CEO of {facts['company']}?", f"How many employees does {facts['company']} have?"):
            urls = [r["url"] for r in _search(world.search_base_url, question)["results"]]
            top = [u for u in urls[:5] if facts["domain"] in u or facts["domain"].removesuffix(".example") in u]
            assert len(top) >= 3, (question, urls)


def test_injected_search_faults(world):
    try:
        world.set_faults("search", SearchFaults(rate_503=1.0, retry_after_s=4))
        with pytest.raises(urllib.error.HTTPError) as err:
            _search(world.search_base_url, "ceo")
        assert err.value.code == 503 and err.value.headers["Retry-After"] == "4"
        world.set_faults("search", SearchFaults(rate_429=1.0))
        with pytest.raises(urllib.error.HTTPError) as err:
            _search(world.search_base_url, "ceo")
        assert err.value.code == 429
        world.set_faults("search", SearchFaults(rate_empty=1.0))
        assert _search(world.search_base_url, "ceo")["results"] == []
    finally:
        world.set_faults("search", SearchFaults())
    assert _search(world.search_base_url, "ceo")["results"]


def test_index_ranks_by_bm25_and_snippets_follow_the_query():
    index = SearchIndex([
        Document("http://a.example/1", "Pricing", "Our plans start at 10 dollars. Enterprise pricing on request."),
        Document("http://a.example/2", "Holiday policy", "Employees get 30 days of paid leave. Carry-over is allowed."),
        Document("http://a.example/3", "Office", "The office is in Leeds."),
    ])
    hits = index.search("how many days of paid leave do employees get")
    assert hits[0].url == "http://a.example/2" and "30 days" in hits[0].snippet
    assert index.search("zzzz unknownword") == []


def test_site_operators_filter_by_host(world):
    host = world.companies[0]["domain"]
    only = _search(world.search_base_url, f"CEO site:{host}")["results"]
    assert only and all(f"//{host}:" in r["url"] for r in only)
    without = _search(world.search_base_url, f"CEO (site:{host} OR site:company-directory.example) -site:{host}")["results"]
    assert without and all("company-directory.example" in r["url"] for r in without)


def _page(title: str, body: str) -> str:
    return (f"<html><head><title>{title}</title></head><body><nav>Home | About</nav><main><article><h1>{title}</h1>"
            f"<p>{body}</p><p>{body}</p></article></main><footer>(c) Intranet</footer></body></html>")


@pytest.mark.slow  # two CLI start-ups
def test_trawl_index_folder_query_and_serve(tmp_path):
    (tmp_path / "hr").mkdir()
    (tmp_path / "hr" / "leave.html").write_text(_page("Holiday policy", "Every employee gets 30 days of paid leave per year, "
                                                      "and unused days carry over to the next calendar year."))
    (tmp_path / "it.html").write_text(_page("VPN setup", "Install the client, sign in with your badge number and "
                                            "choose the Frankfurt gateway for the lowest latency."))
    out = subprocess.run([TRAWL, "index", str(tmp_path), "--base-url", "https://intranet.example", "-q", "paid leave"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "indexed 2 page(s)" in out.stdout and "https://intranet.example/hr/leave.html" in out.stdout.split("\n")[1]
    proc = subprocess.Popen([TRAWL, "index", str(tmp_path), "--serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        port = None
        for line in proc.stdout:  # the ready line comes right after two lines of output (pytest-timeout bounds it)
            if line.startswith("TRAWL-READY"):
                port = int(line.split()[1])
                break
        assert port, "server never became ready"
        results = _search(f"http://127.0.0.1:{port}", "VPN gateway")["results"]
        # the folder's files are served by the same server, so a job can fetch what the index found
        assert results[0]["url"] == f"http://127.0.0.1:{port}/files/it.html" and results[0]["title"] == "VPN setup"
        with urllib.request.urlopen(results[0]["url"], timeout=10) as resp:
            assert resp.headers.get_content_type() == "text/html" and b"Frankfurt gateway" in resp.read()
    finally:
        proc.terminate()
        proc.wait(10)


def test_trawl_index_url_list_fetches_pages(world, tmp_path):
    # A URL list with one page of the world (on its loopback address) and one dead URL.
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# pages\n{world.site_base_url}/_trap/injection\nhttp://127.0.0.1:9/nothing-here\n")
    out = subprocess.run([TRAWL, "index", str(listing), "-q", "leadership update"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "NO_PROXY": "*"})
    assert out.returncode == 0, out.stderr
    assert "indexed 1 page(s)" in out.stdout and "/_trap/injection" in out.stdout


def test_an_index_over_urls_reads_html_text_and_pdf_responses(tmp_path):
    from pipelines.world.index import url_documents
    from tests.fixtures_reliability import LoopbackServer
    from tests.pdf_docs import text_pdf

    pdf = text_pdf([["Travel policy"], ["Book trains for trips under 600 km."]])
    routes = {
        "/policy.pdf": (200, {"Content-Type": "application/pdf"}, pdf),
        "/scan": (200, {"Content-Type": "application/octet-stream"}, pdf),  # a PDF by its magic bytes
        "/notes.txt": (200, {"Content-Type": "text/plain; charset=utf-8"}, "Kantine öffnet um 11:30.".encode()),
        "/logo.png": (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n" + b"0" * 100),
    }
    with LoopbackServer(routes=routes) as server:
        listing = tmp_path / "urls.txt"
        listing.write_text("".join(f"{server.base_url}{path}\n" for path in routes))
        docs = {d.url.rsplit("/", 1)[1]: d for d in url_documents(listing)}
    assert set(docs) == {"policy.pdf", "scan", "notes.txt"}
    assert "600 km" in docs["policy.pdf"].text and docs["scan"].text == docs["policy.pdf"].text
    assert docs["notes.txt"].text == "Kantine öffnet um 11:30."
