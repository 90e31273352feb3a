"""A real job on Ray (trawl run's path: gateway actor, writer, Parquet) through contract servers of reasoning models.

The loopback tests (tests/test_llm_contracts.py) run the cell workflow without Ray; this one checks that what
they assert survives the actor boundary and the writer: adaptations learned by the gateway actor, the 400s
as picklable errors, and the new ``llm_calls`` columns in Parquet.
"""

from __future__ import annotations

import copy

import pytest
import ray

from cluster.runner import run_job
from pipelines.spec import parse_job
from pipelines.store.reader import read_table
from tests.contract_llm import ContractServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_local():
    ray.init(address="local", num_cpus=2, include_dashboard=False, namespace="trawl", log_to_driver=False)
    yield
    ray.shutdown()


def test_a_job_on_ray_adapts_and_sets_reasoning_apart(world, ray_local, tmp_path):
    # An unknown deployment name that follows OpenAI's reasoning-model rules and thinks in <think> tags.
    # (No api_key_env: the gateway actor's environment is the one Ray started with; the SDK's placeholder
    # key still makes the Bearer header the contract server asks for.)
    server = ContractServer("openai", model="acme-reasoner", reasoning=True, think_tag="think").start()
    try:
        spec = copy.deepcopy(world.job_spec(output=str(tmp_path), columns={
            "ceo": {"question": "Who is the CEO of {company}?"}}, rows=[dict(r) for r in world.companies[:2]]))
        spec["research"] = {"keywords_per_cell": 2, "results_per_keyword": 5, "max_pages_per_cell": 4}
        spec["llm"] = {"providers": [{"name": "contract", "base_url": server.base_url, "model": "acme-reasoner"}]}
        job = parse_job(spec)
        result = run_job(job, dashboard=False)
    finally:
        server.stop()
    cells = read_table(result.output, "cells", job_id=job.job_id).to_pylist()
    assert {c["status"] for c in cells} == {"done"}, [(c["row_key"], c["error"]) for c in cells]
    calls = read_table(result.output, "llm_calls", job_id=job.job_id).to_pylist()
    ok = [r for r in calls if r["error.type"] is None]
    assert ok and all(r["gen_ai.response.finish_reasons"] == "stop" and r["reasoning_chars"] > 0 for r in ok)
    assert all(r["request_adaptations"] == "temperature=off;token_limit=max_completion_tokens" for r in ok)
    assert {r["error.type"] for r in calls} <= {None, "http_400"}
