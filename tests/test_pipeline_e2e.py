"""The whole pipeline on Ray against the local world (real processes on loopback, a real local Ray).

Asserts what a user checks: every cell done, answers right against the
planted facts, evidence recorded, one fetch per URL, bodies never in the
driver, the address guard and skips working, resume recomputing nothing.
"""

from __future__ import annotations

import copy

import pytest
import ray

from cluster.runner import previous_state, run_job
from pipelines.spec import parse_job
from pipelines.store.query import query
from pipelines.store.reader import read_table
from pipelines.world.truth import load_truth, score_results

pytestmark = pytest.mark.slow


def _spec(world, output, **changes):
    spec = copy.deepcopy(world.job_spec(output=str(output)))
    for key, value in changes.items():
        spec[key] = value
    return spec


@pytest.fixture(scope="module")
def demo_run(world, ray_local, tmp_path_factory):
    """One full run of the world's job, shared by the assertions below (it is the expensive part)."""
    output = tmp_path_factory.mktemp("e2e")
    job = parse_job(_spec(world, output))
    fetched_refs, touched_refs = [], []
    from actors import fetcher as fetcher_mod

    original_fetch = fetcher_mod.FetcherPool.fetch

    def spy_fetch(self, url):
        ref = original_fetch(self, url)
        fetched_refs.append(ref.hex())
        return ref

    original_get = ray.get

    def spy_get(refs, *a, **kw):
        for r in refs if isinstance(refs, list) else [refs]:
            if isinstance(r, ray.ObjectRef):
                touched_refs.append(r.hex())
        return original_get(refs, *a, **kw)

    from actors import objects

    original_get_object = objects.get_object

    async def spy_get_object(ref):
        touched_refs.append(ref.hex())
        return await original_get_object(ref)

    mp = pytest.MonkeyPatch()
    mp.setattr(fetcher_mod.FetcherPool, "fetch", spy_fetch)
    mp.setattr(ray, "get", spy_get)
    mp.setattr(objects, "get_object", spy_get_object)
    served_before = world.stats("site")
    try:
        result = run_job(job, dashboard=False)
    finally:
        mp.undo()
    served = {k[len("served:"):]: n - served_before.get(k, 0) for k, n in world.stats("site").items()
              if k.startswith("served:") and n > served_before.get(k, 0)}
    return job, result, set(fetched_refs), set(touched_refs), served


def test_every_cell_done_and_answers_match_planted_facts(demo_run, world):
    job, result, _, _, _ = demo_run
    cells = read_table(result.output, "cells", job_id=job.job_id).to_pylist()
    assert len(cells) == len(job.rows) * len(job.columns)
    assert {c["status"] for c in cells} == {"done"}, [(c["row_key"], c["column"], c["error"]) for c in cells if c["status"] != "done"]
    score = score_results(cells, load_truth(world.ground_truth_path))
    assert score["accuracy"] >= 0.9, score


def test_answers_cite_only_pages_fetched_for_that_cell(demo_run):
    job, result, _, _, _ = demo_run
    bad = query(result.output, f"""
        SELECT c.row_key, c."column", u.url FROM cells c, unnest(c.citations) AS u(url)
        WHERE c.job_id = '{job.job_id}' AND NOT EXISTS (
            SELECT 1 FROM excerpts e WHERE e.job_id = c.job_id AND e.row_key = c.row_key
              AND e."column" = c."column" AND e.url = u.url)
    """).to_pylist()
    assert bad == []


def test_every_step_is_recorded_and_queryable(demo_run):
    job, result, _, _, _ = demo_run
    counts = query(result.output, f"""
        SELECT (SELECT count(*) FROM keywords WHERE job_id = '{job.job_id}') AS keywords,
               (SELECT count(*) FROM search_results WHERE job_id = '{job.job_id}') AS results,
               (SELECT count(*) FROM pages WHERE job_id = '{job.job_id}' AND status = 'ok') AS pages,
               (SELECT count(*) FROM excerpts WHERE job_id = '{job.job_id}' AND relevant) AS excerpts,
               (SELECT count(*) FROM llm_calls WHERE job_id = '{job.job_id}') AS llm_calls
    """).to_pylist()[0]
    cells = len(job.rows) * len(job.columns)
    assert counts["keywords"] >= cells and counts["results"] >= cells and counts["pages"] > 0
    assert counts["excerpts"] >= cells and counts["llm_calls"] >= 3 * cells
    wide = query(result.output, "SELECT * FROM results")
    assert wide.num_rows == len(job.rows)
    assert set(job.columns) <= set(wide.column_names)


