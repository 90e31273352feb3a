"""Starting and stopping the world: one process tree, ready when it says so, gone when its parent is."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from pipelines.world import DEFAULT_COLUMNS, LLMFaults, WorldConfig, start_world

TRAWL = str(Path(sys.executable).with_name("trawl"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_gone(pids, timeout=15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def _free_port_base() -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + 2 < 65536:
            try:
                for port in (base, base + 1, base + 2):
                    with socket.socket() as s:
                        s.bind(("127.0.0.1", port))
                return base
            except OSError:
                continue
    raise RuntimeError("no three consecutive free ports")


def test_world_handle_and_job_spec(world, tmp_path):
    assert len({world.site_port, world.search_port, world.llm_port}) == 3
    assert world.search_base_url == f"http://127.0.0.1:{world.search_port}"
    assert world.llm_base_url == f"http://127.0.0.1:{world.llm_port}/v1"
    assert len(world.companies) == 5 and all(set(r) == {"company", "domain"} for r in world.companies)
    spec = world.job_spec(output=str(tmp_path / "out"))
    assert spec["columns"] == DEFAULT_COLUMNS and spec["columns"]["ceo_previous"]["depends_on"] == ["ceo"]
    assert spec["llm"]["providers"][0] == {"name": "local", "base_url": world.llm_base_url, "model": "trawl-extractive"}
    assert spec["search"]["providers"][0]["kind"] == "searxng"
    assert spec["fetch"] == {"resolve": {"*.example": "127.0.0.1"}, "allow_hosts": ["*.example"]}
    path = world.write_job_spec(tmp_path / "job.yaml", rows=world.companies[:1])
    assert yaml.safe_load(Path(path).read_text())["rows"] == world.companies[:1]
    with urllib.request.urlopen(f"{world.llm_base_url}/models", timeout=5) as resp:
        assert json.load(resp)["data"][0]["id"] == "trawl-extractive"


def test_set_faults_at_runtime(world):
    try:
        world.set_faults("llm", LLMFaults(rate_500=1.0))
        req = urllib.request.Request(f"{world.llm_base_url}/chat/completions", method="POST",
                                     data=json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode())
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 500
    finally:
        world.set_faults("llm", LLMFaults())
    with pytest.raises(ValueError):
        world.set_faults("dns", {})


def test_stop_ends_every_server_and_removes_the_temporary_dir():
    world = start_world(WorldConfig(companies=2, seed=1, llm_latency_s=0.05))
    pids = [p.proc.pid for p in world.procs.values()]
    assert Path(world.ground_truth_path).exists()
    world.stop()
    assert _wait_gone(pids) and not Path(world.world_dir).exists()


def test_servers_die_with_their_parent(tmp_path):
    script = ("import json, sys, time\nfrom pipelines.world import WorldConfig, start_world\n"
              f"w = start_world(WorldConfig(companies=2), world_dir={str(tmp_path)!r})\n"
              "print(json.dumps([p.proc.pid for p in w.procs.values()]), flush=True)\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    pids = json.loads(parent.stdout.readline())
    assert all(_alive(p) for p in pids)
    parent.send_signal(signal.SIGKILL)  # no cleanup code runs: the stdin pipes close and the servers notice
    parent.wait()
    assert _wait_gone(pids)


@pytest.mark.slow  # CLI start-up plus three servers
def test_cli_world_up_detached_and_down(tmp_path):
    wdir, base = tmp_path / "w", _free_port_base()
    up = subprocess.run([TRAWL, "world", "up", "--detach", "--port-base", str(base), "--dir", str(wdir), "--companies", "3",
                         "--latency", "site=0.01,llm=0.01"], capture_output=True, text=True, timeout=180)
    assert up.returncode == 0, up.stderr
    try:
        assert f"http://127.0.0.1:{base}" in up.stdout and f"http://127.0.0.1:{base + 2}/v1" in up.stdout
        spec = yaml.safe_load((wdir / "job.yaml").read_text())
        assert spec["llm"]["providers"][0]["base_url"] == f"http://127.0.0.1:{base + 2}/v1" and len(spec["rows"]) == 3
        with urllib.request.urlopen(f"http://127.0.0.1:{base + 1}/search?q=CEO&format=json", timeout=10) as resp:
            assert json.load(resp)["results"]
        pids = list(json.loads((wdir / "world.json").read_text())["pids"].values())
    finally:
        down = subprocess.run([TRAWL, "world", "down", "--dir", str(wdir)], capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and "stopped 3" in down.stdout
    assert _wait_gone(pids)
    bad = subprocess.run([TRAWL, "world", "up", "--latency", "dns=1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--latency" in bad.stderr
