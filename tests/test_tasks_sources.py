"""Per-column source policy: a research column's sources override the job's search settings field by field."""

from __future__ import annotations

import pytest

from pipelines.errors import SpecError
from pipelines.spec import parse_job
from tests.fakes import FakeServices
from tests.test_tasks_registry import PROVIDERS, run


def job_with(ceo_sources: dict | None):
    ceo = {"question": "Who is the CEO of {company}?"} | ({"sources": ceo_sources} if ceo_sources is not None else {})
    search = {**PROVIDERS["search"], "language": "en", "region": "us", "exclude_domains": ["spam.example"]}
    return parse_job({"name": "t", "key": "company", "rows": [{"company": "Acme Robotics"}], **PROVIDERS, "search": search,
                      "columns": {"ceo": ceo, "founded": {"question": "In what year was {company} founded?"}}})


def searches_by_column(job) -> dict:
    services, seen = FakeServices(), {}
    original = services.search

    async def search(req):
        seen[req.column] = req
        return await original(req)

    services.search = search
    run(job, services)
    return seen


def test_a_columns_sources_override_only_the_fields_it_names():
    seen = searches_by_column(job_with({"include_domains": ["acme.example"], "language": "de", "time_range": "year"}))
    ceo, founded = seen["ceo"], seen["founded"]
    assert (ceo.include_domains, ceo.exclude_domains, ceo.language, ceo.region, ceo.time_range) == (
        ("acme.example",), ("spam.example",), "de", "us", "year")
    assert (founded.include_domains, founded.language, founded.time_range) == ((), "en", None)


def test_an_empty_list_clears_the_jobs_list_for_that_column():
    assert searches_by_column(job_with({"exclude_domains": []}))["ceo"].exclude_domains == ()


def test_include_domains_limit_which_pages_a_column_reads():
    services = FakeServices()
    run(job_with({"include_domains": ["beta.example"]}), services)
    read = {r["url"] for r in services.records["search_results"] if r["column"] == "ceo" and r["selected"]}
    assert read and all("beta.example" in url for url in read)


@pytest.mark.parametrize(("sources", "expected"), [
    ("en", "columns.ceo.sources: must be a mapping of source policy settings"),
    ({"time_range": "decade"}, "columns.ceo.sources.time_range: Input should be 'day', 'week', 'month' or 'year'"),
    ({"domains": ["a"]}, "columns.ceo.sources.domains: unknown key 'domains' (allowed: include_domains, exclude_domains, time_range, language, region)"),
    ({"include_domains": "a.example"}, "columns.ceo.sources.include_domains: Input should be a valid list"),
])
def test_source_policy_errors_name_the_field(sources, expected):
    with pytest.raises(SpecError) as err:
        job_with(sources)
    shown = [str(p) for p in err.value.problems]
    assert any(s.startswith(expected) for s in shown), shown
