"""`trawl estimate`: a job's LLM bill and shortest duration, planned and from recorded averages, without running it."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cluster.cli import app
from pipelines.llm.config import LLMSettings, ProviderConfig
from pipelines.llm.estimate import estimate_job
from pipelines.llm.records import call_record
from pipelines.llm.stats import recorded_stage_averages
from pipelines.llm.types import CallContext
from pipelines.llm.usage import UsageDetails
from pipelines.spec import parse_job
from pipelines.store.writer import StoreWriter

OPENAI = {"name": "openai", "base_url": "https://api.openai.com/v1", "model": "gpt-4o-mini", "rpm": 5000, "tpm": 2_000_000,
          "price_input_per_m": 0.15, "price_output_per_m": 0.6}
BACKUP = {"name": "backup", "base_url": "http://127.0.0.1:9/v1", "model": "big-model", "price_input_per_m": 3.0, "price_output_per_m": 15.0}


def spec(rows: int, columns: int, **extra) -> dict:
    return {
        "name": "big",
        "key": "company",
        "rows": [{"company": f"Company {i}", "domain": f"c{i}.example"} for i in range(rows)],
        "columns": {f"q{i}": {"question": f"What is fact {i} about {{company}}?"} for i in range(columns)},
        "llm": {"providers": [OPENAI, BACKUP], "chains": {"default": ["openai", "backup"]}},
        **extra,
    }


class OnlyLenAndFirst(list):
    """Rows that fail the test if anything but len() and rows[0] is used: the estimate must not walk the cells."""

    def __iter__(self):
        raise AssertionError("the estimate iterated over the rows")

    def __getitem__(self, index):
        if index != 0:
            raise AssertionError(f"the estimate read row {index}")
        return super().__getitem__(0)


@pytest.fixture(scope="module")
def big_job():
    job = parse_job(spec(10_000, 20))
    job.rows = OnlyLenAndFirst(list.__iter__(job.rows))
    return job


def test_10000_by_20_job_is_estimated_per_column_not_per_cell(big_job):
    est = estimate_job(big_job)
    stages = {s.stage: s for s in est.stages}
    assert est.cells == 200_000
    assert (stages["expand"].calls, stages["judge"].calls, stages["summarize"].calls) == (200_000, 200_000 * 12, 200_000)
    one_row = estimate_job(parse_job(spec(1, 20)))
    for stage, small in zip(est.stages, one_row.stages):  # every row costs what the first one does
        assert stage.input_tokens == pytest.approx(10_000 * small.input_tokens, rel=1e-6)
        assert stage.output_tokens == 10_000 * small.output_tokens
    # cost at the first provider's prices; if every call fell back, at the backup's
    assert est.cost_usd == pytest.approx((est.input_tokens * 0.15 + est.output_tokens * 0.6) / 1e6, rel=1e-6)
    assert est.max_cost_usd == pytest.approx((est.input_tokens * 3.0 + est.output_tokens * 15.0) / 1e6, rel=1e-6)
    # the shortest time: every call goes to 'openai', bound by the tighter of its rpm and tpm windows
    tokens = est.input_tokens + est.output_tokens
    assert est.min_duration_s == pytest.approx(60 * max(est.calls / 5000, tokens / 2_000_000), rel=1e-6)
    assert est.unpriced == [] and est.budget_problems == []


def test_judge_prompt_size_follows_the_research_settings():
    small = {s.stage: s for s in estimate_job(parse_job(spec(10, 2))).stages}
    bigger = {s.stage: s for s in estimate_job(parse_job(spec(10, 2, research={"chunks_per_page": 6}))).stages}
    per_call = lambda s: s.input_tokens / s.calls  # noqa: E731
    assert per_call(bigger["judge"]) - per_call(small["judge"]) == pytest.approx(3 * 800 / 4, abs=25)  # 3 more chunks of 800 chars
    assert per_call(bigger["expand"]) == per_call(small["expand"])


def test_budgets_the_estimate_breaks_are_reported():
    est = estimate_job(parse_job(spec(100, 5, budget={"max_total_tokens": 1000, "max_cost_usd": 0.01})))
    assert any("max_total_tokens" in p for p in est.budget_problems)
    assert any("exceeds budget.max_cost_usd" in p for p in est.budget_problems)
    unpriced = spec(10, 1, budget={"max_cost_usd": 100.0})
    unpriced["llm"] = {"providers": [{"name": "vllm", "base_url": "http://127.0.0.1:9/v1", "model": "my-finetune"}]}
    est = estimate_job(parse_job(unpriced))
    assert est.cost_usd is None and est.unpriced == ["vllm"] and est.min_duration_s is None
    assert any("refuse to start" in p for p in est.budget_problems)


def _record(job_id, stage, row, i, *, input_tokens=0, output_tokens=0, cached=None, error=None, hit=False):
    p = ProviderConfig(**OPENAI)
    return call_record(
        ctx=CallContext(job_id, row, "q0"), stage=stage, logical_key=f"{row}{i}", attempt=1, provider=p, request_hash=f"h{row}{i}",
        prompt_version="v", started_at=datetime.now(timezone.utc), duration_s=0.1, input_tokens=input_tokens,
        output_tokens=output_tokens, error_type=error, cache_hit=hit,
        usage=UsageDetails(cache_read_input_tokens=cached),
    )


def test_recorded_averages_replace_the_planned_figures(tmp_path):
    job = parse_job(spec(10, 1))
    out = tmp_path / "out"
    with StoreWriter(out) as w:  # two judged cells: 3 answered calls + 1 failed attempt; 2 expand calls
        w.append("llm_calls", [
            _record(job.job_id, "judge", "a", 0, input_tokens=1000, output_tokens=100, cached=500),
            _record(job.job_id, "judge", "a", 1, input_tokens=2000, output_tokens=200, cached=500),
            _record(job.job_id, "judge", "a", 2, error="http_500"),
            _record(job.job_id, "judge", "b", 0, input_tokens=3000, output_tokens=300, cached=500),
            _record(job.job_id, "expand", "a", 9, input_tokens=50, output_tokens=40),
            _record(job.job_id, "expand", "b", 9, hit=True),
        ])
    recorded, source = recorded_stage_averages(out, job.job_id)
    assert source == job.job_id and set(recorded) == {"judge", "expand"}
    judge = recorded["judge"]
    assert (judge.calls_per_cell, judge.input_tokens, judge.output_tokens, judge.cached_input_tokens) == (2.0, 2000.0, 200.0, 500.0)
    assert recorded["expand"].calls_per_cell == 1.0  # the cache hit counts: a fresh run asks it
    settings = LLMSettings(providers=[ProviderConfig(**OPENAI, price_cached_input_per_m=0.075)])
    est = {s.stage: s for s in estimate_job(job, settings, recorded=recorded).stages}
    assert (est["judge"].calls, est["judge"].input_tokens, est["judge"].cached_input_tokens) == (20, 40_000, 10_000)
    assert est["judge"].basis == "recorded (4 calls)" and est["summarize"].basis == "planned"
    assert est["judge"].cost_usd == pytest.approx((30_000 * 0.15 + 10_000 * 0.075 + 4_000 * 0.6) / 1e6)  # cache reads at half
    other, source = recorded_stage_averages(out, "another-job")
    assert source is None and other["judge"] == judge  # no records of its own: the folder's averages


def invoke(*args, columns=80):
    return CliRunner(env={"COLUMNS": str(columns), "TRAWL_OUTPUT": None, "TRAWL_PROVIDERS": None}).invoke(app, list(args))


def test_cli_estimate_table_and_json(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec(200, 3, budget={"max_cost_usd": 0.01})))
    table = invoke("estimate", str(path), "-o", str(tmp_path / "none"))
    assert table.exit_code == 0, table.output
    assert "200 rows x 3 columns = 600 cells" in table.output and "planned" in table.output
    for stage in ("expand", "judge", "summarize", "total", "openai"):
        assert stage in table.output
    assert "shortest duration the rate limits allow:" in table.output and "budget: estimated cost" in table.output
    assert max(len(line) for line in table.output.splitlines()) <= 80
    data = json.loads(invoke("estimate", str(path), "-o", str(tmp_path / "none"), "--format", "json").output)
    assert data["cells"] == 600 and [s["stage"] for s in data["stages"]] == ["expand", "judge", "summarize"]
    assert data["recorded_from"] is None and data["budget_problems"]
    csv_out = invoke("estimate", str(path), "-o", str(tmp_path / "none"), "--format", "csv").output
    assert csv_out.splitlines()[0].startswith("stage,calls,input_tokens")
    assert invoke("estimate", str(tmp_path / "missing.yaml")).exit_code == 1


def test_column_kinds_plan_only_the_calls_they_make():
    """A rule or python column makes no LLM call, a page column no expand, an llm column one transform call."""
    from pipelines.spec import load_job

    job = load_job(Path(__file__).resolve().parents[1] / "examples" / "kinds.yaml")
    est = estimate_job(job)
    by_stage = {s.stage: s.calls for s in est.stages}
    rows = len(job.rows)
    kinds = [c.kind for c in job.columns.values()]
    assert by_stage["expand"] == rows * kinds.count("research")
    assert by_stage["transform"] == rows * kinds.count("llm")
    assert by_stage["summarize"] == rows * (kinds.count("research") + kinds.count("page"))
