"""CLI tables at 80 columns and in a pipe: key columns whole, --format csv/json parse (typer CliRunner)."""

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from pipelines.llm.config import ProviderConfig
from pipelines.llm.records import call_record
from pipelines.llm.types import CallContext
from pipelines.llm.usage import UsageDetails
from pipelines.store.writer import StoreWriter
from tests.fixtures_store import job_record, write_demo

# Long names, as real providers have them; before, rich cut them to "pri…" at 80 columns.
PROVIDERS = [
    ProviderConfig(name="primary-openrouter", base_url="http://127.0.0.1:9/api/v1",
                   model="meta-llama/llama-3.3-70b-instruct", price_input_per_m=0.1, price_output_per_m=0.3),
    ProviderConfig(name="backup-selfhosted-vllm", base_url="http://127.0.0.1:8000/v1", model="Qwen/Qwen3-30B-A3B-Instruct-2507"),
]


@pytest.fixture
def stats_output(tmp_path):
    out = tmp_path / "out"
    ctx = CallContext("job-1", "r", "c")
    with StoreWriter(out) as w:
        records = []
        for i, p in enumerate(PROVIDERS * 3):
            records.append(call_record(
                ctx=ctx, stage="judge", logical_key=f"k{i}", attempt=1, provider=p, request_hash=f"h{i}", prompt_version="v",
                started_at=datetime.now(timezone.utc), duration_s=0.5, response_model=p.model, input_tokens=1000,
                output_tokens=200, usage=UsageDetails(cache_read_input_tokens=400, reasoning_output_tokens=50),
            ))
        w.append("llm_calls", records)
    return out


def invoke(*args, columns: int | None = 80):
    env = {"TRAWL_OUTPUT": None, "COLUMNS": str(columns) if columns else None}
    return CliRunner(env=env).invoke(app, list(args))


@pytest.mark.parametrize("columns", [80, None])  # None: CliRunner's output is a pipe, not a terminal
def test_llm_stats_shows_provider_and_model_whole(stats_output, columns):
    result = invoke("llm-stats", "--output", str(stats_output), columns=columns)
    assert result.exit_code == 0, result.output
    for p in PROVIDERS:
        assert p.name in result.output and p.model in result.output
    assert "…" not in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "left out at width 80" in result.output  # the narrow table says what it dropped


def test_llm_stats_wide_terminal_shows_every_column(stats_output):
    result = invoke("llm-stats", "--output", str(stats_output), columns=250)
    assert result.exit_code == 0, result.output
    assert "cached in" in result.output and "reasoning" in result.output and "left out" not in result.output


def test_llm_stats_csv_and_json_parse_with_usage_details_and_unknown_cost(stats_output):
    as_csv = invoke("llm-stats", "--output", str(stats_output), "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    rows = {r["provider"]: r for r in csv.DictReader(io.StringIO(as_csv.output))}
    assert rows["primary-openrouter"]["model"] == PROVIDERS[0].model
    assert int(rows["primary-openrouter"]["cached_input_tokens"]) == 1200
    assert int(rows["primary-openrouter"]["reasoning_tokens"]) == 150
    assert rows["backup-selfhosted-vllm"]["cost_usd"] == ""  # unknown price: empty, not 0
    as_json = invoke("llm-stats", "--output", str(stats_output), "--format", "json")
    data = {r["provider"]: r for r in json.loads(as_json.output)}
    assert data["backup-selfhosted-vllm"]["cost_usd"] is None and data["backup-selfhosted-vllm"]["unpriced_calls"] == 3
    # config prices, cached input at the input price (no cached price configured), reasoning at the output price
    assert data["primary-openrouter"]["cost_usd"] == pytest.approx(3 * (1000 * 0.1 + 200 * 0.3) / 1e6)


def test_jobs_keeps_ids_whole_at_80_columns_and_has_csv_json(tmp_path):
    out = write_demo(tmp_path / "data")
    with StoreWriter(out) as w:
        w.append("jobs", [job_record(job_id="quarterly-competitor-landscape-0123456789", name="quarterly competitor landscape")])
    table = invoke("jobs", "-o", str(out))
    assert table.exit_code == 0, table.output
    assert "quarterly-competitor-landscape-0123456789" in table.output and "demo-abc" in table.output
    assert max(len(line) for line in table.output.splitlines()) <= 80
    rows = list(csv.DictReader(io.StringIO(invoke("jobs", "-o", str(out), "--format", "csv").output)))
    assert {r["job_id"] for r in rows} == {"demo-abc", "quarterly-competitor-landscape-0123456789"}
    data = json.loads(invoke("jobs", "-o", str(out), "--format", "json").output)
    assert len(data) == 2 and {r["status"] for r in data} == {"done"} and all(r["counts"] is not None for r in data)
