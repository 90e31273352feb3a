"""`trawl submit` / `status` / `logs`: staging a job for Ray's Jobs API, and a real cluster of `ray start` processes.

The end-to-end test starts a head (no CPUs for work) and one worker with
`ray start` in a temporary directory with ports of its own, submits the local
world's job through the Jobs API and follows it to the end. Only the processes
of that temporary session are ended afterwards, by their own PIDs, never by
Ray's machine-wide shutdown command, which would end every Ray on the machine.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest
import yaml

from cluster.submit import SPEC_NAME, build_runtime_env, submission_id_for
from pipelines.errors import SpecError, TrawlError
from pipelines.spec import load_job

VENV_BIN = Path(sys.executable).parent


def _spec(tmp_path: Path, **changes) -> Path:
    spec = {
        "name": "submit-test", "key": "company",
        "rows_from": "companies.csv",
        "columns": {"ceo": {"question": "Who is the CEO of {company}?"}},
        "llm": {"providers": [{"name": "local", "base_url": "http://127.0.0.1:9/v1", "model": "m"}]},
        "search": {"providers": [{"name": "local", "kind": "searxng", "base_url": "http://127.0.0.1:9"}]},
        "output": "/srv/trawl-data",
    }
    spec.update(changes)
    (tmp_path / "companies.csv").write_text("company\nAcme\nGlobex\n")
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_submission_id_is_readable_and_unique_per_second():
    sid = submission_id_for("demo-companies-55eff3d18e", datetime(2026, 11, 22, 3, 15, 0, tzinfo=timezone.utc))
    assert sid == "trawl-demo-companies-55eff3d18e-20261122T031500"


def test_runtime_env_ships_spec_rows_and_code(tmp_path):
    spec = _spec(tmp_path)
    env, output = build_runtime_env(spec, tmp_path / "staging")
    staged = tmp_path / "staging"
    assert output == "/srv/trawl-data"
    assert env["working_dir"] == str(staged)
    assert sorted(Path(p).name for p in env["py_modules"]) == ["actors", "cluster", "pipelines"]
    shipped = yaml.safe_load((staged / SPEC_NAME).read_text())
    assert shipped["rows_from"] == "rows/companies.csv" and (staged / "rows" / "companies.csv").is_file()
    # the staged spec is the same job (same id) as the one the user wrote
    assert load_job(str(staged / SPEC_NAME)).job_id == load_job(str(spec)).job_id
    assert "pip" not in env


def test_runtime_env_can_install_the_pins_and_override_output(tmp_path):
    spec = _spec(tmp_path)
    env, output = build_runtime_env(spec, tmp_path / "staging", output="s3://bucket/trawl", pip=True, ship_code=False)
    assert output == "s3://bucket/trawl"
    assert yaml.safe_load((tmp_path / "staging" / SPEC_NAME).read_text())["output"] == "s3://bucket/trawl"
    assert any(p.startswith("ray[default]==") for p in env["pip"]) and "py_modules" not in env


def test_relative_output_is_refused_with_the_way_out(tmp_path):
    spec = _spec(tmp_path, output="./trawl-data")
    with pytest.raises(TrawlError, match="relative.*--output"):
        build_runtime_env(spec, tmp_path / "staging")


def test_bad_spec_is_rejected_before_anything_is_shipped(tmp_path):
    spec = _spec(tmp_path, columns={"ceo": {"question": "Who is {nobody}?"}})
    with pytest.raises(SpecError):
        build_runtime_env(spec, tmp_path / "staging")
    assert not (tmp_path / "staging" / SPEC_NAME).exists()


def test_unreachable_cluster_is_a_clean_cli_error(tmp_path):
    spec = _spec(tmp_path)
    port = _free_port()
    proc = subprocess.run([str(VENV_BIN / "trawl"), "submit", str(spec), "--address", f"http://127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


# --- a real cluster of `ray start` processes ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_start(args: list[str], temp_dir: str, env: dict) -> None:
    proc = subprocess.run([str(VENV_BIN / "ray"), "start", *args, f"--temp-dir={temp_dir}", "--disable-usage-stats"],
                          capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def _kill_session(temp_dir: str) -> None:
    """Stop exactly the processes of this temporary Ray session (their command lines name its folder)."""
    mine = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.pid != os.getpid() and any(temp_dir in part for part in proc.info["cmdline"] or []):
                mine.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    for proc in list(mine):  # and what they started: a job's entrypoint (`trawl run ...`) does not name the folder
        try:
            mine += [child for child in proc.children(recursive=True) if child not in mine]
        except psutil.NoSuchProcess:
            pass
    for proc in mine:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(mine, timeout=15)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture(scope="module")
def ray_start_cluster():
    temp_dir = tempfile.mkdtemp(prefix="trawl-rs-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    # Token auth as a remote submitter uses it: every node and the submitter share RAY_AUTH_TOKEN.
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env.pop("RAY_ADDRESS", None)
    gcs, dashboard = _free_port(), _free_port()
    common = ["--object-store-memory=100000000", "--min-worker-port=0", "--max-worker-port=0"]
    try:
        _ray_start(["--head", f"--port={gcs}", "--num-cpus=0", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
                    f"--ray-client-server-port={_free_port()}", f"--dashboard-agent-listen-port={_free_port()}",
                    f"--metrics-export-port={_free_port()}", f"--runtime-env-agent-port={_free_port()}", *common], temp_dir, env)
        _ray_start([f"--address=127.0.0.1:{gcs}", "--num-cpus=2", f"--dashboard-agent-listen-port={_free_port()}",
                    f"--metrics-export-port={_free_port()}", f"--runtime-env-agent-port={_free_port()}", *common], temp_dir, env)
        yield f"http://127.0.0.1:{dashboard}", env
    finally:
        _kill_session(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _trawl(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "trawl"), *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.slow
def test_submit_runs_the_job_on_the_cluster_to_the_end(ray_start_cluster, world, tmp_path):
    from pipelines.store.reader import read_table

    address, env = ray_start_cluster
    output = tmp_path / "out"
    spec = world.write_job_spec(tmp_path / "job.yaml", output=str(output),
                                rows=[dict(r) for r in world.companies[:2]], name="submitted")
    submitted = _trawl("submit", spec, "--address", address, env=env, timeout=300)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    found = re.search(r"as (trawl-submitted-[0-9a-f]+-\d{8}T\d{6})", submitted.stdout)
    assert found, submitted.stdout
    sid = found.group(1)

    deadline = time.monotonic() + 420
    status = ""
    while time.monotonic() < deadline:
        shown = _trawl("status", sid, "--address", address, env=env)
        status = re.search(r"status\s+(\w+)", shown.stdout).group(1)
        if status in ("SUCCEEDED", "FAILED", "STOPPED"):
            break
        time.sleep(3)
    logs = _trawl("logs", sid, "--address", address, env=env)
    assert status == "SUCCEEDED", shown.stdout + logs.stdout[-3000:]
    assert "Finished submitted-" in logs.stdout
    assert load_job(spec).job_id in shown.stdout  # from the submission's metadata
    no_token = {k: v for k, v in env.items() if k != "RAY_AUTH_TOKEN"}
    no_token["RAY_AUTH_TOKEN_PATH"] = str(tmp_path / "no-token")
    (tmp_path / "no-token").write_text("wrong-token")
    refused = _trawl("status", sid, "--address", address, env=no_token)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr

    cells = read_table(output, "cells").to_pylist()
    assert len(cells) == 2 * len(load_job(spec).columns)
    assert {c["status"] for c in cells} == {"done"}
    listed = subprocess.run(  # what the dashboard's Jobs view lists (the same REST API)
        [sys.executable, "-c", "import json, sys; from ray.job_submission import JobSubmissionClient as C; "
         "print(json.dumps([[j.submission_id, j.metadata] for j in C(sys.argv[1]).list_jobs()]))", address],
        capture_output=True, text=True, env=env, timeout=120)
    jobs = dict(json.loads(listed.stdout.strip().splitlines()[-1]))
    assert jobs[sid]["job_name"] == "trawl submitted" and jobs[sid]["trawl_job_id"] == load_job(spec).job_id
    follow = _trawl("logs", sid, "--address", address, "--follow", env=env)  # a finished job: prints everything and returns
    assert follow.returncode == 0 and "Finished submitted-" in follow.stdout


def test_every_cluster_command_is_documented_with_help_and_an_example():
    from cluster.cli.cluster_cmd import COMMANDS

    docs = (Path(__file__).resolve().parent.parent / "docs" / "cluster.md").read_text()
    for name in COMMANDS:  # help and README rows: tests/test_cli_docs.py
        assert f"trawl {name} " in docs, f"docs/cluster.md shows no `trawl {name}`"
    for path in re.findall(r"`((?:cluster|tests|docs)/[\w./-]+\.(?:yaml|py|md)|ray-cluster\.yaml|cluster/launcher/Dockerfile)`", docs):
        assert (Path(__file__).resolve().parent.parent / path).exists(), path
