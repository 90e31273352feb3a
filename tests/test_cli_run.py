"""`trawl run`, `trawl rerun` and `trawl resume` as a user types them, on the local world and a local Ray."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from cluster.cli import app
from pipelines.store.reader import read_table

pytestmark = pytest.mark.slow


@pytest.fixture()
def spec_file(world, tmp_path):
    spec = world.job_spec(output=str(tmp_path / "out"), name="cli-run")
    spec["rows"] = spec["rows"][:2]
    spec["columns"] = {k: spec["columns"][k] for k in ("ceo", "founded", "ceo_previous")}
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path, str(tmp_path / "out")


def _cells(output):
    return {(c["row_key"], c["column"]): c for c in read_table(output, "cells").to_pylist()}


def test_run_then_rerun_one_column_recomputes_it_and_its_dependents_only(ray_local, spec_file):
    path, output = spec_file
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "6 done of 6 cells" in result.output
    first = _cells(output)

    result = runner.invoke(app, ["rerun", "cli-run", "--cells", "column=ceo", "--output", output, "--quiet"])
    assert result.exit_code == 0, result.output
    second = _cells(output)
    changed = {cell for cell in second if second[cell]["run_id"] != first[cell]["run_id"]}
    assert changed == {(row, col) for row in {r for r, _ in first} for col in ("ceo", "ceo_previous")}
    assert all(c["status"] == "done" for c in second.values())
    assert len(read_table(output, "cells").to_pylist()) == 6  # keyed writes: no duplicates


def test_resume_of_a_finished_job_does_nothing(ray_local, spec_file):
    path, output = spec_file
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(path), "--quiet"]).exit_code == 0
    calls = read_table(output, "llm_calls").num_rows
    result = runner.invoke(app, ["resume", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert read_table(output, "llm_calls").num_rows == calls


def test_unknown_job_and_bad_selector_are_clean_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["resume", "no-such-job", "--output", str(tmp_path)])
    assert result.exit_code == 1 and "no job or spec file 'no-such-job'" in result.output
    result = runner.invoke(app, ["rerun", "x", "--cells", "colum=ceo", "--output", str(tmp_path)])
    assert result.exit_code == 1 and "bad cell selector" in result.output
    result = runner.invoke(app, ["rerun", "x", "--output", str(tmp_path)])
    assert result.exit_code == 1 and "--failed" in result.output


def test_run_reports_spec_problems_without_starting_ray(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nkey: company\nrows: [{company: A}]\ncolumns:\n  ceo: {question: 'Who runs {compny}?'}\n")
    result = CliRunner().invoke(app, ["run", str(bad)])
    assert result.exit_code == 1
    assert "columns.ceo.question" in result.output and "compny" in result.output
