"""One version string: the package metadata, `trawl --version` and the jobs table all say pipelines.version."""

from __future__ import annotations

import importlib.metadata

from typer.testing import CliRunner

from cluster.cli import app
from cluster.runner import TRAWL_VERSION
from pipelines.version import __version__


def test_metadata_cli_and_runner_report_the_same_version():
    assert importlib.metadata.version("trawl") == __version__  # pyproject reads it dynamically
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"trawl {__version__}"
    assert TRAWL_VERSION == __version__
