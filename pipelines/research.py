"""The cell workflow: expand → search → fetch/extract → judge → summarize, for one cell.

Plain asyncio over a ``Services`` object, so the same code runs against Ray
actors (``actors.services.RayServices``) and against in-process fakes in
unit tests. Every intermediate step is recorded through ``services.record``;
a failure anywhere becomes a ``CellOutcome`` with a reason, never an
exception out of ``research_cell``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Protocol

from pipelines import prompts
from pipelines.answers import coerce
from pipelines.cell_reasons import no_pages_error, no_results_error, unread_reason
from pipelines.citations import excerpt_page, pdf_citation, sources_by_page
from pipelines.errors import BudgetExhaustedError, TrawlError, UnparseableOutputError
from pipelines.extract import ExtractedPage
from pipelines.llm.prices import add_costs
from pipelines.llm.types import CallContext, LLMRequest, LLMResult
from pipelines.ranking import RankQuery, rank_page
from pipelines.reasons import split_reason
from pipelines.search.types import SearchHit, SearchRequest
from pipelines.settings import ResearchSettings
from pipelines.status import CellStatus, Stage
from pipelines.urls import normalize_url, select_urls

if TYPE_CHECKING:  # pipelines.tasks.base imports this module
    from pipelines.tasks.base import KindSpec

__all__ = ["CellTask", "CellOutcome", "Services", "research_cell"]


class Services(Protocol):
    """What a cell needs from the outside world (``actors.services.RayServices`` on Ray; fakes in tests).

    ``llm``/``search`` raise ``pipelines.errors.TrawlError`` subclasses (never third-party errors);
    ``page`` never raises: a page that cannot be used comes back with a non-ok ``status``;
    ``record(table, records)`` queues rows for an output table (``pipelines.store.schemas``);
    ``count(counter, n)`` bumps a progress counter (``pages_ok``, ``llm_calls``, ``tokens``...).
    """

    async def llm(self, req: LLMRequest) -> LLMResult: ...
    async def search(self, req: SearchRequest) -> list[SearchHit]: ...
    async def page(self, url: str) -> ExtractedPage: ...
    def record(self, table: str, records: list[dict]) -> None: ...
    def count(self, counter: str, n: int = 1) -> None: ...


@dataclass
class CellTask:
    """One cell to research: ``question`` with row fields and upstream answers filled in, ``context``
    the row's fields and upstream answers by name, ``answer_type`` the column's type (text, integer,
    number, boolean, date, url, list), ``research`` the column's effective settings, the search
    filters of the job, and ``run_id`` naming the run (first run, resume, rerun)."""

    job_id: str
    row_key: str
    column: str
    question: str
    context: dict[str, str]
    answer_type: str = "text"
    instructions: str | None = None
    research: ResearchSettings = field(default_factory=lambda: ResearchSettings())
    include_domains: tuple[str, ...] = ()
    exclude_domains: tuple[str, ...] = ()
    language: str | None = None
    region: str | None = None
    time_range: str | None = None
    run_id: str = ""
    kind: str = "research"  # the column's task kind (pipelines.tasks)
    spec: KindSpec | None = None  # the kind's validated settings


@dataclass
class CellOutcome:
    """What researching a cell produced: ``status`` (a ``CellStatus``), the ``answer`` text and its
    typed ``value`` (JSON-able; None when it did not fit the type), ``confidence`` 0..1, ``citations``
    (URLs fetched for this cell), ``error`` as "<reason_slug>: <message>" (split into the ``reason``
    and ``message`` columns when written), counts of each step, and tokens and ``cost_usd`` (USD) of
    its uncached LLM calls."""

    status: str  # one of CellStatus: done | failed | skipped | budget_exhausted
    answer: str | None = None
    value: object | None = None
    confidence: float | None = None
    citations: list[str] = field(default_factory=list)
    dropped_citations: int = 0
    error: str | None = None
    keywords: int = 0
    search_results: int = 0
    pages_fetched: int = 0
    pages_relevant: int = 0
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0  # None once any call's price is unknown


_SCHEMAS = {"judge": prompts.JUDGE_SCHEMA, "summarize": prompts.SUMMARY_SCHEMA}


class _Cell:
    """State of one cell while it is researched (token totals, records)."""

    def __init__(self, task: CellTask, services: Services) -> None:
        self.task = task
        self.services = services
        self.outcome = CellOutcome(status=CellStatus.DONE)
        self.ctx = CallContext(task.job_id, task.row_key, task.column, cell_started=time.time())  # pipelines.priority
        self.judge_errors: list[TrawlError] = []
        self.unread: list[str] = []  # reason slugs of pages that gave no text to judge
        self.keywords: list[str] = []  # the expanded search keywords: page wording, ranked with the question
        self.rank_query: RankQuery | None = None  # question + context + keywords, tokenized once per page language
        self.search_errors: list[TrawlError] = []  # searches that failed while others answered

    def _keys(self) -> dict:
        return {"job_id": self.task.job_id, "row_key": self.task.row_key, "column": self.task.column}

    async def ask(self, stage: str, messages: list[dict], parse):
        """One logical LLM call: parse the reply; on an unparseable reply, retry once with a repair hint."""
        reply = await self._call(stage, messages)
        try:
            return parse(reply.text)
        except UnparseableOutputError:
            self.services.count("llm_unparseable")
            reply = await self._call(stage, prompts.with_repair_hint(messages, reply.text))
            return parse(reply.text)

    async def _call(self, stage: str, messages: list[dict]) -> LLMResult:
        req = LLMRequest(stage=stage, messages=messages, context=self.ctx, prompt_version=prompts.PROMPT_VERSION,
                         response_schema=_SCHEMAS.get(stage))
        result = await self.services.llm(req)
        o = self.outcome
        o.llm_calls += 1
        o.input_tokens += result.input_tokens
        o.output_tokens += result.output_tokens
        o.cost_usd = add_costs(o.cost_usd, result.cost_usd)
        self.services.count("llm_calls")
        self.services.count("tokens", result.input_tokens + result.output_tokens)
        return result

    # --- stages -------------------------------------------------------------

    async def expand(self) -> list[str]:
        t, k = self.task, self.task.research.keywords_per_cell
        try:
            keywords = await self.ask(Stage.EXPAND, prompts.expand_messages(t.question, t.context, k), lambda s: prompts.parse_keywords(s, k))
        except UnparseableOutputError:
            keywords = [t.question]  # rules suffice: the question itself is a fine query
        self.services.record(
            "keywords", [{**self._keys(), "position": i, "keyword": kw} for i, kw in enumerate(keywords)]
        )
        self.outcome.keywords = len(keywords)
        self.keywords = keywords
        return keywords

    async def search(self, keywords: list[str]) -> list[str]:
        t, n = self.task, self.task.research.results_per_keyword

        async def one(keyword: str) -> list[SearchHit] | TrawlError:
            req = SearchRequest(
                query=keyword, count=n, language=t.language, region=t.region, time_range=t.time_range,
                include_domains=t.include_domains, exclude_domains=t.exclude_domains,
                job_id=t.job_id, row_key=t.row_key, column=t.column, cell_started=self.ctx.cell_started,
            )
            try:
                return (await self.services.search(req))[:n]
            except TrawlError as exc:
                return exc

        answers = await asyncio.gather(*(one(k) for k in keywords))
        self.services.count("searches", len(keywords))
        errors = [a for a in answers if isinstance(a, TrawlError)]
        hits_by_keyword = [a if not isinstance(a, TrawlError) else [] for a in answers]
        if errors and len(errors) == len(answers):
            raise errors[0]
        self.search_errors = errors
        urls, infos = select_urls(
            hits_by_keyword, include=list(t.include_domains), exclude=list(t.exclude_domains), cap=t.research.max_pages_per_cell
        )
        rows = [
            {**self._keys(), "keyword": keywords[info.keyword_index], "rank": info.hit.rank,
             "url": info.url or info.hit.url, "title": info.hit.title, "snippet": info.hit.snippet,
             "provider": info.hit.provider, "score": info.hit.score, "selected": info.selected}
            for info in infos
        ]
        self.services.record("search_results", rows)
        self.outcome.search_results = len(rows)
        return urls

    async def judge(self, page: ExtractedPage) -> tuple[list[str], float]:
        t = self.task
        if self.rank_query is None:
            self.rank_query = RankQuery(f"{t.question} {' '.join(t.context.values())}", self.keywords)
        ranked = rank_page(self.rank_query, page, t.research.chunks_per_page)
        best = max((r.score for r in ranked), default=0.0)
        shown = [r.text for r in sorted(ranked, key=lambda r: r.index)]
        msg = prompts.judge_messages(t.question, t.context, prompts.PageForJudge("P", page.url, page.title, shown))
        # An unparseable reply (after the repair retry) propagates: the page could not be judged, which is not
        # "not relevant" (pages_and_excerpts records it as judge_failed with the LLM's reason).
        excerpts = await self.ask(Stage.JUDGE, msg, prompts.parse_judgement)
        # A judge may only quote the page: drop "excerpts" that are not grounded in the text it was shown.
        shown_words = set(_words(" ".join(shown)))
        grounded = [e for e in excerpts if _grounded(e, shown_words)]
        if len(grounded) < len(excerpts):
            self.services.count("ungrounded_excerpts", len(excerpts) - len(grounded))
        return grounded, best

    async def pages_and_excerpts(self, urls: list[str]) -> list[tuple[ExtractedPage, list[str]]]:
        async def one(url: str):
            page = await self.services.page(url)
            if not page.ok or not page.chunks:
                return page, [], 0.0, False
            try:
                excerpts, best = await self.judge(page)
            except BudgetExhaustedError:
                raise
            except TrawlError as exc:  # a failed judge call fails this page for this cell, not the cell
                self.services.count("judge_failed")
                self.judge_errors.append(exc)
                return page, [], 0.0, f"judge_failed: {exc.reason}"
            return page, excerpts, best, True

        results = await asyncio.gather(*(one(u) for u in urls))
        judged: list[tuple[ExtractedPage, list[str]]] = []
        rows: list[dict] = []
        self.outcome.pages_fetched = len(results)
        for page, excerpts, best, state in results:
            if state is False:
                self.unread.append(unread_reason(page))
                continue
            if excerpts:
                self.outcome.pages_relevant += 1
                judged.append((page, excerpts))
            rows.extend(
                {**self._keys(), "url": page.url, "position": i, "relevant": True, "text": e, "chunk_score": best,
                 "pdf_page": excerpt_page(e, page.chunks, page.chunk_pages)}
                for i, e in enumerate(excerpts)
            )
            if not excerpts:
                rows.append({**self._keys(), "url": page.url, "position": 0, "relevant": False,
                             "text": state if isinstance(state, str) else None, "chunk_score": best})
        self.services.record("excerpts", rows)
        return judged

    async def summarize(self, judged: list[tuple[ExtractedPage, list[str]]]) -> None:
        t, o = self.task, self.outcome
        budget = t.research.max_excerpts
        sources: list[prompts.SourceForSummary] = []
        by_id: dict[str, str] = {}
        for page, page_excerpts in judged:
            for url, excerpts in sources_by_page(page.url, page_excerpts, page.chunks, page.chunk_pages):  # a PDF: one per page
                if budget <= 0:
                    break
                sid = f"S{len(sources) + 1}"
                sources.append(prompts.SourceForSummary(sid, url, page.title, excerpts[:budget]))
                by_id[sid] = url
                budget -= len(excerpts[:budget])
        msg = prompts.summarize_messages(t.question, t.context, t.answer_type, sources, t.instructions)
        summary = await self.ask(Stage.SUMMARIZE, msg, prompts.parse_summary)
        # a URL cited by its text counts when it names a fetched page, in any spelling; the citation is that page's key
        fetched = {normalize_url(u): page.url for page, _ in judged for u in (page.url, page.final_url)}
        pdf_pages = {page.url: set(page.chunk_pages) for page, _ in judged if page.chunk_pages}
        for cite in summary.citations:
            cited: str | None = by_id.get(cite) or by_id.get(cite.upper())
            if cited is None and cite.lower().startswith("http"):
                base, sep, fragment = cite.partition("#page=")
                key = fetched.get(normalize_url(base) or "")
                if sep and pdf_pages:  # a page of a fetched PDF; a page its text did not come from is dropped
                    cited = pdf_citation(f"{key}#page={fragment}", pdf_pages, normalize_url) if key else None
                else:
                    cited = key
            if cited is None:
                o.dropped_citations += 1
            elif cited not in o.citations:
                o.citations.append(cited)
        if summary.answer is None:
            o.status, o.error = CellStatus.FAILED, f"no_answer: {len(judged)} relevant page(s) did not answer the question"
            return
        if not o.citations:  # an answer must rest on a fetched page; fall back to the sources it was given
            o.citations = [page.url for page, _ in judged]
        o.answer, o.confidence = summary.answer, summary.confidence
        o.value, problem = coerce(summary.answer, t.answer_type)
        if problem:
            o.error = problem


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


# Share of an excerpt's words that must occur in the chunks the judge was shown: high enough that an invented
# sentence fails, low enough that re-punctuation, a dropped hyphen or a fixed typo in a quote still passes.
GROUNDED_WORD_SHARE = 0.8


def _grounded(excerpt: str, shown_words: set[str]) -> bool:
    """Most of an excerpt's words must occur in what the judge was shown (tolerates re-punctuation, not invention)."""
    words = _words(excerpt)
    return bool(words) and sum(w in shown_words for w in words) / len(words) >= GROUNDED_WORD_SHARE


