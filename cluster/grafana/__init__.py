"""trawl's Grafana dashboard, and installing it where Ray's Grafana integration loads dashboards.

Ray's dashboard writes, when it starts, a Grafana config under its session
folder (``<ray temp dir>/session_latest/metrics/grafana``): ``grafana.ini``,
a Prometheus data source, and a file provider that loads every dashboard JSON
in ``metrics/grafana/dashboards`` (or ``$RAY_METRICS_GRAFANA_DASHBOARD_OUTPUT_DIR``)
— https://docs.ray.io/en/latest/cluster/metrics.html. It rewrites that folder
at start-up, so trawl's dashboard is installed into a running Ray's session
(``trawl dashboard``); Grafana's file provider picks new files up by itself.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

__all__ = ["DASHBOARD_JSON", "session_dir", "dashboards_dir", "install_dashboard", "attach_steps"]

logger = logging.getLogger(__name__)

DASHBOARD_JSON = Path(__file__).with_name("trawl_grafana_dashboard.json")


def session_dir(ray_dir: str | None = None) -> Path:
    """The newest Ray session folder under ``ray_dir`` (default: $RAY_TMPDIR/ray, else /tmp/ray)."""
    root = ray_dir or os.path.join(os.environ.get("RAY_TMPDIR", "/tmp"), "ray")
    return Path(root) / "session_latest"


def dashboards_dir(session: Path) -> Path:
    """Where Ray's Grafana provisioning reads dashboards from, for ``session``."""
    override = os.environ.get("RAY_METRICS_GRAFANA_DASHBOARD_OUTPUT_DIR")
    return Path(override) if override else session / "metrics" / "grafana" / "dashboards"


def install_dashboard(session: Path) -> Path:
    """Copy trawl's dashboard next to Ray's own; returns the file written. Raises FileNotFoundError without a session."""
    target_dir = dashboards_dir(session)
    if not target_dir.is_dir():
        raise FileNotFoundError(f"no Ray Grafana dashboards folder at {target_dir}: is Ray (with its dashboard) running?")
    target = target_dir / DASHBOARD_JSON.name
    shutil.copyfile(DASHBOARD_JSON, target)
    return target


def attach_steps(session: Path) -> list[str]:
    """Shell commands that attach Prometheus and Grafana to the Ray of ``session`` (run each in its own terminal)."""
    metrics = session / "metrics"
    return [
        "# Prometheus (Debian: apt-get install prometheus), scraping every Ray node Ray lists for it:",
        f"prometheus --config.file={metrics / 'prometheus' / 'prometheus.yml'} --web.listen-address=127.0.0.1:9090 "
        "--storage.tsdb.path=/tmp/trawl-prometheus",
        "# Grafana (packages from grafana.com; Debian has none), with Ray's provisioning (data source + dashboards):",
        f"grafana server --config {metrics / 'grafana' / 'grafana.ini'} --homepath /usr/share/grafana web",
        "# The Ray dashboard embeds Grafana only if these were set when Ray started, e.g.:",
        "RAY_GRAFANA_HOST=http://127.0.0.1:3000 RAY_PROMETHEUS_HOST=http://127.0.0.1:9090 trawl demo --hold",
    ]
