"""benchmarks/realweb.py still runs, end to end, on a few pages (no timing is asserted: benchmarks are not tests)."""

from __future__ import annotations

import pytest

from benchmarks.realweb import find_realweb
from tests.test_benchmarks_smoke import _run

pytestmark = pytest.mark.slow


def test_realweb_benchmark_runs_at_tiny_size(tmp_path):
    if find_realweb() is None:
        pytest.skip("no shared/realweb beside the repository")
    data = _run("realweb", ["--limit", "4"], str(tmp_path))
    assert data["pages"] == 4 and set(data["runs"]) == {"trawl", "trafilatura"}
    assert all(r["ms_per_page"] > 0 and 0 <= r["recall"] <= 1 for r in data["runs"].values())
    assert data["summary"]["trawl_ms_over_trafilatura"] > 0 and data["why"]
