"""The task registry: every cell goes through it, a new kind needs no coordinator or spec change, and
DAG behaviour (dependencies, skips, rerun, budget, progress) is the same for every kind."""

from __future__ import annotations

import asyncio

import pytest

from pipelines import tasks
from pipelines.coordinator import CellSelector, build_dag, cells_to_rerun, run_cells
from pipelines.errors import BudgetExhaustedError, SpecError
from pipelines.research import CellOutcome
from pipelines.spec import parse_job
from pipelines.tasks.base import KindSpec
from tests.fakes import FakeServices

PROVIDERS = {
    "llm": {"providers": [{"name": "x", "base_url": "http://127.0.0.1:1/v1", "model": "m"}]},
    "search": {"providers": [{"name": "s", "kind": "searxng", "base_url": "http://127.0.0.1:1"}]},
}


def job_of(columns: dict, rows=({"company": "Acme Robotics", "domain": "acme.example"},)):
    return parse_job({"name": "t", "key": "company", "rows": [dict(r) for r in rows], "columns": columns, **PROVIDERS})


def run(job, services, statuses=None, rerun=None, answers=None):
    dag, skipped = build_dag(job, statuses, rerun)
    return asyncio.run(run_cells(job, services, dag, skipped=skipped, answers=answers))


class ShoutKind:
    """A test-only kind: upper-cases one input. Registering it is all it takes."""

    name = "shout"
    fields = {"of": "the input to shout"}
    needs_question = False

    def build(self, spec, path, problems):
        of = spec.get("of")
        if not isinstance(of, str):
            problems.add(f"{path}.of", "required: a row field or column name", of)
            return None
        return KindSpec(config=of, refs=((f"{path}.of", of),), question=f"shout {{{of}}}")

    async def run(self, task, services):
        services.count("shouts")
        return CellOutcome(status="done", answer=task.context[task.spec.config].upper())


@pytest.fixture
def shout():
    tasks.register(ShoutKind())
    yield
    tasks.unregister("shout")


def test_a_registered_kind_is_parsed_run_and_recorded_like_any_other(shout):
    job = job_of({"ceo": {"question": "Who is the CEO of {company}?"}, "loud": {"kind": "shout", "of": "ceo"}})
    assert job.columns["loud"].depends_on == ("ceo",)
    services = FakeServices()
    progress = run(job, services)
    loud = services.cells()[("Acme Robotics", "loud")]
    assert (loud["status"], loud["answer"], loud["question"]) == ("done", "JANE DOE", "shout Jane Doe")
    assert progress.cells["done"] == 2 and services.counters["shouts"] == 1 and services.counters["cells_done"] == 2


def test_a_kinds_own_keys_are_checked_by_the_kind_and_unknown_kinds_listed(shout):
    with pytest.raises(SpecError) as err:
        job_of({"a": {"kind": "shout"}, "b": {"kind": "whisper", "question": "q"}, "c": {"kind": "shout", "of": "nope"}})
    shown = [str(p) for p in err.value.problems]
    assert any(s.startswith("columns.a.of: required") for s in shown), shown
    assert any(s.startswith("columns.b.kind: unknown kind 'whisper' (known: research, llm, page, rule, python, shout)") for s in shown)
    assert any(s.startswith("columns.c.of: unknown name 'nope'") for s in shown)


def test_a_kind_no_longer_registered_fails_its_cells_with_a_reason(shout):
    job = job_of({"loud": {"kind": "shout", "of": "company"}})
    tasks.unregister("shout")
    services = FakeServices()
    run(job, services)
    assert services.cells()[("Acme Robotics", "loud")]["error"].startswith("unknown_kind: ")


KINDS_JOB = {
    "ceo": {"question": "Who is the CEO of {company}?"},
    "last": {"kind": "rule", "rule": {"regex": {"from": "ceo", "pattern": r"(\S+)$", "group": 1}}},
    "sector": {"kind": "llm", "question": "Which industry is {company} in? CEO: {last}", "choices": ["Robotics", "Labs"]},
    "tld": {"kind": "python", "function": "pipelines.tasks.samples:domain_tld", "inputs": ["domain"]},
}


def test_a_failed_upstream_skips_dependents_of_every_kind():
    job = job_of(KINDS_JOB)
    services = FakeServices(fail_llm_for="CEO of Acme")
    run(job, services)
    cells = services.cells()
    assert cells[("Acme Robotics", "ceo")]["status"] == "failed"
    for column in ("last", "sector"):
        assert cells[("Acme Robotics", column)]["status"] == "skipped" and "ceo" in cells[("Acme Robotics", column)]["error"]
    assert cells[("Acme Robotics", "last")]["question"] == "rule regex: ceo = {ceo}"  # inputs shown, unknown ones as {name}
    assert cells[("Acme Robotics", "tld")]["answer"] == "example"


def test_a_rerun_of_an_upstream_column_reruns_dependents_of_every_kind():
    job = job_of(KINDS_JOB)
    statuses = {("Acme Robotics", c): "done" for c in job.columns}
    chosen = cells_to_rerun(job, statuses, CellSelector(columns=("ceo",)))
    assert chosen == {("Acme Robotics", c) for c in ("ceo", "last", "sector")}
    services = FakeServices()
    progress = run(job, services, statuses, chosen, answers={"Acme Robotics": {"domain": "acme.example"}})
    assert set(services.cells()) == chosen and progress.cells["done"] == 3
    assert services.cells()[("Acme Robotics", "sector")]["answer"] == "Robotics"


def test_budget_exhaustion_in_an_llm_column_stops_new_cells_and_stays_resumable():
    job = job_of({"sector": {"kind": "llm", "question": "Which industry is {company} in?", "choices": ["Robotics"]},
                  "loud": {"kind": "rule", "rule": {"template": "{sector}!"}}})
    services = FakeServices()

    async def broke(req):
        raise BudgetExhaustedError("max_total_tokens reached")

    services.llm = broke
    run(job, services)
    cells = services.cells()
    assert cells[("Acme Robotics", "sector")]["status"] == "budget_exhausted"
    assert cells[("Acme Robotics", "sector")]["error"].startswith("budget_exhausted: ")
    assert ("Acme Robotics", "loud") not in cells  # as for research: its dependent was never started, so resume computes it


def test_progress_counts_cells_of_every_kind_and_shows_rules_and_python():
    from rich.console import Console

    from cluster.progress import summary_table

    services = FakeServices()
    progress = run(job_of(KINDS_JOB), services)
    assert progress.cells["done"] == 4 and progress.total_cells == 4
    progress.counters.update(services.counters)  # RayServices.count feeds the run's Progress; the fake keeps its own
    console = Console(record=True, width=120)
    console.print(summary_table(progress))
    text = console.export_text()
    assert "4/4" in text and "rule+python" in text and "1 rules · 1 python calls · 0 cached" in text
