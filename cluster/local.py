"""Where trawl runs: an embedded local Ray instance, or an existing cluster."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import ray

from cluster.dashboard import job_config

__all__ = ["Connection", "connect"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    mode: str  # "local" | "cluster" | "existing"
    address: str | None
    dashboard_url: str | None


def _dashboard_url() -> str | None:
    try:
        url = ray._private.worker.global_worker.node.address_info.get("webui_url")  # noqa: SLF001
    except Exception as exc:  # noqa: BLE001 - not every connection mode exposes it (e.g. Ray Client)
        logger.debug("no dashboard URL from this Ray connection: %r", exc)
        return None
    if url and not url.startswith("http"):
        url = f"http://{url}"
    return url or None


def connect(address: str | None = None, *, dashboard: bool = True, num_cpus: int | None = None,
            job_id: str | None = None) -> Connection:
    """Connect to ``address`` (or RAY_ADDRESS), else start a local Ray instance.

    An already initialized Ray (tests, notebooks, a job submitted to a
    cluster) is reused rather than replaced. ``job_id`` names the Ray job in
    the dashboard's Jobs view (``cluster.dashboard.job_config``).
    """
    if ray.is_initialized():
        return Connection("existing", None, _dashboard_url())
    address = address or os.environ.get("RAY_ADDRESS") or None
    common = dict(logging_level=logging.ERROR, log_to_driver=False, namespace="trawl",
                  job_config=job_config(job_id) if job_id else None)
    if address:
        ctx = ray.init(address=address, **common)
        return Connection("cluster", address, getattr(ctx, "dashboard_url", None) or _dashboard_url())
    # address="local": always our own instance. A bare ray.init() would attach to any Ray that
    # `ray start` left running on this machine, and die with it; use --address auto for that on purpose.
    ctx = ray.init(address="local", num_cpus=num_cpus, include_dashboard=dashboard, dashboard_host="127.0.0.1", **common)
    url = getattr(ctx, "dashboard_url", None)
    if url and not url.startswith("http"):
        url = f"http://{url}"
    return Connection("local", None, url if dashboard else None)
