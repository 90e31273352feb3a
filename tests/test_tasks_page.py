"""kind: page — read URL templates through the page service, judge and summarize with citations, no search."""

from __future__ import annotations

import pytest

from pipelines.errors import SpecError
from tests.fakes import FakeServices
from tests.test_tasks_registry import job_of, run

ABOUT = {"kind": "page", "question": "In what year was {company} founded?", "type": "integer", "urls": ["http://{domain}/about"]}


def test_a_page_column_reads_its_url_and_cites_it_without_searching():
    services = FakeServices()
    run(job_of({"founded": ABOUT, "ceo": {**ABOUT, "question": "Who is the CEO of {company}?", "type": "text"}}), services)
    founded = services.cells()[("Acme Robotics", "founded")]
    assert (founded["status"], founded["value_json"], founded["citations"]) == ("done", "2004", ["http://acme.example/about"])
    assert founded["keywords"] == 0 and founded["search_results"] == 0 and founded["pages_fetched"] == 1
    assert services.cells()[("Acme Robotics", "ceo")]["answer"] == "Jane Doe"
    assert services.page_fetches["http://acme.example/about"] == 1  # both columns, one fetch
    assert "keywords" not in services.records and "search_results" not in services.records
    assert {r["column"] for r in services.records["excerpts"] if r["relevant"]} == {"founded", "ceo"}


def test_urls_may_use_upstream_answers_and_a_missing_scheme_means_https():
    services = FakeServices(site={**FakeServices().site, "https://acme.example/team": FakeServices().site["http://acme.example/team"]})
    job = job_of({"site": {"kind": "rule", "rule": {"template": "{domain}"}},
                  "staff": {"kind": "page", "question": "How many employees does {company} have?", "type": "integer",
                            "urls": ["{site}/team"]}})
    assert job.columns["staff"].depends_on == ("site",)
    run(job, services)
    cell = services.cells()[("Acme Robotics", "staff")]
    assert (cell["value_json"], cell["citations"]) == ("1200", ["https://acme.example/team"])


def test_an_unreadable_page_fails_as_unreadable_not_as_irrelevant():
    services = FakeServices()
    run(job_of({"founded": {**ABOUT, "urls": ["http://{domain}/missing"]}}), services)
    cell = services.cells()[("Acme Robotics", "founded")]
    assert cell["status"] == "failed" and cell["error"].startswith("page_unreadable: http://acme.example/missing: failed (http_404)")


def test_a_page_that_does_not_answer_fails_as_no_relevant_pages():
    services = FakeServices()
    run(job_of({"founded": {**ABOUT, "question": "Which ERP system does {company} use?", "type": "text"}},
               rows=({"company": "Beta Labs", "domain": "acme.example"},)), services)
    assert services.cells()[("Beta Labs", "founded")]["error"].startswith("no_relevant_pages: 1 page(s) read")


@pytest.mark.parametrize(("urls", "expected"), [
    (None, "columns.out.urls: required: a list of 1 to 20 URL templates"),
    ([], "columns.out.urls: required"),
    (["http://x/{i}" for i in range(21)], "columns.out.urls: required"),
    (["ftp://{domain}/about"], "columns.out.urls[0]: only http and https URLs can be read"),
    (["http://{domian}/about"], "columns.out.urls[0]: unknown name 'domian'"),
    (["http://{domain!r}/"], "columns.out.urls[0]: placeholder '{domain!r}': conversions"),
])
def test_page_spec_errors_name_the_field(urls, expected):
    column = {"kind": "page", "question": "q {company}"} | ({} if urls is None else {"urls": urls})
    with pytest.raises(SpecError) as err:
        job_of({"out": column})
    shown = [str(p) for p in err.value.problems]
    assert any(s.startswith(expected) for s in shown), shown
