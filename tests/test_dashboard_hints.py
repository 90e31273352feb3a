"""The dashboard hints a run prints: the Ray job's name, how to sign in when token auth is on, where charts come from."""

from __future__ import annotations

import pytest

from cluster.dashboard import auth_hint, dashboard_lines, job_config


def test_the_ray_job_is_named_after_the_trawl_job():
    config = job_config("demo-companies-55eff3d18e")
    assert config.metadata["job_name"] == "demo-companies-55eff3d18e"  # the Jobs view's "Name" column
    assert config.metadata["trawl_job_id"] == "demo-companies-55eff3d18e"


@pytest.mark.parametrize("mode, signs_in", [("token", True), ("disabled", False), (None, False)])
def test_sign_in_hint_only_when_token_auth_is_on(monkeypatch, mode, signs_in):
    if mode is None:
        monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    else:
        monkeypatch.setenv("RAY_AUTH_MODE", mode)
    assert (auth_hint() is not None) == signs_in
    lines = dashboard_lines("http://127.0.0.1:8265", "job-1")
    assert "http://127.0.0.1:8265/#/jobs" in lines[0] and "job-1" in lines[0] and "during the run" in lines[0]
    assert any("ray get-auth-token" in line for line in lines) == signs_in
    assert "docs/monitoring.md" in lines[-1]


def test_no_dashboard_no_hints():
    assert dashboard_lines(None, "job-1") == []


@pytest.mark.parametrize("mode", ["token", "disabled"])
def test_the_live_view_says_how_to_sign_in(monkeypatch, mode):
    from rich.console import Console

    from cluster.progress import ProgressView
    from pipelines.coordinator import Progress

    monkeypatch.setenv("RAY_AUTH_MODE", mode)
    console = Console(record=True, width=200)
    console.print(ProgressView(Progress(), "trawl run: job-1", console=console, dashboard_url="http://127.0.0.1:8265")._render())
    text = console.export_text()
    assert "dashboard: http://127.0.0.1:8265" in text
    assert ("ray get-auth-token" in text) == (mode == "token")
