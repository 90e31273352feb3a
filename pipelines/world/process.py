"""Start and stop the whole local world: site, search and LLM servers as subprocesses.

    with start_world(WorldConfig(companies=5, seed=7)) as world:
        world.site_port, world.search_base_url, world.llm_base_url
        spec = world.job_spec()          # a YAML-serialisable trawl job spec for this world
        world.set_faults("llm", LLMFaults(rate_429=0.3))

Each server prints its port once bound (no guessed sleeps) and exits when
this process dies (it watches a stdin pipe), on ``stop()``, or on Ctrl-C.
A detached world (``trawl world up --detach``) is stopped by the pids in
``<world_dir>/world.json`` (``stop_detached``).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import Field

from pipelines.settings import Strict
from pipelines.world.corpus import Corpus
from pipelines.world.faults import LLMFaults, SearchFaults, SiteFaults
from pipelines.world.proc import ServerProcess, post_json, spawn_server
from pipelines.world.truth import COLUMN_TRUTH

__all__ = ["WorldConfig", "World", "start_world", "stop_detached", "DEFAULT_COLUMNS", "DEFAULT_PORTS", "COLUMN_TRUTH"]

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"site": 8780, "search": 8781, "llm": 8782}

DEFAULT_COLUMNS: dict[str, dict] = {
    "ceo": {"question": "Who is the CEO of {company}?", "type": "text"},
    "founded": {"question": "In what year was {company} founded?", "type": "integer"},
    "hq_city": {"question": "In which city is {company} headquartered?", "type": "text"},
    "employees": {"question": "How many employees does {company} have?", "type": "integer"},
    "product": {"question": "What is the main product of {company}?", "type": "text"},
    "funding": {"question": "What was the last funding round of {company} and how much did it raise?", "type": "text"},
    "ceo_previous": {"question": "Where did {ceo} work before joining {company}?", "type": "text", "depends_on": ["ceo"]},
}


class WorldConfig(Strict):
    companies: int = Field(5, ge=1, le=100_000, description="Fictional companies to generate.")
    seed: int = Field(7, description="Corpus seed; the same seed gives the same world everywhere.")
    site_latency_s: float = Field(0.0, ge=0, description="Delay of every page response.")
    search_latency_s: float = Field(0.0, ge=0, description="Delay of every search response.")
    llm_latency_s: float = Field(0.0, ge=0, description="Delay of every LLM call.")
    llm_latency_per_token_s: float = Field(0.0, ge=0, description="Extra LLM delay per output token.")
    site_port: int = Field(0, ge=0, le=65535, description="Site server port; 0 picks a free one.")
    search_port: int = Field(0, ge=0, le=65535, description="Search server port; 0 picks a free one.")
    llm_port: int = Field(0, ge=0, le=65535, description="LLM server port; 0 picks a free one.")
    site_faults: dict[str, SiteFaults] = Field(default_factory=dict, description="Site fault rules per request class.")
    search_faults: SearchFaults | None = Field(None, description="Search faults (latency from search_latency_s if unset).")
    llm_faults: LLMFaults | None = Field(None, description="LLM faults (latency from llm_latency_s if unset).")
    index_traps: bool = Field(False, description="Index each company's prompt-injection trap page so searches find it.")
    ready_timeout_s: float = Field(300.0, gt=0, description="How long to wait for a server (the search index builds first).")


class World:
    """Handle on a running world; a context manager that stops it on exit."""

    def __init__(self, config: WorldConfig, world_dir: Path, procs: dict[str, ServerProcess], corpus: Corpus) -> None:
        self.config = config
        self.world_dir = world_dir
        self.procs = procs
        self.site_port = procs["site"].port
        self.search_port = procs["search"].port
        self.llm_port = procs["llm"].port
        self.search_base_url = f"http://127.0.0.1:{self.search_port}"
        self.llm_base_url = f"http://127.0.0.1:{self.llm_port}/v1"
        self.site_base_url = f"http://127.0.0.1:{self.site_port}"
        self.ground_truth_path = str(world_dir / "ground_truth.json")
        self.companies: list[dict[str, str]] = corpus.rows()
        self._corpus = corpus
        self.owns_dir = False  # a temporary world_dir is removed on stop()

    def url(self, host: str, path: str = "/") -> str:
        """The URL of a page of the world, e.g. ``world.url("acme-robotics.example", "/about")``."""
        return f"http://{host}:{self.site_port}{path}"

    def job_spec(self, columns: dict | None = None, rows: list[dict] | None = None, output: str = "./trawl-data",
                 name: str = "demo-companies") -> dict:
        return {
            "name": name,
            "key": "company",
            "rows": rows if rows is not None else [dict(r) for r in self.companies],
            "columns": columns if columns is not None else json.loads(json.dumps(DEFAULT_COLUMNS)),
            "research": {"keywords_per_cell": 4, "results_per_keyword": 10, "max_pages_per_cell": 12, "chunks_per_page": 3},
            "llm": {"providers": [{"name": "local", "base_url": self.llm_base_url, "model": "trawl-extractive"}]},
            "search": {"providers": [{"name": "local", "kind": "searxng", "base_url": self.search_base_url}]},
            "fetch": {"resolve": {"*.example": "127.0.0.1"}, "allow_hosts": ["*.example"]},
            "output": output,
        }

    def write_job_spec(self, path: str | os.PathLike, **kwargs) -> str:
        import yaml

        Path(path).write_text(yaml.safe_dump(self.job_spec(**kwargs), sort_keys=False, allow_unicode=True))
        return str(path)

    def set_faults(self, service: str, faults) -> None:
        """Replace a server's faults at runtime: ``service`` is site, search or llm."""
        if service not in self.procs:
            raise ValueError(f"unknown service {service!r}; expected one of {sorted(self.procs)}")
        if hasattr(faults, "model_dump"):
            payload = faults.model_dump()
        elif service == "site" and isinstance(faults, dict):
            payload = {k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in faults.items()}
        else:
            payload = dict(faults)
        post_json(f"{self.procs[service].base}/_admin/faults", payload)

    def stats(self, service: str) -> dict:
        from pipelines.world.proc import get_json

        return get_json(f"{self.procs[service].base}/_admin/stats")

    def alive(self) -> bool:
        return all(p.alive() for p in self.procs.values())

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()
        if self.owns_dir:
            shutil.rmtree(self.world_dir, ignore_errors=True)
            self.owns_dir = False

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _llm_faults(config: WorldConfig) -> LLMFaults:
    if config.llm_faults is not None:
        return config.llm_faults
    return LLMFaults(latency_s=config.llm_latency_s, latency_per_token_s=config.llm_latency_per_token_s)


