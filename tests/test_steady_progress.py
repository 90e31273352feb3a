"""Steady progress, end to end without Ray: the coordinator's cells call the real LLM gateway, whose one
provider slot is served by a server on a real socket that holds every call until the test lets it go.

The test releases one call at a time, and only once the job is quiet (every unfinished cell is waiting for
the LLM and every call has reached the gateway's queue or the server), so the order calls are served in is
the gateway's choice alone, never a race. Under ``queue_order="priority"`` the cells that started first
finish first, one after another; under ``"fifo"`` (the control) every cell advances at once and the first
cell finishes only near the end.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from pipelines.coordinator import build_dag, run_cells
from pipelines.llm.gateway import Gateway
from pipelines.llm.types import CallContext, LLMRequest
from pipelines.priority import call_priority
from pipelines.search.config import SearchProviderConfig, SearchSettings
from pipelines.search.gateway import SearchGateway
from pipelines.search.types import SearchRequest
from pipelines.spec import parse_job
from pipelines.world.extractive import complete
from tests.fakes import FakeServices, html_page
from tests.fixtures_llm import FakeLLMServer, ok_body, provider, settings_for

# Six companies, each with one about page (no two share a word of their name, so each search finds its own first).
COMPANIES = [("Acme Robotics", "Jane Doe", 2004), ("Beta Labs", "John Roe", 1999), ("Gamma Foods", "Ada Moss", 1987),
             ("Delta Mining", "Ivo Hart", 2011), ("Omega Textiles", "Lea Stone", 1975), ("Sigma Motors", "Tom Reed", 2016)]
ROWS = [name for name, _, _ in COMPANIES]
SITE = {f"http://{name.split()[0].lower()}.example/about": html_page(
            f"About {name}", f"{name} was founded in {year} in Leipzig.", f"{name} is led by Chief Executive Officer {ceo}.")
        for name, ceo, year in COMPANIES}


class HeldLLMServer(FakeLLMServer):
    """Answers with the world's extractive engine, but only when the test releases a held call."""

    def __init__(self) -> None:
        super().__init__()
        self.held = 0  # calls received and not yet released (read from the test's thread)
        self.passed = 0  # calls released
        self._gate: asyncio.Semaphore | None = None
        self.responder = lambda body: (200, {}, ok_body(body["model"], complete(body["messages"])))

    async def _handle(self, request):
        if self._gate is None:
            self._gate = asyncio.Semaphore(0)  # created in the server's own event loop
        self.held += 1
        await self._gate.acquire()
        self.held -= 1
        self.passed += 1
        return await super()._handle(request)

    def release_one(self) -> None:
        assert self._gate is not None
        self._loop.call_soon_threadsafe(self._gate.release)

    def stop(self) -> None:
        if self._gate is not None:  # a failed test may leave calls held: let them go so the server can stop
            for _ in range(self.held):
                self.release_one()
        super().stop()


class GatewayServices(FakeServices):
    """FakeServices (in-process search and pages) whose LLM calls go through a real ``Gateway``."""

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(SITE)
        self.gateway = gateway
        self.outstanding: Counter = Counter()  # (row, column) -> LLM calls not yet answered
        self.cell_started: dict[tuple[str, str], float] = {}
        self.finished: list[tuple[str, str]] = []
        self.served_before_finish: list[int] = []  # LLM calls answered when each cell finished
        self.served = 0

    async def llm(self, req):
        cell = (req.context.row_key, req.context.column)
        self.cell_started.setdefault(cell, req.context.cell_started)
        self.outstanding[cell] += 1
        try:
            return await self.gateway.complete(req)
        finally:
            self.outstanding[cell] -= 1
            self.served += 1

    def record(self, table, records):
        super().record(table, records)
        if table == "cells":
            for r in records:
                self.finished.append((r["row_key"], r["column"]))
                self.served_before_finish.append(self.served)


def _job():
    return parse_job({
        "name": "steady", "key": "company", "rows": [{"company": r} for r in ROWS],
        "columns": {"ceo": {"question": "Who is the CEO of {company}?"},
                    "founded": {"question": "In what year was {company} founded?", "type": "integer"}},
        "research": {"keywords_per_cell": 2, "results_per_keyword": 3, "max_pages_per_cell": 2},
        "llm": {"providers": [{"name": "x", "base_url": "http://127.0.0.1:1/v1", "model": "m"}]},
        "search": {"providers": [{"name": "s", "kind": "searxng", "base_url": "http://127.0.0.1:1"}]},
    })


def _quiet(services: GatewayServices, server: HeldLLMServer, gateway: Gateway, total: int) -> bool:
    """Nothing can move until the held call is released: every call sits in the gateway, one at the server."""
    calls = sum(services.outstanding.values())
    waiting_cells = sum(1 for n in services.outstanding.values() if n > 0)
    return (server.held == 1 and gateway.stats()["in_flight"]["held"] == calls
            and waiting_cells == total - len(services.finished))


