"""Driving the cell DAG: order, skips with reasons, bounded work in flight, resume and rerun."""

import asyncio

from pipelines.coordinator import CellSelector, build_dag, cells_to_rerun, run_cells
from pipelines.errors import BudgetExhaustedError
from pipelines.spec import parse_job
from tests.fakes import FakeServices


def _job(rows=("Acme Robotics", "Beta Labs")):
    return parse_job({
        "name": "t",
        "key": "company",
        "rows": [{"company": r} for r in rows],
        "columns": {
            "ceo": {"question": "Who is the CEO of {company}?"},
            "founded": {"question": "In what year was {company} founded?", "type": "integer"},
            "ceo_previous": {"question": "Where did {ceo} work before joining {company}?"},
        },
        "research": {"keywords_per_cell": 2, "results_per_keyword": 5, "max_pages_per_cell": 4},
        "llm": {"providers": [{"name": "x", "base_url": "http://127.0.0.1:1/v1", "model": "m"}]},
        "search": {"providers": [{"name": "s", "kind": "searxng", "base_url": "http://127.0.0.1:1"}]},
    })


def _run(job, services, **kw):
    dag, skipped = build_dag(job, kw.pop("statuses", None), kw.pop("rerun", None))
    return asyncio.run(run_cells(job, services, dag, skipped=skipped, **kw)), dag


def test_every_cell_finishes_and_dependents_see_upstream_answers():
    job, services = _job(), FakeServices()
    progress, dag = _run(job, services)
    cells = services.cells()
    assert dag.is_finished() and len(cells) == 6
    assert cells[("Acme Robotics", "ceo")]["answer"] == "Jane Doe"
    assert cells[("Acme Robotics", "ceo_previous")]["question"] == "Where did Jane Doe work before joining Acme Robotics?"
    assert cells[("Acme Robotics", "ceo_previous")]["status"] == "done"
    assert "Globex" in cells[("Acme Robotics", "ceo_previous")]["answer"]
    assert cells[("Beta Labs", "founded")]["value_json"] == "1999"
    assert progress.cells["done"] + progress.cells["failed"] + progress.cells["skipped"] == 6


def test_failed_upstream_skips_dependents_with_reason():
    job = _job()
    services = FakeServices(fail_llm_for="CEO of Beta Labs")
    _run(job, services)
    cells = services.cells()
    assert cells[("Beta Labs", "ceo")]["status"] == "failed"
    skipped = cells[("Beta Labs", "ceo_previous")]
    assert skipped["status"] == "skipped" and skipped["reason"] == "upstream_failed" and "ceo" in skipped["message"]
    assert cells[("Acme Robotics", "ceo_previous")]["status"] == "done"


def test_cells_in_flight_never_exceed_the_bound():
    job = _job(rows=tuple(f"Acme Robotics {i}" for i in range(12)))
    services = FakeServices()
    running, peak = 0, 0
    orig = services.llm

    async def counting_llm(req):
        nonlocal running, peak
        if req.stage == "expand":
            running += 1
            peak = max(peak, running)
        try:
            await asyncio.sleep(0.001)
            return await orig(req)
        finally:
            if req.stage == "expand":
                running -= 1

    services.llm = counting_llm
    _run(job, services, max_in_flight=3)
    assert 1 <= peak <= 3
    assert len(services.cells()) == 36


def test_resume_recomputes_only_unfinished_cells():
    job = _job()
    first = FakeServices()
    _run(job, first)
    statuses = {cell: rec["status"] for cell, rec in first.cells().items()}
    answers = {}
    for (row, col), rec in first.cells().items():
        if rec["status"] == "done":
            answers.setdefault(row, {})[col] = rec["answer"]
    # pretend the run died before Beta Labs' founded and Acme's ceo_previous were recorded
    del statuses[("Beta Labs", "founded")], statuses[("Acme Robotics", "ceo_previous")]
    second = FakeServices()
    _run(job, second, statuses=statuses, answers=answers)
    assert set(second.cells()) == {("Beta Labs", "founded"), ("Acme Robotics", "ceo_previous")}
    assert second.cells()[("Acme Robotics", "ceo_previous")]["question"].startswith("Where did Jane Doe")


def test_rerun_selects_cells_and_their_dependents():
    job = _job()
    statuses = {(r, c): "done" for r in job.row_keys() for c in job.columns}
    statuses[("Beta Labs", "founded")] = "failed"
    chosen = cells_to_rerun(job, statuses, CellSelector.parse("column=ceo"))
    assert chosen == {(r, c) for r in job.row_keys() for c in ("ceo", "ceo_previous")}
    assert cells_to_rerun(job, statuses, CellSelector.parse(None, failed=True)) == {("Beta Labs", "founded")}
    assert cells_to_rerun(job, statuses, CellSelector.parse("row=Acme Robotics,column=founded")) == {("Acme Robotics", "founded")}


def test_budget_exhaustion_stops_new_cells_and_marks_them_resumable():
    job = _job(rows=tuple(f"Acme Robotics {i}" for i in range(5)))
    services = FakeServices()
    orig, calls = services.llm, 0

    async def budget_llm(req):
        nonlocal calls
        calls += 1
        if calls > 6:
            raise BudgetExhaustedError("max_total_tokens reached")
        return await orig(req)

    services.llm = budget_llm
    progress, _ = _run(job, services, max_in_flight=2)
    statuses = [r["status"] for r in services.cells().values()]
    assert "budget_exhausted" in statuses
    assert progress.cells["budget_exhausted"] >= 1
