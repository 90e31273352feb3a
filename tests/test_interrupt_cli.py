"""Ctrl-C (SIGINT) and SIGTERM during `trawl run`: one summary, the exact resume command, no log flood.

`trawl run` is a real subprocess (its own local Ray in a private RAY_TMPDIR).
The world's LLM gate holds the questions of all but the first companies, so
the signal lands while cells are in flight. SIGINT goes to the process
group, as a terminal's Ctrl-C does; SIGTERM to the trawl process, as `kill
PID` or a container runtime does. The printed resume command is then run as printed
(with the gate open) and must finish every cell.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from pipelines.store.reader import read_table
from pipelines.world import LLMFaults, WorldConfig, start_world
from tests.fixtures_reliability import kill_ray_under, wait_for, world_job_spec

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def _held(companies: list[str]) -> list[str]:
    return [f"CEO of {c}?</question>" for c in companies] + [f"was {c} founded?</question>" for c in companies]


def _trawl(args: list[str], env: dict, **kw) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "trawl"), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True, **kw)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a non-interactive shell starts a `cmd &` job (POSIX)


@pytest.mark.parametrize("signum, background", [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGTERM, True)],
                         ids=["SIGINT", "SIGTERM", "SIGTERM-started-with-&"])
def test_an_interrupted_run_says_what_happened_and_how_to_resume(tmp_path, signum, background):
    config = WorldConfig(companies=6, seed=3, llm_latency_s=0.02)
    ray_dir = tempfile.mkdtemp(prefix="trawl-ray-")  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, "RAY_TMPDIR": ray_dir, "COLUMNS": "250", "TERM": "dumb",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        with start_world(config, world_dir=tmp_path / "world") as world:
            spec = world_job_spec(world, tmp_path / "out", name="interrupt", columns=("ceo", "founded"))
            spec["run"] = {"max_cells_in_flight": 4}  # some cells are still waiting to start when the signal lands
            companies = [row["company"] for row in spec["rows"]]
            world.set_faults("llm", LLMFaults(latency_s=config.llm_latency_s, hold_prompts_with=_held(companies[1:])))
            (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")

            run = _trawl(["run", str(tmp_path / "job.yaml"), "--quiet", "--no-dashboard"], env,
                         preexec_fn=_ignore_sigint if background else None)
            # Hold until the first company is done and the next cells wait at the gate.
            wait_for(lambda: run.poll() is not None or world.stats("llm").get("held", 0) >= 4, timeout=300,
                     interval=0.5, what="cells held in flight")
            assert run.poll() is None, run.stdout.read()
            if signum == signal.SIGINT:
                os.killpg(run.pid, signum)  # what a terminal's Ctrl-C does: the whole foreground group
            else:
                os.kill(run.pid, signum)  # what `kill PID` or a container runtime does: the main process
            out, _ = run.communicate(timeout=180)

            assert run.returncode == 130, out
            summaries = [line for line in out.splitlines() if line.startswith("Interrupted ")]
            assert len(summaries) == 1, out
            counts = re.search(r"(\d+) in flight \(abandoned\) · (\d+) not started, of (\d+) cells", summaries[0])
            assert counts and int(counts.group(1)) > 0 and int(counts.group(3)) == 12, summaries[0]
            assert "killed by" not in out and "Unhandled error" not in out and "Traceback" not in out, out
            command = re.search(r"^Continue with: (trawl resume .+)$", out, re.M).group(1)

            world.set_faults("llm", LLMFaults(latency_s=config.llm_latency_s))  # the gate opens; resume as printed
            resumed = subprocess.run(["bash", "-c", f"{command} --quiet --no-dashboard"], capture_output=True,
                                     text=True, env=env, timeout=600)
            assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        cells = read_table(str(tmp_path / "out"), "cells", job_id=spec_job_id(tmp_path / "job.yaml")).to_pylist()
        assert len(cells) == 12 and {c["status"] for c in cells} == {"done"}
    finally:
        kill_ray_under(ray_dir)
        shutil.rmtree(ray_dir, ignore_errors=True)


def spec_job_id(path: Path) -> str:
    from pipelines.spec import load_job

    return load_job(str(path)).job_id