def start_world(config: WorldConfig | None = None, world_dir: str | os.PathLike | None = None, *,
                detached: bool = False) -> World:
    """Generate the world, start its three servers and return once all accept connections."""
    config = config or WorldConfig()
    wdir = Path(world_dir) if world_dir else Path(tempfile.mkdtemp(prefix="trawl-world-"))
    wdir.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(config.seed, config.companies)
    corpus.write_ground_truth(str(wdir / "ground_truth.json"))
    site_faults = dict(config.site_faults)
    if config.site_latency_s and "default" not in site_faults:
        site_faults["default"] = SiteFaults(latency_s=config.site_latency_s)
    search_faults = config.search_faults or SearchFaults(latency_s=config.search_latency_s)
    common = ["--companies", str(config.companies), "--seed", str(config.seed)]
    kw: dict[str, Any] = {"timeout": config.ready_timeout_s, "detached": detached}
    log_path = str(wdir / "servers.log")

    def site_then_search() -> tuple[ServerProcess, ServerProcess]:
        site = spawn_server("site", "pipelines.world.site_server", [
            "--port", str(config.site_port), *common,
            "--faults", json.dumps({k: v.model_dump() for k, v in site_faults.items()})], log_path=log_path, **kw)
        try:
            search = spawn_server("search", "pipelines.world.search_server", [
                "--port", str(config.search_port), "--site-port", str(site.port), *common,
                "--faults", search_faults.model_dump_json(), *(["--index-traps"] if config.index_traps else [])],
                log_path=log_path, **kw)
        except BaseException:
            site.stop()
            raise
        return site, search

    def llm() -> ServerProcess:
        return spawn_server("llm", "pipelines.world.llm_server", [
            "--port", str(config.llm_port), "--faults", _llm_faults(config).model_dump_json()], log_path=log_path, **kw)

    with ThreadPoolExecutor(2) as pool:
        f_sites, f_llm = pool.submit(site_then_search), pool.submit(llm)
        errors, procs = [], {}
        try:
            procs["site"], procs["search"] = f_sites.result()
        except Exception as exc:  # noqa: BLE001 - re-raised below after cleanup
            errors.append(exc)
        try:
            procs["llm"] = f_llm.result()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    if errors:
        for p in procs.values():
            p.stop()
        raise errors[0]
    try:
        return _finish(config, wdir, procs, corpus, world_dir is None, detached)
    except BaseException:
        for p in procs.values():
            p.stop()
        raise


def _finish(config: WorldConfig, wdir: Path, procs: dict[str, ServerProcess], corpus: Corpus, temporary: bool,
            detached: bool) -> World:
    world = World(config, wdir, procs, corpus)
    log.info("local world up: site :%d, search :%d, llm :%d (%s)", world.site_port, world.search_port, world.llm_port, wdir)
    world.owns_dir = temporary and not detached
    state = {"pids": {k: p.proc.pid for k, p in procs.items()}, "ports": {k: p.port for k, p in procs.items()},
             "started": time.time(), "config": config.model_dump(), "detached": detached}
    (wdir / "world.json").write_text(json.dumps(state, indent=1))
    if not detached:
        atexit.register(world.stop)
    return world


def stop_detached(world_dir: str | os.PathLike, timeout: float = 10.0) -> list[int]:
    """Stop the servers of a detached world; returns the pids that were signalled."""
    state_file = Path(world_dir) / "world.json"
    state = json.loads(state_file.read_text())
    stopped = []
    for pid in state.get("pids", {}).values():
        try:
            os.kill(pid, signal.SIGTERM)
            stopped.append(pid)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout
    for pid in stopped:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)  # polling a foreign pid's exit; there is no wait() for non-children
    state_file.unlink(missing_ok=True)
    return stopped
