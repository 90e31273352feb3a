"""The designs trawl is compared with, run in the benchmark's own process against the same world.

Both baselines run the *same cell workflow* as trawl (``pipelines.research.research_cell``:
the same prompts, parsers, URL selection and BM25 chunk ranking), so only the
runtime differs:

- ``sequential``: one cell at a time in dependency order, and inside a cell one
  call at a time (every LLM call, search and page fetch waits for the previous
  one) — how a first prototype is written. Extraction runs in-process.
- ``asyncio``: the strongest single-process design. Every row's cells run as
  asyncio tasks as soon as their upstream cells are done (bounded by
  ``max_cells``); LLM calls go through one ``openai.AsyncOpenAI`` client,
  searches and pages through one ``aiohttp`` session, each behind a semaphore;
  a URL is fetched and extracted once per job however many cells need it
  (page fan-in); robots.txt is read once per host and honoured, with the same
  per-host concurrency as trawl; trafilatura runs in a ``ProcessPoolExecutor``
  with one worker per core. It keeps nothing on disk (no Parquet, no caches),
  which is an advantage over trawl.
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.parse
import urllib.robotparser
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import aiohttp
import openai

from pipelines.coordinator import make_task
from pipelines.errors import UnavailableError
from pipelines.extract import ExtractedPage, extract_page
from pipelines.llm.canonical import request_body
from pipelines.llm.types import LLMRequest, LLMResult
from pipelines.research import research_cell
from pipelines.search.types import SearchHit, SearchRequest

__all__ = ["BaselineResult", "run_sequential", "run_asyncio"]


@dataclass
class BaselineResult:
    wall_s: float
    cells: list[dict]  # {"row_key", "column", "status", "answer", "input_tokens", ...}
    counters: dict


@dataclass
class _Fetched:
    """The duck-typed fetch result ``extract_page`` reads."""

    url: str
    final_url: str
    status: str
    reason: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    charset: str | None = None
    body: bytes | None = None
    bytes: int = 0


def _extract(fetched: _Fetched, chunk_chars: int) -> ExtractedPage:
    return extract_page(fetched, chunk_chars=chunk_chars)


class LocalServices:
    """``pipelines.research.Services`` in one process: aiohttp, AsyncOpenAI, trafilatura in a process pool."""

    def __init__(self, job, *, llm_concurrency: int, search_concurrency: int, fetch_concurrency: int,
                 pool: ProcessPoolExecutor | None, serial: bool = False) -> None:
        self.job = job
        self.provider = job.llm.providers[0]
        self.search_base = job.search.providers[0].base_url
        self.resolve_ip = next(iter(job.fetch.resolve.values()), None)
        self.per_host = job.fetch.per_domain_concurrency
        self.pool = pool
        self.counters: dict[str, int] = {}
        one = asyncio.Semaphore(1) if serial else None  # sequential: every call waits for the previous one
        self.llm_sem = one or asyncio.Semaphore(llm_concurrency)
        self.search_sem = one or asyncio.Semaphore(search_concurrency)
        self.fetch_sem = one or asyncio.Semaphore(fetch_concurrency)
        self.host_sems: dict[str, asyncio.Semaphore] = {}
        self.robots: dict[str, asyncio.Future] = {}
        self.delays: dict[str, float] = {}  # host -> robots.txt Crawl-delay
        self.next_start: dict[str, float] = {}
        self.pages: dict[str, asyncio.Future] = {}
        self.client = openai.AsyncOpenAI(api_key="unused", base_url=self.provider.base_url, max_retries=2,
                                         timeout=self.provider.timeout_s)
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, resolver=_StaticResolver(self.resolve_ip)),
                                             headers={"User-Agent": job.fetch.user_agent})

    async def aclose(self) -> None:
        await self.session.close()
        await self.client.close()

    def count(self, counter: str, n: int = 1) -> None:
        self.counters[counter] = self.counters.get(counter, 0) + n

    def record(self, table: str, records: list[dict]) -> None:  # a baseline keeps nothing
        return None

    async def llm(self, req: LLMRequest) -> LLMResult:
        body = request_body(self.provider, req)
        async with self.llm_sem:
            try:
                completion = await self.client.chat.completions.create(**body)
            except openai.OpenAIError as exc:
                raise UnavailableError(f"llm: {exc}", reason="llm_error") from None
        usage = completion.usage
        return LLMResult(text=completion.choices[0].message.content or "", provider=self.provider.name,
                         model=completion.model, input_tokens=usage.prompt_tokens if usage else 0,
                         output_tokens=usage.completion_tokens if usage else 0)

    async def search(self, req: SearchRequest) -> list[SearchHit]:
        params = {"q": req.query, "format": "json", "pageno": "1"}
        async with self.search_sem:
            async with self.session.get(f"{self.search_base}/search", params=params) as resp:
                if resp.status != 200:
                    raise UnavailableError(f"search: HTTP {resp.status}", reason=f"http_{resp.status}")
                payload = await resp.json()
        return [SearchHit(url=r["url"], title=r.get("title") or "", snippet=r.get("content") or "", rank=i + 1,
                          provider="searxng", score=r.get("score")) for i, r in enumerate(payload["results"][: req.count])]

    async def page(self, url: str) -> ExtractedPage:
        fut = self.pages.get(url)
        if fut is None:
            fut = self.pages[url] = asyncio.ensure_future(self._fetch_and_extract(url))
        else:
            self.count("page_fan_in")
        return await asyncio.shield(fut)

    async def _allowed(self, url: str) -> bool:
        origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))
        fut = self.robots.get(origin)
        if fut is None:
            fut = self.robots[origin] = asyncio.ensure_future(self._robots(origin))
        parser = await fut
        return parser is None or parser.can_fetch(self.job.fetch.user_agent, url)

    async def _robots(self, origin: str):
        try:
            text = await self._get(f"{origin}/robots.txt", host=urllib.parse.urlsplit(origin).hostname)
        except aiohttp.ClientError:
            return None
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(text[2].decode("utf-8", "replace").splitlines() if text[0] == 200 else [])
        delay = parser.crawl_delay(self.job.fetch.user_agent)
        if delay:
            self.delays[urllib.parse.urlsplit(origin).hostname or ""] = float(delay)
        return parser

    async def _get(self, url: str, host: str | None) -> tuple[int, str | None, bytes, str]:
        sem = self.host_sems.setdefault(host or "", asyncio.Semaphore(self.per_host))
        async with self.fetch_sem, sem:
            delay = self.delays.get(host or "")
            if delay:  # Crawl-delay: space request starts to this host
                now = time.monotonic()
                start = max(now, self.next_start.get(host or "", 0.0))
                self.next_start[host or ""] = start + delay
                await asyncio.sleep(start - now)
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=self.job.fetch.total_timeout_s)) as resp:
                return resp.status, resp.headers.get("Content-Type"), await resp.read(), str(resp.url)

    async def _fetch_and_extract(self, url: str) -> ExtractedPage:
        self.count("pages")
        if not await self._allowed(url):
            return ExtractedPage(url=url, final_url=url, status="blocked", reason="robots_disallowed")
        try:
            status, ctype, body, final = await self._get(url, urllib.parse.urlsplit(url).hostname)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return ExtractedPage(url=url, final_url=url, status="failed", reason=f"fetch: {type(exc).__name__}")
        if status != 200:
            return ExtractedPage(url=url, final_url=final, status="failed", reason=f"http_{status}", http_status=status)
        media = (ctype or "").split(";")[0].strip().lower() or None
        charset = ctype.split("charset=")[-1].strip() if ctype and "charset=" in ctype else None
        fetched = _Fetched(url, final, "ok", http_status=status, content_type=media, charset=charset, body=body, bytes=len(body))
        chunk_chars = self.job.research.chunk_chars
        if self.pool is None:
            return _extract(fetched, chunk_chars)
        return await asyncio.get_running_loop().run_in_executor(self.pool, _extract, fetched, chunk_chars)


class _StaticResolver(aiohttp.abc.AbstractResolver):
    """Every host to one IP (the local world), like trawl's ``fetch.resolve``; None: the system resolver."""

    def __init__(self, ip: str | None) -> None:
        self.ip = ip
        self._default = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: int = 0):
        if self.ip is None:
            return await self._default.resolve(host, port, family)
        import socket

        return [{"hostname": host, "host": self.ip, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        await self._default.close()


def _cell_row(task, outcome) -> dict:
    return {"row_key": task.row_key, "column": task.column, "status": outcome.status, "answer": outcome.answer,
            "error": outcome.error, "llm_calls": outcome.llm_calls, "input_tokens": outcome.input_tokens,
            "output_tokens": outcome.output_tokens, "pages_fetched": outcome.pages_fetched}


def _topological(job) -> list[str]:
    order, seen = [], set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in job.columns[name].depends_on:
            visit(dep)
        order.append(name)

    for name in job.columns:
        visit(name)
    return order


async def _run_sequential(job) -> BaselineResult:
    _warm(0)  # import trafilatura before the clock starts
    services = LocalServices(job, llm_concurrency=1, search_concurrency=1, fetch_concurrency=1, pool=None, serial=True)
    cells = []
    started = time.perf_counter()
    try:
        for row in job.rows:
            key, answers = str(row[job.key]), {}
            for column in _topological(job):
                if any(dep not in answers for dep in job.columns[column].depends_on):
                    cells.append({"row_key": key, "column": column, "status": "skipped", "answer": None})
                    continue
                task = make_task(job, key, column, row, answers, "baseline-sequential")
                outcome = await research_cell(task, services)
                if outcome.status == "done":
                    answers[column] = outcome.answer or ""
                cells.append(_cell_row(task, outcome))
    finally:
        await services.aclose()
    return BaselineResult(time.perf_counter() - started, cells, services.counters)


async def _run_asyncio(job, *, max_cells: int, llm_concurrency: int, search_concurrency: int, fetch_concurrency: int,
                       workers: int) -> BaselineResult:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_warm, range(workers)))  # fork and import trafilatura before the clock starts
        services = LocalServices(job, llm_concurrency=llm_concurrency, search_concurrency=search_concurrency,
                                 fetch_concurrency=fetch_concurrency, pool=pool)
        cell_sem = asyncio.Semaphore(max_cells)
        cells: list[dict] = []
        started = time.perf_counter()

        async def one_row(row: dict) -> None:
            key, answers = str(row[job.key]), {}
            done: dict[str, asyncio.Future] = {c: asyncio.get_running_loop().create_future() for c in job.columns}

            async def one_cell(column: str) -> None:
                ok = all(await asyncio.gather(*(done[d] for d in job.columns[column].depends_on)))
                if not ok:
                    cells.append({"row_key": key, "column": column, "status": "skipped", "answer": None})
                    done[column].set_result(False)
                    return
                async with cell_sem:
                    task = make_task(job, key, column, row, answers, "baseline-asyncio")
                    outcome = await research_cell(task, services)
                if outcome.status == "done":
                    answers[column] = outcome.answer or ""
                cells.append(_cell_row(task, outcome))
                done[column].set_result(outcome.status == "done")

            await asyncio.gather(*(one_cell(c) for c in job.columns))

        try:
            await asyncio.gather(*(one_row(r) for r in job.rows))
        finally:
            await services.aclose()
        return BaselineResult(time.perf_counter() - started, cells, services.counters)


def _warm(_: int) -> bool:
    import trafilatura  # noqa: F401

    return True


def run_sequential(job) -> BaselineResult:
    """Baseline (a): one cell, one call, one page at a time."""
    return asyncio.run(_run_sequential(job))


def run_asyncio(job, *, max_cells: int = 64, llm_concurrency: int = 256, search_concurrency: int = 64,
                fetch_concurrency: int = 256, workers: int | None = None) -> BaselineResult:
    """Baseline (b): one process, asyncio with semaphores, trafilatura in a process pool of ``workers`` (default: cores)."""
    return asyncio.run(_run_asyncio(job, max_cells=max_cells, llm_concurrency=llm_concurrency,
                                    search_concurrency=search_concurrency, fetch_concurrency=fetch_concurrency,
                                    workers=workers or os.cpu_count() or 2))
