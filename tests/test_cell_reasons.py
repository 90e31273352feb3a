"""A cell with no relevant page says whether its pages were unreadable (and why) or read and irrelevant."""

import asyncio

import pytest

from pipelines.cell_reasons import no_pages_error, reason_counts
from pipelines.extract import ExtractedPage
from pipelines.research import CellTask, research_cell
from pipelines.search.types import SearchHit
from pipelines.settings import ResearchSettings
from tests.fakes import FakeServices, html_page

IRRELEVANT = html_page("Weather", "It will rain in Acme Robotics town tomorrow.")


class _Pages(FakeServices):
    """Search returns every URL of ``outcomes``; a URL maps to page bytes (read) or a failed fetch's reason."""

    def __init__(self, outcomes: dict[str, bytes | tuple[str, str]]):
        super().__init__({u: b for u, b in outcomes.items() if isinstance(b, bytes)})
        self.outcomes = outcomes

    async def search(self, req):
        return [SearchHit(url=u, title=u, snippet="", rank=i + 1, provider="fake") for i, u in enumerate(self.outcomes)]

    async def page(self, url):
        outcome = self.outcomes[url]
        if isinstance(outcome, bytes):
            return await super().page(url)
        status, reason = outcome
        return ExtractedPage(url=url, final_url=url, status=status, reason=reason)


def _run(outcomes):
    task = CellTask(job_id="j", row_key="Acme Robotics", column="ceo", question="Who is the CEO of Acme Robotics?",
                    context={"company": "Acme Robotics"},
                    research=ResearchSettings(keywords_per_cell=1, results_per_keyword=10, max_pages_per_cell=10))
    services = _Pages(outcomes)
    return asyncio.run(research_cell(task, services)), services


def test_every_page_failing_to_fetch_says_no_readable_pages_with_the_reasons():
    outcome, services = _run({
        "http://a.example/1": ("failed", "http_403"), "http://a.example/2": ("failed", "http_403"),
        "http://b.example/1": ("failed", "redirect_loop: http://b.example/1"), "http://c.example/1": ("failed", "http_403"),
    })
    assert outcome.status == "failed"
    assert outcome.error == "no_readable_pages: 4 of 4 page(s) could not be read (http_403 ×3, redirect_loop ×1)"
    assert outcome.pages_fetched == 4 and services.llm_stages["judge"] == 0


@pytest.mark.parametrize("status, reason, slug", [
    ("blocked", "robots_disallowed", "robots_disallowed"),
    ("skipped", "content_type: application/pdf", "content_type"),
    ("failed", "timeout: read timed out", "timeout"),
    ("skipped", "no_text: no main text found", "no_text"),
    ("failed", None, "failed"),
])
def test_each_kind_of_unreadable_page_is_named_by_its_slug(status, reason, slug):
    outcome, _ = _run({"http://a.example/x": (status, reason), "http://a.example/y": (status, reason)})
    assert outcome.error == f"no_readable_pages: 2 of 2 page(s) could not be read ({slug} ×2)"


def test_an_extracted_page_without_text_counts_as_unreadable():
    outcome, _ = _run({"http://a.example/empty": b"<html><body></body></html>"})
    assert outcome.error.startswith("no_readable_pages: 1 of 1 page(s) could not be read (")


def test_mixed_unreadable_and_irrelevant_pages_say_both_counts():
    outcome, services = _run({"http://a.example/w": IRRELEVANT, "http://b.example/1": ("failed", "http_404"),
                              "http://b.example/2": ("failed", "http_404")})
    assert outcome.error == "no_relevant_pages: 1 page(s) read, none relevant; 2 of 3 could not be read (http_404 ×2)"
    assert services.llm_stages["judge"] == 1


def test_all_pages_read_and_irrelevant_keeps_the_plain_message():
    outcome, _ = _run({"http://a.example/w": IRRELEVANT})
    assert outcome.error == "no_relevant_pages: 1 page(s) read, none relevant"


def test_reason_counts_order_and_fold_the_tail():
    assert reason_counts(["b", "a", "b", "c", "d", "e", "f"]) == "b ×2, a ×1, c ×1, d ×1, …"
    assert no_pages_error(0, []) == "no_relevant_pages: 0 page(s) read, none relevant"


class _SomeSearchesFail(FakeServices):
    """The first keyword's search fails with a provider failure; the others find nothing."""

    async def search(self, req):
        from pipelines.errors import UnavailableError

        if not getattr(self, "failed_once", False):
            self.failed_once = True
            raise UnavailableError("search provider 'sx' found nothing because its engines failed: bing (timeout)",
                                   reason="engines_unresponsive")
        return []


def test_searches_that_failed_while_the_others_found_nothing_are_the_reason():
    task = CellTask(job_id="j", row_key="Acme", column="ceo", question="Who is the CEO of Acme?", context={"company": "Acme"},
                    research=ResearchSettings(keywords_per_cell=3, results_per_keyword=5, max_pages_per_cell=4))
    outcome = asyncio.run(research_cell(task, _SomeSearchesFail()))
    assert outcome.error.startswith("engines_unresponsive: 1 of ") and "bing (timeout)" in outcome.error


def test_searches_that_all_found_nothing_say_no_results():
    outcome, _ = _run({})
    assert outcome.error == "no_results: search returned no usable URLs"
