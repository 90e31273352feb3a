"""Crash and resume: `trawl run` is SIGKILLed mid-job, `trawl resume` finishes it without redoing done cells.

Both commands run as real subprocesses with their own local Ray, kept in a
private RAY_TMPDIR so the killed driver's Ray processes (gcs, raylet,
workers) can be found and stopped without touching any other Ray instance on
the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile

import psutil
import pytest
import yaml

from pipelines.spec import parse_job
from pipelines.store.reader import read_table
from pipelines.world import WorldConfig, start_world
from tests.fixtures_reliability import kill_ray_under, raw_duplicates, wait_for, world_job_spec

pytestmark = pytest.mark.slow

TRAWL = os.path.join(os.path.dirname(sys.executable), "trawl")


@pytest.fixture()
def ray_tmp():
    """A short private RAY_TMPDIR (Unix socket paths must stay under ~100 characters)."""
    path = tempfile.mkdtemp(prefix="trw-")
    yield path
    kill_ray_under(path)
    shutil.rmtree(path, ignore_errors=True)


def _env(ray_tmp: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_TMPDIR"] = ray_tmp
    return env


def _done_cells(output: str, job_id: str) -> dict:
    try:
        cells = read_table(output, "cells", job_id=job_id).to_pylist()
    except Exception:  # noqa: BLE001 - nothing written yet
        return {}
    return {(c["row_key"], c["column"]): c for c in cells if c["status"] == "done"}


def _calls_by_cell(output: str, job_id: str) -> dict:
    calls: dict = {}
    for rec in read_table(output, "llm_calls", job_id=job_id).select(["row_key", "column", "call_id"]).to_pylist():
        calls.setdefault((rec["row_key"], rec["column"]), set()).add(rec["call_id"])
    return calls


def _ray_processes(ray_tmp: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid", "environ", "cmdline"]):
        try:
            if (proc.info.get("environ") or {}).get("RAY_TMPDIR") == ray_tmp or ray_tmp in " ".join(proc.info["cmdline"] or []):
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_sigkill_of_the_driver_then_resume_finishes_without_recomputing(ray_tmp, tmp_path):
    config = WorldConfig(companies=8, seed=5, llm_latency_s=0.1, site_latency_s=0.05)
    with start_world(config, world_dir=tmp_path / "world") as world:
        spec = world_job_spec(world, tmp_path / "out", name="crash", columns=("ceo", "founded", "ceo_previous"))
        spec["run"] = {"max_cells_in_flight": 3}  # a slow, steady job: the kill lands mid-way
        path = tmp_path / "job.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        job = parse_job(spec)
        output = str(tmp_path / "out")

        log = open(tmp_path / "run.log", "wb")
        driver = subprocess.Popen([TRAWL, "run", str(path), "--no-dashboard", "--quiet"], stdout=log, stderr=subprocess.STDOUT,
                                  env=_env(ray_tmp), cwd=tmp_path, start_new_session=True)
        try:
            wait_for(lambda: len(_done_cells(output, job.job_id)) >= 2 or driver.poll() is not None, timeout=240,
                     what="the first recorded cells")
            assert driver.poll() is None, "the job finished before it could be killed: " + (tmp_path / "run.log").read_text()[-2000:]
            driver.send_signal(signal.SIGKILL)
            driver.wait(30)
        finally:
            if driver.poll() is None:
                driver.kill()
            log.close()
        killed = kill_ray_under(ray_tmp)
        assert killed, "the killed driver left no Ray processes behind? (the session was not found)"
        wait_for(lambda: not _ray_processes(ray_tmp), timeout=30, what="the killed session's processes to exit")

        before = _done_cells(output, job.job_id)
        calls_before = _calls_by_cell(output, job.job_id)
        total = len(job.rows) * len(job.columns)
        assert 0 < len(before) < total

        resumed = subprocess.run([TRAWL, "resume", str(path), "--no-dashboard", "--quiet"], env=_env(ray_tmp), cwd=tmp_path,
                                 capture_output=True, text=True, timeout=400)
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        assert f"{total - len(before)} done" in resumed.stdout or "done" in resumed.stdout, resumed.stdout

    after = {(c["row_key"], c["column"]): c for c in read_table(output, "cells", job_id=job.job_id).to_pylist()}
    assert len(after) == total
    assert {c["status"] for c in after.values()} == {"done"}, [(k, c["error"]) for k, c in after.items() if c["status"] != "done"]
    for cell, rec in before.items():  # done before the crash: kept as they were, not asked again
        assert after[cell]["run_id"] == rec["run_id"], cell
        assert after[cell]["answer"] == rec["answer"], cell
    calls_after = _calls_by_cell(output, job.job_id)
    new_calls = {cell: calls_after.get(cell, set()) - calls_before.get(cell, set()) for cell in before}
    assert all(not ids for ids in new_calls.values()), {c: ids for c, ids in new_calls.items() if ids}
    resume_run = {c["run_id"] for cell, c in after.items() if cell not in before}
    assert len(resume_run) == 1 and next(iter(resume_run)).startswith("resume-")
    assert all(n == 0 for n in raw_duplicates(output, job.job_id).values()), raw_duplicates(output, job.job_id)
    jobs = read_table(output, "jobs", job_id=job.job_id).to_pylist()
    assert [j["status"] for j in jobs] == ["done"]
