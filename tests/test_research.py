"""One cell end to end over in-process services: answers, citations, records, failures as outcomes."""

import asyncio

from pipelines.research import CellTask, research_cell
from pipelines.settings import ResearchSettings
from tests.fakes import SITE, FakeServices, html_page
from tests.pdf_docs import text_pdf


def _task(question, column="ceo", answer_type="text", **context):
    return CellTask(job_id="j", row_key="Acme Robotics", column=column, question=question,
                    context={"company": "Acme Robotics", **context}, answer_type=answer_type,
                    research=ResearchSettings(keywords_per_cell=2, results_per_keyword=5, max_pages_per_cell=4))


def test_cell_answers_with_citations_to_fetched_pages():
    services = FakeServices()
    outcome = asyncio.run(research_cell(_task("Who is the CEO of Acme Robotics?"), services))
    assert outcome.status == "done", outcome.error
    assert outcome.answer == "Jane Doe"
    assert outcome.citations and set(outcome.citations) <= set(services.page_fetches)
    assert all(c.startswith("http://acme.example/") for c in outcome.citations)
    # every intermediate step is recorded
    assert len(services.records["keywords"]) == 2
    assert any(r["selected"] for r in services.records["search_results"])
    assert any(r["relevant"] for r in services.records["excerpts"])
    assert set(services.llm_stages) == {"expand", "judge", "summarize"}


def test_typed_answer_is_coerced():
    outcome = asyncio.run(research_cell(
        _task("How many employees does Acme Robotics have?", column="employees", answer_type="integer"), FakeServices()))
    assert outcome.status == "done", outcome.error
    assert outcome.value == 1200


def test_citation_to_a_page_not_fetched_is_dropped_and_counted():
    services = FakeServices()

    async def lying_llm(req, _orig=services.llm):
        result = await _orig(req)
        if req.stage == "summarize":
            return type(result)(**{**result.__dict__, "text": "<answer>Jane Doe</answer><citations>S1 S9 http://evil.example/</citations>"})
        return result

    services.llm = lying_llm
    outcome = asyncio.run(research_cell(_task("Who is the CEO of Acme Robotics?"), services))
    assert outcome.status == "done"
    assert outcome.dropped_citations == 2
    assert all(c in services.page_fetches for c in outcome.citations)


def test_llm_outage_fails_the_cell_with_reason_not_an_exception():
    outcome = asyncio.run(research_cell(_task("Who is the CEO of Acme Robotics?"), FakeServices(fail_llm_for="CEO")))
    assert outcome.status == "failed"
    assert outcome.error.startswith("http_503")


def test_no_relevant_pages_is_a_recorded_failure():
    site = {"http://acme.example/x": html_page("Weather", "It will rain in Acme Robotics town tomorrow.")}
    outcome = asyncio.run(research_cell(_task("Who is the CEO of Acme Robotics?"), FakeServices(site)))
    assert outcome.status == "failed"
    assert outcome.error.split(":")[0] in ("no_relevant_pages", "no_answer")


def test_unparseable_reply_is_retried_once_with_repair_hint():
    services = FakeServices()
    calls = []

    async def flaky_llm(req, _orig=services.llm):
        calls.append(req)
        if req.stage == "expand" and len(calls) == 1:
            from pipelines.llm.types import LLMResult
            return LLMResult(text="I cannot comply", provider="fake", model="m")
        return await _orig(req)

    services.llm = flaky_llm
    outcome = asyncio.run(research_cell(_task("Who is the CEO of Acme Robotics?"), services))
    assert outcome.status == "done"
    assert calls[1].stage == "expand" and "could not be parsed" in calls[1].messages[-1]["content"]
    assert services.counters["llm_unparseable"] == 1


def test_judge_cannot_invent_excerpts():
    services = FakeServices()

    async def inventing_llm(req, _orig=services.llm):
        result = await _orig(req)
        if req.stage == "judge":
            return type(result)(**{**result.__dict__, "text": "<excerpt>Acme Robotics is led by CEO Mallory Evil since forever.</excerpt>"})
        return result

    services.llm = inventing_llm
    outcome = asyncio.run(research_cell(_task("Who is the CEO of Acme Robotics?"), services))
    assert outcome.status == "failed"
    assert services.counters["ungrounded_excerpts"] >= 1
    assert SITE  # the site itself was fine


def test_a_judge_outage_is_reported_as_such_not_as_irrelevant_pages():
    services = FakeServices()

    async def judge_down(req, _orig=services.llm):
        if req.stage == "judge":
            from pipelines.errors import UnavailableError
            raise UnavailableError("judge provider down", reason="http_500")
        return await _orig(req)

    services.llm = judge_down
    outcome = asyncio.run(research_cell(_task("Who is the CEO of Acme Robotics?"), services))
    assert outcome.status == "failed"
    assert outcome.error.startswith("judge_failed:") and "http_500" in outcome.error


PDF_URL = "http://acme.example/annual-report.pdf"
PDF_SITE = {PDF_URL: text_pdf([
    ["Acme Robotics annual report", "Revenue grew in every segment this year."],
    ["Acme Robotics was founded in 2004 in Leipzig by two engineers."],
], compress=False)}  # the fake search engine greps raw bodies


def test_a_pdf_answer_cites_the_page_its_excerpt_came_from():
    services = FakeServices(site=PDF_SITE)
    outcome = asyncio.run(research_cell(_task("In what year was Acme Robotics founded?", column="founded",
                                              answer_type="integer"), services))
    assert outcome.status == "done" and outcome.value == 2004, outcome.error
    assert outcome.citations == [f"{PDF_URL}#page=2"]
    assert [r["pdf_page"] for r in services.records["excerpts"] if r["relevant"]] == [2]


def test_a_page_citation_outside_the_fetched_pdf_pages_is_dropped():
    services = FakeServices(site=PDF_SITE)

    async def llm(req, _orig=services.llm):
        result = await _orig(req)
        if req.stage == "summarize":
            text = f"<answer>2004</answer><citations>{PDF_URL}#page=2 {PDF_URL}#page=7</citations>"
            return type(result)(**{**result.__dict__, "text": text})
        return result

    services.llm = llm
    outcome = asyncio.run(research_cell(_task("In what year was Acme Robotics founded?", column="founded",
                                              answer_type="integer"), services))
    assert outcome.citations == [f"{PDF_URL}#page=2"] and outcome.dropped_citations == 1


def test_a_url_cited_in_another_spelling_becomes_the_fetched_pages_key():
    services, cited = FakeServices(), []

    async def citing_by_url(req, _orig=services.llm):
        result = await _orig(req)
        if req.stage == "summarize":
            page = next(r["url"] for r in services.records["excerpts"] if r["relevant"])
            cited.append(page)
            respelled = page.replace("http://acme.example", "HTTP://ACME.example:80") + "#team"
            return type(result)(**{**result.__dict__, "text": f"<answer>Jane Doe</answer><citations>{respelled}</citations>"})
        return result

    services.llm = citing_by_url
    outcome = asyncio.run(research_cell(_task("Who is the CEO of Acme Robotics?"), services))
    assert outcome.status == "done" and outcome.dropped_citations == 0
    assert outcome.citations == cited
