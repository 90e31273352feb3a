"""One lint and type gate, inside the test suite so the README's test command (and .ci/run) runs it.

- ``ruff check .``: rules and exceptions in pyproject.toml ``[tool.ruff]``
  (pycodestyle, pyflakes, import order, bugbear, pyupgrade, logging, blind except).
- ``mypy``: ``pipelines/`` and ``actors/``, settings in ``[tool.mypy]``
  (not strict; untyped third-party libraries read as ``Any``; Ray is skipped).

Run it locally and fix what it finds:

    .venv/bin/ruff check . --fix      # sorts imports, upgrades syntax; then fix the rest by hand
    .venv/bin/mypy                    # files and options come from pyproject.toml
    .venv/bin/pytest tests/test_lint.py

A deliberate exception is marked where it happens, with its reason:
``# noqa: BLE001 - <why>`` or ``# type: ignore[<code>]  # <why>``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)  # the venv's bin/, where the test extra installed ruff and mypy


def _tool(name: str) -> str:
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        pytest.fail(f"{name} is not installed in {BIN}: pip install -e '.[test]'")
    return path


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    result = _run(_tool("ruff"), "check", ".", "--no-cache", "--output-format", "concise")
    assert result.returncode == 0, f"ruff check . (fix: .venv/bin/ruff check . --fix):\n{result.stdout}{result.stderr}"


def test_mypy_finds_nothing_in_pipelines_and_actors():
    result = _run(_tool("mypy"), "--no-error-summary")
    assert result.returncode == 0, f"mypy (settings in pyproject.toml):\n{result.stdout}{result.stderr}"
