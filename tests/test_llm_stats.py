"""`trawl llm-stats` over llm_calls Parquet written by the store writer from real gateway runs."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from pipelines.llm.gateway import Gateway
from pipelines.llm.stats import llm_call_stats
from pipelines.llm.types import CallContext, LLMRequest
from pipelines.store.writer import StoreWriter
from tests.fixtures_llm import error_body, provider, settings_for


@pytest.fixture
def output(llm_server_factory, tmp_path):
    """Two runs of job 'j1' (the second all cache hits) and one call of job 'j2'."""
    primary, backup = llm_server_factory(), llm_server_factory()
    primary.script = [(500, {}, error_body("x")), (429, {}, error_body("y"))] * 2 + [(500, {}, error_body("z"))] * 3
    out = tmp_path / "out"
    settings = settings_for(provider("primary", primary.base_url, price_input_per_m=2.0), provider("backup", backup.base_url))

    def run(job: str, n: int) -> None:
        writer = StoreWriter(out)
        gw = Gateway(settings, record_sink=lambda recs: writer.append("llm_calls", recs), cache_dir=str(tmp_path / "cache"))

        async def go():
            for i in range(n):
                await gw.complete(LLMRequest(stage="judge", messages=[{"role": "user", "content": f"q{i}"}], context=CallContext(job, "r", "c")))
            await gw.aclose()

        asyncio.run(go())
        writer.close()

    run("j1", 6)
    run("j1", 6)
    run("j2", 1)
    return out


def test_stats_per_provider_and_model(output):
    rows = {r["provider"]: r for r in llm_call_stats(output, "j1")}
    primary, backup = rows["primary"], rows["backup"]
    assert primary["model"] == "primary-model"
    assert primary["failures_by_type"] == {"http_500": 5, "http_429": 2}  # then its circuit opened
    assert backup["upstream_calls"] + primary["upstream_calls"] - primary["failures"] == 6  # six answers paid for once
    assert primary["calls"] + backup["calls"] - primary["failures"] == 12  # ... and six more from the cache
    assert backup["fallback_calls"] >= 1 and backup["p95_s"] >= backup["p50_s"] > 0
    assert primary["cost_usd"] == pytest.approx(primary["input_tokens"] * 2.0 / 1e6)
    assert 0 < backup["cache_hit_rate"] < 1
    assert sum(r["calls"] for r in llm_call_stats(output)) == sum(r["calls"] for r in rows.values()) + 1


def test_cli_table_and_json(output):
    runner = CliRunner()
    table = runner.invoke(app, ["llm-stats", "j1", "--output", str(output)], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "primary" in table.output and "http_500 5" in table.output
    as_json = runner.invoke(app, ["llm-stats", "--output", str(output), "--json"])
    assert as_json.exit_code == 0 and {r["provider"] for r in json.loads(as_json.output)} == {"primary", "backup"}
    missing = runner.invoke(app, ["llm-stats", "--output", str(output / "nope")])
    assert missing.exit_code == 1 and "no output folder" in missing.output
