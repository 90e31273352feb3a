"""API keys never reach an output table, a log line or an error message.

A job whose LLM server and search provider require keys runs through the
real `trawl run` (a subprocess with its own Ray in a private RAY_TMPDIR).
Each chain starts with a provider holding a *wrong* key — the search server
echoes a refused credential back in its 401, as careless proxies do — and
falls back to one holding the right key; a second job has only wrong keys,
so its cells fail with auth errors. Then every file under the output folder
(Parquet decoded to text, the DuckDB file, caches), the commands' stdout and
stderr, and every file of the runs' Ray sessions are scanned for every key.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.store.reader import read_table
from pipelines.world.llm_server import start_llm_server
from tests.fixtures_reliability import LoopbackServer, kill_ray_under, world_job_spec

pytestmark = pytest.mark.slow

TRAWL = os.path.join(os.path.dirname(sys.executable), "trawl")
KEYS = {
    "TRAWL_T_LLM_GOOD": "sk-trawltest-" + secrets.token_hex(12),
    "TRAWL_T_LLM_BAD": "llmbad_" + secrets.token_hex(12),  # not shaped like a key: only exact scrubbing hides it
    "TRAWL_T_SEARCH_GOOD": "srchgood_" + secrets.token_hex(12),
    "TRAWL_T_SEARCH_BAD": "srchbad_" + secrets.token_hex(12),
}


@pytest.fixture()
def ray_tmp():
    path = tempfile.mkdtemp(prefix="trw-")
    yield path
    kill_ray_under(path)
    shutil.rmtree(path, ignore_errors=True)


def _spec(world, output, name, llm_url, search_url, chain: str) -> dict:
    spec = world_job_spec(world, output, name=name, companies=1, columns=("ceo",), keywords=2, results=5, pages=3)
    llm = {"bad": {"name": "llm-bad", "base_url": llm_url, "model": "trawl-extractive", "api_key_env": "TRAWL_T_LLM_BAD"},
           "good": {"name": "llm-good", "base_url": llm_url, "model": "trawl-extractive", "api_key_env": "TRAWL_T_LLM_GOOD"}}
    search = {"bad": {"name": "search-bad", "kind": "searxng", "base_url": search_url, "api_key_env": "TRAWL_T_SEARCH_BAD"},
              "good": {"name": "search-good", "kind": "searxng", "base_url": search_url, "api_key_env": "TRAWL_T_SEARCH_GOOD"}}
    order = ["bad", "good"] if chain == "fallback" else ["bad"]
    spec["llm"] = {"providers": [llm[k] for k in order], "max_attempts_per_provider": 1, "breaker_failures": 100}
    spec["search"] = {"providers": [search[k] for k in order], "max_attempts_per_provider": 1}
    return spec


def _texts_of(folder: Path):
    """(path, text) of every file: Parquet decoded to its values, everything else as raw bytes."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        raw = path.read_bytes()
        yield path, raw.decode("utf-8", errors="replace")
        if path.suffix == ".parquet":
            yield path, json.dumps(pq.read_table(path).to_pylist(), default=str)


def _leaks(texts, where: str) -> list[str]:
    return [f"{name} in {where}" for text in texts for name, key in KEYS.items() if key in text]


def test_api_keys_never_reach_outputs_logs_or_errors(world, tmp_path, ray_tmp):
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(KEYS)
    env["RAY_TMPDIR"] = ray_tmp
    output = tmp_path / "out"

    def proxy(query: str) -> list[str]:
        url = f"{world.search_base_url}/search?" + urllib.parse.urlencode({"q": query, "format": "json"})
        with urllib.request.urlopen(url, timeout=30) as resp:
            return [r["url"] for r in json.load(resp)["results"]]

    with start_llm_server(api_key=KEYS["TRAWL_T_LLM_GOOD"]) as llm, \
            LoopbackServer(results=proxy, api_key=KEYS["TRAWL_T_SEARCH_GOOD"]) as search:
        runs = []
        for name, chain in (("keys-fallback", "fallback"), ("keys-bad", "bad")):
            path = tmp_path / f"{name}.yaml"
            path.write_text(yaml.safe_dump(_spec(world, output, name, llm.base_url, search.base_url, chain), sort_keys=False))
            runs.append(subprocess.run([TRAWL, "run", str(path), "--no-dashboard"], env=env, cwd=tmp_path,
                                       capture_output=True, text=True, timeout=400))
        probe = subprocess.run([TRAWL, "search", "Who leads Wilvera", "--spec", str(tmp_path / "keys-bad.yaml")],
                               env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert {f"Bearer {KEYS['TRAWL_T_SEARCH_BAD']}", f"Bearer {KEYS['TRAWL_T_SEARCH_GOOD']}"} <= set(search.auth_headers)

    good, bad = runs
    assert good.returncode == 0, good.stdout[-2000:] + good.stderr[-2000:]
    assert "1 done of 1 cells" in good.stdout, good.stdout
    assert bad.returncode == 0 and "1 failed of 1 cells" in bad.stdout, bad.stdout + bad.stderr[-2000:]
    assert probe.returncode != 0 and "401" in probe.stdout + probe.stderr, probe.stdout + probe.stderr

    # The failures really happened and were recorded (so there were error messages to leak into).
    calls = read_table(str(output), "llm_calls").to_pylist()
    assert any(c["gen_ai.provider.name"] == "llm-bad" and c["error.type"] for c in calls)
    searches = read_table(str(output), "search_calls").to_pylist()
    refused = [s for s in searches if s["provider"] == "search-bad" and s["error.type"]]
    assert refused and all("invalid credential 'Bearer ***'" in (s["error_message"] or "") for s in refused), refused[:2]
    cells = read_table(str(output), "cells").to_pylist()
    assert any(c["status"] == "failed" and c["error"] for c in cells)

    leaks = _leaks((t for _, t in _texts_of(output)), "the output folder")
    for run, name in ((good, "run"), (bad, "failing run"), (probe, "trawl search")):
        leaks += _leaks([run.stdout, run.stderr], f"{name} stdout/stderr")
    session_files = list(_texts_of(Path(ray_tmp)))
    assert any("session_" in str(p) for p, _ in session_files), "no Ray session logs found to scan"
    leaks += _leaks((t for _, t in session_files), "the Ray session logs")
    assert leaks == []
