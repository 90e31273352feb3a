"""docs/task-kinds.md and the README's kinds section cannot drift: every kind, key and example is real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cluster.cli import app
from pipelines import tasks
from pipelines.errors import SpecError
from pipelines.spec import parse_job
from pipelines.spec_builders import COLUMN_KEYS
from tests.test_tasks_registry import PROVIDERS

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "task-kinds.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
BUILT_IN = ("research", "page", "llm", "rule", "python")


def test_every_kind_and_each_of_its_keys_is_documented():
    assert set(BUILT_IN) <= set(tasks.kind_names())
    for name in BUILT_IN:
        assert f"\n## {name}\n" in DOC and f"`{name}`" in README
        for key in tasks.get_kind(name).fields:
            assert f"`{key}`" in DOC, f"document {name}'s key {key!r}"
    for key in (*COLUMN_KEYS, *tasks.SourcePolicy.model_fields):
        assert f"`{key}`" in DOC, key


def _yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


def _parses_as_columns(columns: dict) -> None:
    """Parse ``columns`` in a job whose rows hold every name the columns use but do not define."""
    fields = {"company": "Acme", "domain": "acme.example"}
    for _ in range(10):
        try:
            parse_job({"name": "doc", "key": "company", "rows": [fields], "columns": columns, **PROVIDERS})
            return
        except SpecError as err:
            missing = {m.group(1) for p in err.problems if (m := re.match(r"unknown name '(\w+)'", p.message))}
            if not missing or len(missing) != len(err.problems):
                raise
            fields.update({name: "x" for name in missing})
    raise AssertionError("did not converge")


@pytest.mark.parametrize("block", _yaml_blocks(DOC) + [b for b in _yaml_blocks(README) if "kind:" in b])
def test_every_yaml_example_is_a_valid_column(block):
    data = yaml.safe_load(block)
    _parses_as_columns(data.get("columns", data))


def test_the_documented_validate_summary_is_real_output():
    result = CliRunner().invoke(app, ["validate", str(ROOT / "examples" / "kinds.yaml")])
    assert result.exit_code == 0, result.output
    shown = DOC.split("$ trawl validate examples/kinds.yaml\n...\n", 1)[1].split("```", 1)[0]
    assert shown in result.output