def test_costs_and_the_estimate_from_the_runs_recorded_averages(demo_run):
    from pipelines.llm.estimate import estimate_job
    from pipelines.llm.stats import recorded_stage_averages

    job, result, _, _, _ = demo_run
    cells = read_table(result.output, "cells", job_id=job.job_id).to_pylist()
    assert all(c["cost_usd"] == 0.0 for c in cells)  # the local engine is free: 0, not unknown
    per_stage = {r["stage"]: r["n"] for r in query(
        result.output, f"SELECT stage, count(*) AS n FROM llm_calls WHERE job_id = '{job.job_id}' GROUP BY 1").to_pylist()}
    recorded, source = recorded_stage_averages(result.output, job.job_id)
    assert source == job.job_id and set(recorded) == {"expand", "judge", "summarize"}
    est = {s.stage: s for s in estimate_job(job, recorded=recorded).stages}
    assert est["expand"].calls == per_stage["expand"] == len(cells)  # every cell expanded once
    assert est["judge"].basis.startswith("recorded") and est["judge"].calls >= per_stage["judge"]


def test_each_url_is_fetched_once_per_job_page_fan_in(demo_run):
    """Cells on the driver and on research workers share pages; the site still serves each page once:
    a worker's page memo joins its own cells, fetchers join requests in flight and answer repeats from
    their page store."""
    job, result, _, _, served = demo_run
    selected = query(result.output, f"""
        SELECT count(*) AS wanted, count(DISTINCT url) AS distinct_urls
        FROM search_results WHERE job_id = '{job.job_id}' AND selected
    """).to_pylist()[0]
    assert selected["wanted"] > selected["distinct_urls"], "the demo job should share pages between cells"
    assert result.progress.counters["page_fan_in"] > 0
    assert served, "the site served no page"
    assert max(served.values()) == 1, {url: n for url, n in served.items() if n > 1}
    pages = query(result.output, f"SELECT count(*) AS n FROM pages WHERE job_id = '{job.job_id}'").to_pylist()[0]
    assert pages["n"] == selected["distinct_urls"]


def test_page_bodies_never_pass_through_the_driver(demo_run):
    _, _, fetched_refs, touched_refs, _ = demo_run
    assert fetched_refs and touched_refs, "the spies saw nothing"
    assert fetched_refs.isdisjoint(touched_refs)


def test_address_guard_blocks_world_hosts_unless_allowed(world, ray_local, tmp_path):
    spec = _spec(world, tmp_path, name="guarded", rows=world.job_spec()["rows"][:1])
    spec["columns"] = {"ceo": spec["columns"]["ceo"]}
    spec["fetch"] = {k: v for k, v in spec["fetch"].items() if k != "allow_hosts"}
    job = parse_job(spec)
    result = run_job(job, dashboard=False)
    pages = read_table(result.output, "pages", job_id=job.job_id).to_pylist()
    assert pages and all(p["status"] == "blocked" for p in pages), {p["reason"] for p in pages}
    cells = read_table(result.output, "cells", job_id=job.job_id).to_pylist()
    assert [c["status"] for c in cells] == ["failed"]


