"""CLI: validate, query, export, jobs (typer CliRunner; the library does the work)."""

import json
import textwrap

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cluster.cli import app

GOOD = """\
    name: demo-companies
    key: company
    rows:
      - {company: "Acme Robotics", domain: "acme-robotics.example"}
      - {company: "Beta Foods", domain: "beta-foods.example"}
    columns:
      ceo: {question: "Who is the CEO of {company}?"}
      founded: {question: "In what year was {company} founded?", type: integer}
      ceo_previous:
        question: "Where did {ceo} work before joining {company}?"
        research: {keywords_per_cell: 2}
    """


@pytest.fixture
def runner():
    return CliRunner(env={"COLUMNS": "200", "TRAWL_OUTPUT": None})


def run(runner, *args):
    return runner.invoke(app, list(args))


def test_validate_good_spec_prints_the_dag_summary(runner, tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(textwrap.dedent(GOOD))
    result = run(runner, "validate", str(path))
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"{path}: OK" in out
    for expected in ("rows              2", "cells             6", "dependency depth  2", "planned fan-out   200", "kinds             research 3",
                     "ceo_previous  research  <- ceo"):
        assert expected in out, out


PRICED = """\
    llm:
      providers:
        - {name: mini, base_url: "https://api.openai.com/v1", model: gpt-4o-mini, rpm: 60}
    budget: {max_total_tokens: 1000}
    """


def test_validate_prints_the_planned_llm_estimate_and_broken_budgets(runner, tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(textwrap.dedent(GOOD) + textwrap.dedent(PRICED))
    out = run(runner, "validate", str(path)).output
    assert "llm estimate: 84 calls" in out and "at least" in out  # 6 cells x (1 expand + 12 judge + 1 summarize); rpm bounds
    assert "budget: estimated" in out and "max_total_tokens 1,000" in out
    path.write_text(textwrap.dedent(GOOD))  # no provider: validation still passes, the estimate says why not
    result = run(runner, "validate", str(path))
    assert result.exit_code == 0 and "llm estimate: unavailable (llm.providers: no LLM provider configured" in result.output


def test_validate_json_and_csv(runner, tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(textwrap.dedent(GOOD) + textwrap.dedent(PRICED))
    data = json.loads(run(runner, "validate", str(path), "--format", "json").output)
    assert data["cells"] == 6 and data["depends_on"] == {"ceo_previous": ["ceo"]}
    stages = {s["stage"]: s for s in data["llm_estimate"]["stages"]}
    assert stages["expand"]["calls"] == 6 and stages["judge"]["provider"] == "mini"
    assert data["llm_estimate"]["budget_problems"]
    rows = dict(line.split(",", 1) for line in run(runner, "validate", str(path), "--format", "csv").output.splitlines()[1:])
    assert rows["cells"] == "6" and rows["planned_fanout"] == "200"


def test_validate_bad_spec_lists_every_problem_and_exits_1(runner, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(GOOD).replace("{ceo} work", "{ce0} work").replace("integer", "year"))
    result = run(runner, "validate", str(path))
    assert result.exit_code == 1
    assert "2 problem(s)" in result.output
    assert "columns.ceo_previous.question: unknown name 'ce0' (known: company, domain, ceo, founded)" in result.output
    assert "columns.founded.type: must be one of" in result.output


def test_validate_missing_file(runner, tmp_path):
    result = run(runner, "validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1 and "file not found" in result.output


def test_query_prints_a_table_and_csv_and_json(runner, demo_output):
    result = run(runner, "query", "SELECT company, founded FROM results", "--output", str(demo_output))
    assert result.exit_code == 0, result.output
    assert "Acme Robotics" in result.output and "1999" in result.output and "(2 rows)" in result.output
    result = run(runner, "query", "SELECT company, products FROM results", "-o", str(demo_output), "--format", "csv")
    assert result.output.splitlines()[:2] == ['"company","products"', '"Acme Robotics","[""arms"", ""grippers""]"']
    result = run(runner, "query", "SELECT company, founded_on FROM results", "-o", str(demo_output), "--format", "json")
    assert json.loads(result.output) == [
        {"company": "Acme Robotics", "founded_on": "1999-03-04"}, {"company": "Beta Foods", "founded_on": None},
    ]


def test_query_to_parquet_file(runner, demo_output, tmp_path):
    out = tmp_path / "cells.parquet"
    result = run(runner, "query", "SELECT * FROM cells", "-o", str(demo_output), "-f", "parquet", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows == 12
    assert run(runner, "query", "SELECT 1", "-o", str(demo_output), "-f", "parquet").exit_code == 1


def test_query_refuses_writes_with_a_clean_message(runner, demo_output):
    result = run(runner, "query", "DELETE FROM cells", "-o", str(demo_output))
    assert result.exit_code == 1
    assert "error: trawl query is read-only: DELETE statements are not allowed" in result.output
    assert "Traceback" not in result.output


def test_export_by_name_in_every_format(runner, demo_output, tmp_path):
    result = run(runner, "export", "demo companies", "-o", str(demo_output), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert rows[0]["company"] == "Acme Robotics" and rows[0]["products"] == ["arms", "grippers"] and rows[1]["founded"] == 2004
    out = tmp_path / "r.parquet"
    assert run(runner, "export", "demo-abc", "-o", str(demo_output), "-f", "parquet", "--out", str(out)).exit_code == 0
    assert pq.read_table(out).column_names[:3] == ["company", "ceo", "founded"]
    out = tmp_path / "r.csv"
    assert run(runner, "export", "demo-abc", "-o", str(demo_output), "--out", str(out)).exit_code == 0
    assert out.read_text().startswith('"company","ceo","founded"')


def test_export_unknown_job(runner, demo_output):
    result = run(runner, "export", "nope", "-o", str(demo_output))
    assert result.exit_code == 1 and "no job 'nope'" in result.output and "demo-abc" in result.output


def test_jobs_lists_status_and_counts(runner, demo_output, tmp_path):
    result = run(runner, "jobs", "-o", str(demo_output))
    assert result.exit_code == 0, result.output
    assert "demo-abc" in result.output and "done 10" in result.output and "failed 1" in result.output
    assert "skipped 1" in result.output and "pending 2" in result.output
    assert run(runner, "jobs", "-o", str(tmp_path / "missing")).exit_code == 1


@pytest.mark.parametrize("command", ["validate", "query", "export", "jobs"])
def test_every_command_has_help_with_an_example(runner, command):
    result = run(runner, command, "--help")
    assert result.exit_code == 0 and "Example:" in result.output


def test_an_out_file_that_cannot_be_written_is_a_clean_error(tmp_path):
    """`--out` in a folder that does not exist, or naming a folder: one error line, exit 1, no traceback."""
    runner = CliRunner()
    for out in (tmp_path / "missing" / "x.csv", tmp_path):
        result = runner.invoke(app, ["query", "SELECT 1 AS a", "--format", "csv", "--out", str(out),
                                         "--output", str(tmp_path)])
        assert result.exit_code == 1, result.output
        assert "cannot write" in result.output and "Traceback" not in result.output


def test_rerun_names_unknown_columns_and_row_keys_before_starting_anything(tmp_path):
    """A typo in --cells would select nothing and rerun nothing: it is refused with the known names."""
    from pathlib import Path

    spec = str(Path(__file__).resolve().parents[1] / "examples" / "companies.yaml")
    runner = CliRunner()
    for selector, expected in (("column=ce0", "unknown column(s) ce0"), ("row=Nope", "unknown row key(s) 'Nope'")):
        result = runner.invoke(app, ["rerun", spec, "--cells", selector, "--output", str(tmp_path)])
        assert result.exit_code == 1 and expected in result.output, result.output