async def research_cell(task: CellTask, services: Services) -> CellOutcome:
    """Research one cell end to end. Never raises for research failures; see ``CellOutcome.error``."""
    cell = _Cell(task, services)
    o = cell.outcome
    try:
        keywords = await cell.expand()
        urls = await cell.search(keywords)
        if not urls:
            o.status, o.error = CellStatus.FAILED, no_results_error(len(keywords), cell.search_errors)
            return o
        judged = await cell.pages_and_excerpts(urls)
        if not judged and cell.judge_errors:  # the LLM failed, not the pages: say so, so the user reruns the cell
            last = cell.judge_errors[-1]
            o.status = CellStatus.FAILED
            o.error = f"judge_failed: {len(cell.judge_errors)} of {o.pages_fetched} page(s) could not be judged ({last.reason}: {last})"
            return o
        if not judged:
            o.status, o.error = CellStatus.FAILED, no_pages_error(o.pages_fetched, cell.unread)
            return o
        await cell.summarize(judged)
    except BudgetExhaustedError as exc:
        o.status, o.error = CellStatus.BUDGET_EXHAUSTED, f"budget_exhausted: {exc}"
    except TrawlError as exc:
        o.status, o.error = CellStatus.FAILED, f"{exc.reason}: {exc}"
    return o