async def _run(order: str, server: HeldLLMServer) -> GatewayServices:
    job = _job()
    total = len(ROWS) * len(job.columns)
    gateway = Gateway(settings_for(provider("held", server.base_url, max_concurrency=1), cache=False, queue_order=order))
    services = GatewayServices(gateway)
    dag, _ = build_dag(job)
    cells = asyncio.ensure_future(run_cells(job, services, dag, max_in_flight=total))  # every cell starts at once
    try:
        while not cells.done():
            await asyncio.sleep(0.002)  # lets the cells, the gateway and the HTTP client run; asserts no time
            if _quiet(services, server, gateway, total):
                passed = server.passed
                server.release_one()
                while server.passed == passed and not cells.done():  # until the server has taken the release
                    await asyncio.sleep(0.002)
        await cells
    finally:
        await gateway.aclose()
    assert len(services.finished) == total and all(c["status"] == "done" for c in services.cells().values())
    return services


def _start_rank(services: GatewayServices) -> dict:
    return {cell: i for i, cell in enumerate(sorted(services.cell_started, key=services.cell_started.__getitem__))}


@pytest.fixture
def held_server():
    server = HeldLLMServer().start()
    yield server
    server.stop()


def test_priority_order_finishes_started_cells_first(held_server):
    services = asyncio.run(_run("priority", held_server))
    rank = _start_rank(services)
    finish_ranks = [rank[c] for c in services.finished]
    assert finish_ranks[0] in (0, 1)  # the first cell to finish is one that started first
    # roughly start order: no cell finishes before a cell that started 2+ places earlier...
    assert all(later >= earlier - 1 for i, earlier in enumerate(finish_ranks) for later in finish_ranks[i + 1:])
    # ...and cells finish all along the job, not at its end: a cell done within the first quarter of the calls
    assert services.served_before_finish[0] <= services.served // 4


def test_fifo_order_advances_every_cell_at_once(held_server):
    services = asyncio.run(_run("fifo", held_server))
    # the control: the same job, the same gate, waiters in arrival order: the first cell finishes late
    assert services.served_before_finish[0] > services.served // 2


def _rate_limited_order(order: str, server) -> list[str]:
    """Calls in the order the window admitted them (their virtual start times): a filler takes the provider's
    one request per minute, then six calls of different stages and cell ages wait for the window."""
    virtual = {"t": 0.0}
    epoch = datetime(2026, 1, 1, tzinfo=timezone.utc)
    records: list[dict] = []

    async def sleep(seconds):  # time passes only when someone waits for it
        virtual["t"] += seconds
        await asyncio.sleep(0)

    gateway = Gateway(settings_for(provider("main", server.base_url, rpm=1), max_limit_wait_s=600, cache=False,
                                   queue_order=order), record_sink=records.extend,
                      clock=lambda: virtual["t"], sleep=sleep, now=lambda: epoch + timedelta(seconds=virtual["t"]))
    calls = [("filler", "expand", 0.0)] + [(f"{stage}@{started}", stage, started) for stage, started in WAITERS]

    async def go():
        try:
            await asyncio.gather(*(gateway.complete(LLMRequest(
                stage=stage, messages=[{"role": "user", "content": text}],
                context=CallContext("job", text, "c", cell_started=started))) for text, stage, started in calls))
        finally:
            await gateway.aclose()

    asyncio.run(go())
    assert len({r["started_at"] for r in records}) == len(calls)  # one admission per minute: no ties
    return [r["row_key"] for r in sorted(records, key=lambda r: r["started_at"])]


WAITERS = [("expand", 1.0), ("judge", 3.0), ("expand", 2.0), ("summarize", 4.0), ("judge", 2.0), ("summarize", 9.0)]


def test_calls_waiting_for_the_rate_limit_window_are_admitted_in_priority_order(llm_server):
    received = _rate_limited_order("priority", llm_server)
    by_priority = [f"{stage}@{started}" for stage, started in sorted(WAITERS, key=lambda w: call_priority(*w))]
    assert received[0] == "filler" and len(received) == 1 + len(WAITERS)
    assert received[1:] == by_priority


def test_fifo_admits_rate_limited_calls_in_arrival_order(llm_server):
    received = _rate_limited_order("fifo", llm_server)
    # the first waiter slept for the window alone, then queued again for it as a newcomer (see _wait_for_window)
    assert received == ["filler"] + [f"{stage}@{started}" for stage, started in WAITERS[1:]] + ["expand@1.0"]


def test_searches_waiting_for_a_provider_slot_go_older_cell_first(search_replay):
    """One search slot, held by a first search; three more queue behind it: they go out oldest cell first."""
    search_replay.reply(200, json={"results": []}, delay_s=1.0)  # holds the one slot while the others queue
    gateway = SearchGateway(SearchSettings(providers=[SearchProviderConfig(
        name="s", kind="searxng", base_url=search_replay.url, max_concurrency=1)], cache=False))

    async def go():
        try:
            first = asyncio.ensure_future(gateway.search(SearchRequest(query="first", cell_started=9.0)))
            while not search_replay.requests:  # until the first search holds the slot
                await asyncio.sleep(0.01)
            queued = [asyncio.ensure_future(gateway.search(SearchRequest(query=f"cell {t}", cell_started=t)))
                      for t in (3.0, 1.0, 2.0)]
            await asyncio.gather(first, *queued)
        finally:
            await gateway.aclose()

    asyncio.run(go())
    assert [r.query["q"] for r in search_replay.requests] == ["first", "cell 1.0", "cell 2.0", "cell 3.0"]
