"""Hostile and malformed job specs through `trawl validate` and `trawl run`: clear messages, no side effects.

The parsing rules are unit-tested in tests/test_spec.py; here every case goes
through the CLI as a user types it, and must exit 1 with a message naming
the problem, print no traceback, create no output folder, start no Ray, and
run nothing the spec smuggles in (YAML python tags).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest
import ray
import yaml
from typer.testing import CliRunner

from cluster.cli import app

GOOD = {
    "name": "hostile",
    "key": "company",
    "rows": [{"company": "Acme", "domain": "acme.example"}],
    "columns": {"ceo": {"question": "Who is the CEO of {company}?"}, "prev": {"question": "Where did {ceo} work before?"}},
    "output": "out",
}


def _with(**changes) -> str:
    spec = {**GOOD, **changes}
    return yaml.safe_dump({k: v for k, v in spec.items() if v is not None}, sort_keys=False)


def _bomb() -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    return "\n".join(lines) + "\n" + _with()


# name -> (spec text or bytes, words the message must hold)
CASES = {
    "alias bomb": (_bomb(), ["alias bomb"]),
    "recursive alias": ("name: x\nkey: company\nrows: &r [*r]\n", ["recursive"]),
    "huge file": ("name: x\n" + "#" * (11 * 1024 * 1024), ["larger than 10 MB"]),
    "python tag": (_with().replace("name: hostile", "name: !!python/object/apply:os.system ['touch PWNED']"),
                   ["invalid YAML"]),
    "binary garbage": (b"\xff\xfe\x00\x01\x80garbage\x00" * 100, ["cannot read spec"]),
    "not a mapping": ("- a\n- list\n", ["must be a mapping"]),
    "empty file": ("", ["spec is empty"]),
    "wrong types": (_with(rows="not a list", columns=5, research={"keywords_per_cell": "many"}),
                    ["rows", "columns", "research.keywords_per_cell"]),
    "cycle": (_with(columns={"a": {"question": "{b} of {company}?"}, "b": {"question": "{a} of {company}?"}}), ["cycle"]),
    "attribute access": (_with(columns={"ceo": {"question": "Who is {company.__class__}?"}}), ["plain name"]),
    "indexing": (_with(columns={"ceo": {"question": "Who is {company[0]}?"}}), ["plain name"]),
    "format spec": (_with(columns={"ceo": {"question": "Who is {company:>99999999}?"}}), ["format specs"]),
    "conversion": (_with(columns={"ceo": {"question": "Who is {company!r}?"}}), ["conversions"]),
    "positional": (_with(columns={"ceo": {"question": "Who is {0} {}?"}}), ["positional", "empty placeholder"]),
    "unknown key": (_with(reserch={"keywords_per_cell": 2}), ["reserch"]),
    "secret inline": (_with(llm={"providers": [{"name": "x", "base_url": "http://127.0.0.1:1/v1", "model": "m",
                                                "api_key": "sk-live-123456"}]}), ["api_key"]),
}


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(folder, content) -> str:
    path = folder / "job.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_spec_is_refused_by_validate_and_run_with_a_clear_message_and_no_side_effects(case, workdir):
    content, words = CASES[case]
    path = _write(workdir, content)
    before = sorted(os.listdir(workdir))
    runner = CliRunner()
    for command in (["validate", path], ["run", path, "--no-dashboard", "--quiet"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1, (command, result.output)
        text = result.output
        assert any(w in text for w in words), (case, command[0], text[-1500:])
        assert "Traceback" not in text, text
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "sk-live-123456" not in text  # a key pasted into a spec is refused, never echoed
    assert not ray.is_initialized(), "a bad spec started Ray"
    assert sorted(os.listdir(workdir)) == before, "a bad spec left files behind"


def test_dev_zero_is_not_read_forever(workdir):
    result = CliRunner().invoke(app, ["validate", "/dev/zero"])
    assert result.exit_code == 1 and "larger than 10 MB" in result.output


def test_trawl_run_in_a_subprocess_starts_no_ray_for_a_bad_spec(workdir):
    """The real console script: exits 1 before any Ray process or session folder exists."""
    path = _write(workdir, CASES["attribute access"][0])
    ray_tmp = tempfile.mkdtemp(prefix="trw-")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_TMPDIR"] = ray_tmp
    trawl = os.path.join(os.path.dirname(sys.executable), "trawl")
    done = subprocess.run([trawl, "run", path, "--no-dashboard"], env=env, cwd=workdir, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "columns.ceo.question" in done.stdout + done.stderr
    assert os.listdir(ray_tmp) == [], "Ray wrote a session folder"
    assert sorted(os.listdir(workdir)) == ["job.yaml"]
    os.rmdir(ray_tmp)
