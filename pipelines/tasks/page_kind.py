"""``kind: page``: read given pages, then judge and summarize with citations; no search.

``urls:`` lists URL templates filled from row fields and upstream answers,
e.g. ``https://{domain}/about``. A template that yields no scheme gets
``https://``. Every URL goes through the job's guarded fetcher (address
guard, robots.txt, size and time caps, page fan-in and page store) exactly
like a search result; the judge and the summarizer are the research ones, so
a citation may only point at a page read for this cell.
"""

from __future__ import annotations

import asyncio

from pipelines.errors import BudgetExhaustedError, TrawlError
from pipelines.research import CellOutcome, CellTask, _Cell
from pipelines.status import CellStatus
from pipelines.tasks.base import KindSpec, TaskServices, failed, spec_of
from pipelines.templates import TemplateProblem, render, template_names
from pipelines.urls import normalize_url

__all__ = ["PageKind", "KIND", "MAX_URLS"]

MAX_URLS = 20  # pages one cell reads; more is a crawl, which is what research is for


class PageKind:
    name = "page"
    fields = {"urls": "URL templates to read, e.g. 'https://{domain}/about'"}
    needs_question = True

    def build(self, spec, path, problems) -> KindSpec | None:
        raw = spec.get("urls")
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw or len(raw) > MAX_URLS or not all(isinstance(u, str) and u.strip() for u in raw):
            problems.add(f"{path}.urls", f"required: a list of 1 to {MAX_URLS} URL templates, e.g. 'https://{{domain}}/about'", raw)
            return None
        refs: list[tuple[str, str]] = []
        for i, template in enumerate(raw):
            try:
                refs.extend((f"{path}.urls[{i}]", n) for n in template_names(template))
            except TemplateProblem as err:
                problems.add(f"{path}.urls[{i}]", str(err))
            scheme = template.split("://", 1)[0].lower() if "://" in template else "https"
            if scheme not in ("http", "https"):
                problems.add(f"{path}.urls[{i}]", "only http and https URLs can be read", template)
        return KindSpec(config=tuple(u.strip() for u in raw), refs=tuple(refs))

    async def run(self, task: CellTask, services: TaskServices) -> CellOutcome:
        templates: tuple[str, ...] = spec_of(task).config
        urls: list[str] = []
        bad: list[str] = []
        for template in templates:
            text = render(template, task.context).strip()
            url = normalize_url(text if "://" in text else f"https://{text}")
            (urls if url else bad).append(url or text)
        if not urls:
            return failed("bad_url", f"no readable URL among {', '.join(repr(b) for b in bad)[:300]}")
        urls = list(dict.fromkeys(urls))
        cell = _Cell(task, services)
        o = cell.outcome
        try:
            # Fetched once here (the services' page fan-in serves the judge the same page), so a cell whose
            # pages could not be read says so instead of "none relevant".
            pages = await asyncio.gather(*(services.page(u) for u in urls))
            if not any(p.ok and p.chunks for p in pages):
                o.pages_fetched = len(pages)
                shown = "; ".join(f"{p.url}: {p.status} ({p.reason or 'no text'})" for p in pages)
                o.status, o.error = CellStatus.FAILED, f"page_unreadable: {shown[:400]}"
                return o
            judged = await cell.pages_and_excerpts(urls)
            if not judged and cell.judge_errors:
                last = cell.judge_errors[-1]
                o.status, o.error = CellStatus.FAILED, f"judge_failed: {len(cell.judge_errors)} of {o.pages_fetched} page(s) could not be judged ({last.reason}: {last})"
            elif not judged:
                o.status, o.error = CellStatus.FAILED, f"no_relevant_pages: {o.pages_fetched} page(s) read, none relevant"
            else:
                await cell.summarize(judged)
        except BudgetExhaustedError as exc:
            o.status, o.error = "budget_exhausted", f"budget_exhausted: {exc}"
        except TrawlError as exc:
            o.status, o.error = CellStatus.FAILED, f"{exc.reason}: {exc}"
        return o


KIND = PageKind()
