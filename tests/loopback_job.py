"""A job's cells run over real loopback services, without Ray: the world's search and pages, a real LLM gateway.

``run_cells(world, llm_settings, tmp_path)`` researches every (row, column)
of a small job with the same ``research_cell`` the Ray workers run: search
through the SearXNG adapter against the world's search server, pages fetched
by ``PageFetcher`` from the world's site server and extracted, LLM calls
through ``Gateway`` over HTTP to whatever ``llm_settings`` points at (a contract
server in tests/test_llm_contracts.py). Returns the cells table rows and
every ``llm_calls`` record.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from pipelines.extract import extract_page
from pipelines.fetch.fetcher import PageFetcher
from pipelines.llm.config import LLMSettings
from pipelines.llm.gateway import Gateway
from pipelines.reasons import join_reason
from pipelines.research import CellTask, cell_record, research_cell
from pipelines.search.config import SearchSettings
from pipelines.search.gateway import SearchGateway
from pipelines.settings import FetchSettings, ResearchSettings
from pipelines.world.process import DEFAULT_COLUMNS

__all__ = ["run_cells", "LoopbackServices"]

SMALL = ResearchSettings(keywords_per_cell=2, results_per_keyword=5, max_pages_per_cell=4)


class LoopbackServices:
    """``pipelines.research.Services`` over the world's servers and a real gateway, in one event loop."""

    def __init__(self, world, llm: Gateway) -> None:
        self.llm_gateway = llm
        self.search_gateway = SearchGateway(SearchSettings(
            providers=[{"name": "world", "kind": "searxng", "base_url": world.search_base_url}], cache=False))
        self.fetcher = PageFetcher(FetchSettings(resolve={"*.example": "127.0.0.1"}, allow_hosts=["*.example"]))
        self.records: dict[str, list[dict]] = {}
        self.counters: Counter = Counter()
        self._pages: dict[str, asyncio.Future] = {}

    async def llm(self, req):
        return await self.llm_gateway.complete(req)

    async def search(self, req):
        return await self.search_gateway.search(req)

    async def page(self, url):
        if url not in self._pages:  # page fan-in, as RayServices does
            self._pages[url] = asyncio.ensure_future(self._fetch(url))
        return await self._pages[url]

    async def _fetch(self, url):
        return extract_page(await self.fetcher.fetch(url), chunk_chars=SMALL.chunk_chars)

    def record(self, table, records):
        self.records.setdefault(table, []).extend(records)

    def count(self, counter, n=1):
        self.counters[counter] += n

    async def aclose(self) -> None:
        await self.fetcher.aclose()
        await self.search_gateway.aclose()
        await self.llm_gateway.aclose()


def run_cells(world, llm_settings: LLMSettings, cache_dir: str, *, rows: int = 2,
              columns: tuple[str, ...] = ("ceo", "founded")) -> tuple[list[dict], list[dict]]:
    """(cells rows, llm_calls records) for ``rows`` companies x ``columns`` of the world's default job."""
    calls: list[dict] = []

    async def go():
        services = LoopbackServices(world, Gateway(llm_settings, record_sink=calls.extend, cache_dir=cache_dir))
        tasks = [CellTask(job_id="contract", row_key=row["company"], column=col,
                          question=DEFAULT_COLUMNS[col]["question"].format(**row), context=dict(row),
                          answer_type=DEFAULT_COLUMNS[col]["type"], research=SMALL)
                 for row in world.companies[:rows] for col in columns]
        try:
            started = time.time()
            outcomes = await asyncio.gather(*(research_cell(t, services) for t in tasks))
            # with the store's computed ``error`` column (reason: message), as the cells view reads
            return [_with_error(cell_record(t, o, started, time.time())) for t, o in zip(tasks, outcomes)]
        finally:
            await services.aclose()

    cells = asyncio.run(go())
    return cells, calls


def _with_error(record: dict) -> dict:
    return {**record, "error": join_reason(record.get("reason"), record.get("message"))}

