"""trawl's Grafana dashboard is valid JSON whose queries name only metrics (and labels) trawl exports."""

from __future__ import annotations

import json
import re

import pytest

from actors.metrics import EXPORTED, PREFIX
from cluster.grafana import DASHBOARD_JSON, attach_steps, install_dashboard

_METRIC = re.compile(r"\b(ray_trawl_[a-z_]+?)(_bucket|_count|_sum)?\b(?=[{\[)\s,])")
_BY = re.compile(r"by \(([^)]*)\)")
_HISTOGRAMS = {"trawl_stage_seconds", "trawl_llm_latency_seconds", "trawl_search_latency_seconds"}


def _targets(dash: dict) -> list[str]:
    return [t["expr"] for panel in dash["panels"] for t in panel["targets"]]


def test_the_dashboard_is_valid_json_with_a_query_in_every_panel():
    dash = json.loads(DASHBOARD_JSON.read_text(encoding="utf-8"))
    assert dash["uid"] and dash["title"] == "trawl"
    assert all(panel["targets"] for panel in dash["panels"])
    ids = [panel["id"] for panel in dash["panels"]]
    assert len(ids) == len(set(ids))


def test_queries_name_only_exported_metrics_and_their_labels():
    dash = json.loads(DASHBOARD_JSON.read_text(encoding="utf-8"))
    exprs = _targets(dash) + [dash["templating"]["list"][1]["definition"]]
    used = set()
    for expr in exprs:
        names = _METRIC.findall(expr)
        assert names, expr
        for full, suffix in names:
            name = full.removeprefix(PREFIX)
            assert name in EXPORTED, (name, expr)
            assert not suffix or name in _HISTOGRAMS, (full + suffix, expr)
            used.add(name)
            allowed = set(EXPORTED[name]) | {"le"}
            for group in _BY.findall(expr):
                assert {g.strip() for g in group.split(",")} <= allowed, (group, expr)
            for label in re.findall(r"(\w+)\s*[=!]~?\s*\"", expr):
                assert label in allowed, (label, expr)
    # cells, pages, stages, LLM latency/tokens/cost/failures, searches: every metric trawl exports is on a panel
    assert used == set(EXPORTED)


def test_install_puts_it_where_rays_grafana_provisioning_reads(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_METRICS_GRAFANA_DASHBOARD_OUTPUT_DIR", raising=False)
    session = tmp_path / "session_latest"
    with pytest.raises(FileNotFoundError):
        install_dashboard(session)
    (session / "metrics" / "grafana" / "dashboards").mkdir(parents=True)
    path = install_dashboard(session)
    assert path.parent == session / "metrics" / "grafana" / "dashboards"
    assert json.loads(path.read_text(encoding="utf-8"))["uid"] == "trawl-overview"
    steps = "\n".join(attach_steps(session))
    assert str(session / "metrics" / "prometheus" / "prometheus.yml") in steps
    assert str(session / "metrics" / "grafana" / "grafana.ini") in steps
