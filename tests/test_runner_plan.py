"""A run's plan, without Ray: resume keeps what earlier runs finished, and an unreadable cells table stops it.

``JobRun.plan`` only reads the output folder; ``run_job`` calls it before any
actor starts, so a broken table is reported before anything runs.
"""

from __future__ import annotations

import pytest

from cluster.runner import JobRun
from pipelines.errors import StoreError
from pipelines.spec import parse_job
from pipelines.store.reader import partition_dir
from pipelines.store.writer import StoreWriter
from tests.fixtures_store import cell


def _job(output):
    return parse_job({
        "name": "t", "key": "company", "rows": [{"company": "Acme"}], "output": str(output),
        "columns": {"ceo": {"question": "Who is the CEO of {company}?"},
                    "ceo_previous": {"question": "Where did {ceo} work before?"}},
        "llm": {"providers": [{"name": "x", "base_url": "http://127.0.0.1:1/v1", "model": "m"}]},
        "search": {"providers": [{"name": "s", "kind": "searxng", "base_url": "http://127.0.0.1:1"}]},
    })


def test_a_resume_of_a_job_with_nothing_written_plans_every_cell(tmp_path):
    run = JobRun(_job(tmp_path / "out"), mode="resume")
    run.plan(None)
    assert run.answers == {} and run.dag.counts()["ready"] == 1  # ceo ready; ceo_previous waits for it


def test_a_resume_keeps_done_cells_and_their_answers(tmp_path):
    job = _job(tmp_path / "out")
    with StoreWriter(job.output) as w:
        w.append("cells", [cell("Acme", "ceo", "Ada", job_id=job.job_id, answer="Ada")])
    run = JobRun(job, mode="resume")
    run.plan(None)
    assert run.answers == {"Acme": {"ceo": "Ada"}} and run.dag.counts()["done"] == 1


def test_an_unreadable_cells_table_fails_the_resume_clearly_instead_of_redoing_everything(tmp_path):
    job = _job(tmp_path / "out")
    folder = partition_dir(job.output, "cells", job.job_id)
    folder.mkdir(parents=True)
    (folder / "part-0000000000000000001-1-0.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(StoreError, match=f"cells of job {job.job_id} cannot be read"):
        JobRun(job, mode="resume").plan(None)