def test_failed_upstream_skips_dependents_and_resume_recomputes_nothing_done(world, ray_local, tmp_path):
    spec = _spec(world, tmp_path, name="skips")
    spec["rows"] = spec["rows"][:1] + [{**spec["rows"][0], "company": "Nonexistent Quux Holdings", "domain": "quux-holdings.example"}]
    spec["columns"] = {k: spec["columns"][k] for k in ("ceo", "ceo_previous")}
    job = parse_job(spec)
    first = run_job(job, dashboard=False)
    statuses, _ = previous_state(first.output, job.job_id)
    assert statuses[("Nonexistent Quux Holdings", "ceo")] == "failed"
    assert statuses[("Nonexistent Quux Holdings", "ceo_previous")] == "skipped"
    skipped = [c for c in read_table(first.output, "cells", job_id=job.job_id).to_pylist() if c["status"] == "skipped"]
    assert "ceo" in skipped[0]["error"]
    calls_before = read_table(first.output, "llm_calls", job_id=job.job_id).num_rows

    again = run_job(job, mode="resume", dashboard=False)
    assert read_table(first.output, "llm_calls", job_id=job.job_id).num_rows == calls_before
    assert sum(again.progress.cells.values()) == 0
    assert previous_state(first.output, job.job_id)[0] == statuses


def _actors_by_class():
    from collections import Counter

    from ray._private import state

    return Counter(a["ActorClassName"] for a in state.actors().values())


def _totals(world) -> dict:
    site = world.stats("site")
    return {"site": sum(v for k, v in site.items() if not k.endswith(("_ms", "_injected"))),
            "llm": world.stats("llm").get("requests", 0), "search": world.stats("search").get("requests", 0)}


def test_a_second_run_reads_pages_and_answers_from_its_stores_and_asks_no_server(world, ray_local, tmp_path):
    spec = _spec(world, tmp_path, name="twice", rows=world.job_spec()["rows"][:2])
    spec["columns"] = {k: spec["columns"][k] for k in ("ceo", "ceo_previous")}
    job = parse_job(spec)
    first = run_job(job, dashboard=False)
    answers = {(c["row_key"], c["column"]): c["answer"] for c in read_table(first.output, "cells", job_id=job.job_id).to_pylist()}
    before = _totals(world)
    calls = lambda: query(first.output, f"SELECT cache_hit, count(*) AS n FROM llm_calls WHERE job_id = '{job.job_id}' "  # noqa: E731
                                        "GROUP BY ALL").to_pylist()
    calls_before = {r["cache_hit"]: r["n"] for r in calls()}
    actors_before = _actors_by_class()

    second = run_job(job, dashboard=False)  # "run" again, not resume: every cell is researched again
    assert _totals(world) == before, "the second run asked a server something"
    # nothing missed, so no actor was started, not even the writer: the driver wrote the output itself
    assert first.progress.counters["workers_started"] == 1 and second.progress.counters["workers_started"] == 0
    started = _actors_by_class() - actors_before
    assert not started, started
    assert query(second.output, f"SELECT status FROM jobs WHERE job_id = '{job.job_id}'").to_pylist() == [{"status": "done"}]
    assert second.statuses == {"done": 4}
    assert {(c["row_key"], c["column"]): c["answer"] for c in read_table(second.output, "cells", job_id=job.job_id).to_pylist()} == answers
    assert second.progress.counters["pages_from_extract_store"] == second.progress.counters["pages_ok"] > 0
    calls_after = {r["cache_hit"]: r["n"] for r in calls()}
    assert calls_after[False] == calls_before[False]  # every LLM call of the second run is a recorded cache hit
    assert calls_after[True] - calls_before.get(True, 0) >= calls_before[False]

    # The same output folder for a job that does not allow the world's (loopback) hosts: nothing comes
    # from the stores of the job that did; its own guard refuses every page.
    strict = parse_job({**_spec(world, tmp_path, name="twice-strict", rows=spec["rows"], columns=spec["columns"]),
                        "fetch": {"resolve": {"*.example": "127.0.0.1"}}})
    third = run_job(strict, dashboard=False)
    assert third.progress.counters["pages_from_extract_store"] == 0
    pages = query(third.output, f"SELECT status, count(*) AS n FROM pages WHERE job_id = '{strict.job_id}' GROUP BY ALL").to_pylist()
    assert {p["status"] for p in pages} == {"blocked"}
