"""examples/kinds.yaml end to end on Ray against the local world: every column kind, answers checked
against the world's ground truth, every kind's records, the python function in a Ray worker, resume
and a rerun of an upstream column that reruns its dependents of other kinds."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from cluster.runner import run_job
from pipelines.coordinator import CellSelector
from pipelines.spec import parse_job
from pipelines.store.query import query
from pipelines.store.reader import read_table
from pipelines.world.truth import load_truth, score_answer

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "kinds.yaml"


def _example_on(world, output) -> dict:
    """The example job pointed at the test world's ports (the example assumes `trawl world up`'s 8780-8782)."""
    spec = yaml.safe_load(EXAMPLE.read_text())
    assert spec["rows"] == world.companies, "the example's rows are the seed-7 world's companies"
    local = world.job_spec(output=str(output))
    spec.update(llm=local["llm"], search=local["search"], output=str(output))
    for column in spec["columns"].values():
        if "urls" in column:
            column["urls"] = [u.replace(":8780", f":{world.site_port}") for u in column["urls"]]
    return spec


@pytest.fixture(scope="module")
def kinds_run(world, ray_reliability, tmp_path_factory):
    job = parse_job(_example_on(world, tmp_path_factory.mktemp("kinds")))
    # The driver's copy of the function now fails; the cells can only be right if a Ray worker ran them.
    mp = pytest.MonkeyPatch()
    import pipelines.tasks.samples as samples

    mp.setattr(samples, "founded_decade", lambda founded: 1 / 0)
    try:
        result = run_job(job, dashboard=False)
    finally:
        mp.undo()
    cells = {(c["row_key"], c["column"]): c for c in read_table(result.output, "cells", job_id=job.job_id).to_pylist()}
    return job, result, cells


def test_every_kind_answers_every_row_right(kinds_run, world):
    job, _, cells = kinds_run
    assert len(cells) == 45
    assert [k for k, c in cells.items() if c["status"] != "done"] == [], {k: c["error"] for k, c in cells.items() if c["status"] != "done"}
    truth = load_truth(world.ground_truth_path)["by_company"]
    for row in job.row_keys():
        facts, answer = truth[row], (lambda column, row=row: cells[(row, column)]["answer"])
        for column, field in (("ceo", "ceo"), ("employees", "employees"), ("product", "product"), ("founded", "founded"),
                              ("hq_city", "hq_city")):
            assert score_answer(field, answer(column), facts[field]), (row, column, answer(column), facts[field])
        assert answer("industry") == facts["industry"]
        band = next(label for edge, label in ((50, "1-49"), (250, "50-249"), (1000, "250-999"), (float("inf"), "1000+"))
                    if facts["employees"] < edge)
        assert answer("employees_band") == band
        assert answer("ceo_last_name") == facts["ceo"].split()[-1]
        assert answer("founded_decade") == f"{facts['founded'] // 10 * 10}s"


def test_each_kind_records_what_it_did(kinds_run, world):
    job, result, cells = kinds_run
    row = job.row_keys()[0]
    domain = job.row(row)["domain"]
    about = f"http://{domain}:{world.site_port}/about"
    assert cells[(row, "founded")]["citations"] == [about] and cells[(row, "founded")]["keywords"] == 0
    assert cells[(row, "industry")]["llm_calls"] >= 1 and cells[(row, "industry")]["citations"] == []
    assert cells[(row, "industry")]["question"].endswith(f"Its main product is {cells[(row, 'product')]['answer']}.")
    founded = cells[(row, "founded")]["answer"]
    assert cells[(row, "founded_decade")]["question"] == f"python pipelines.tasks.samples:founded_decade@0.1.0(founded={founded})"
    assert cells[(row, "employees_band")]["question"] == f"rule bands: employees = {cells[(row, 'employees')]['answer']}"
    stages = {r["stage"]: r["n"] for r in query(result.output, f"""
        SELECT stage, count(*) AS n FROM llm_calls WHERE job_id = '{job.job_id}' AND "column" = 'industry' GROUP BY stage""").to_pylist()}
    assert set(stages) == {"transform"}
    pages = query(result.output, f"""SELECT count(*) AS n FROM pages WHERE job_id = '{job.job_id}' AND url = '{about}'""").to_pylist()
    assert pages[0]["n"] == 1, "founded and hq_city of one row read the about page once (page fan-in)"
    excerpts = query(result.output, f"""SELECT count(*) AS n FROM excerpts WHERE job_id = '{job.job_id}'
        AND row_key = '{row}' AND "column" IN ('founded', 'hq_city') AND relevant""").to_pylist()
    assert excerpts[0]["n"] >= 2
    no_web = query(result.output, f"""SELECT count(*) AS n FROM keywords WHERE job_id = '{job.job_id}'
        AND "column" NOT IN ('ceo', 'employees', 'product')""").to_pylist()
    assert no_web[0]["n"] == 0
    news = query(result.output, f"""SELECT count(*) AS n FROM search_results WHERE job_id = '{job.job_id}'
        AND "column" = 'ceo' AND selected AND url LIKE '%dailybiz-news.example%'""").to_pylist()
    assert news[0]["n"] == 0, "the ceo column's source policy excludes the news site"


def test_resume_keeps_every_kind_and_rerun_of_upstream_reruns_dependents(kinds_run):
    job, first, _ = kinds_run
    resumed = run_job(job, mode="resume", dashboard=False)
    assert sum(resumed.progress.cells.values()) == 0
    rerun = run_job(job, mode="rerun", selector=CellSelector(columns=("product", "employees")), dashboard=False)
    assert sum(rerun.progress.cells.values()) == 4 * len(job.rows)  # product, employees, industry, employees_band
    assert rerun.progress.cells["done"] == 4 * len(job.rows)


def test_a_new_function_version_is_a_new_job(world, tmp_path):
    spec = _example_on(world, tmp_path)
    before = parse_job(copy.deepcopy(spec)).job_id
    spec["columns"]["founded_decade"]["function"] = "pipelines.tasks.samples:founded_decade"
    assert parse_job(spec).job_id != before  # a dotted path's version also hashes the function's source