def cell_record(task: CellTask, outcome: CellOutcome, started: float, finished: float, worker: str = "driver") -> dict:
    """The ``cells`` table row for a finished cell (wall-clock ``time.time()`` stamps); ``worker`` names where it ran."""
    return {
        "job_id": task.job_id,
        "row_key": task.row_key,
        "column": task.column,
        "status": outcome.status,
        "answer": outcome.answer,
        "value_json": None if outcome.value is None else json.dumps(outcome.value, ensure_ascii=False),
        "answer_type": task.answer_type,
        "confidence": outcome.confidence,
        "citations": outcome.citations,
        "dropped_citations": outcome.dropped_citations,
        **dict(zip(("reason", "message"), split_reason(outcome.error))),
        "question": task.question,
        "keywords": outcome.keywords,
        "search_results": outcome.search_results,
        "pages_fetched": outcome.pages_fetched,
        "pages_relevant": outcome.pages_relevant,
        "llm_calls": outcome.llm_calls,
        "input_tokens": outcome.input_tokens,
        "output_tokens": outcome.output_tokens,
        "cost_usd": None if outcome.cost_usd is None else round(outcome.cost_usd, 8),
        "started_at": datetime.fromtimestamp(started, timezone.utc),
        "finished_at": datetime.fromtimestamp(finished, timezone.utc),
        "duration_s": round(finished - started, 4),
        "run_id": task.run_id,
        "worker": worker,
    }

