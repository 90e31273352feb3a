"""What a newcomer needs to use the Ray dashboard with trawl: a named job, how to get in, where the metrics go.

- ``job_config(job_id)``: the ``ray.job_config.JobConfig`` a driver connects
  with, so the dashboard's Jobs view shows the trawl job's id in its "Name"
  column. That column reads the job's ``job_name`` metadata (the key Ray's
  job submission sets too: ``ray.dashboard.modules.job.common.JOB_NAME_METADATA_KEY``);
  for a driver started by ``ray.init``, the metadata is ``JobConfig.metadata``
  (https://docs.ray.io/en/latest/ray-core/api/doc/ray.job_config.JobConfig.html).
- ``auth_hint()``: how to get past "Authentication Token Required". Ray
  2.52+ has token authentication; Ray 2.60 turns it on for a new local
  ``ray.init`` when ``RAY_AUTH_MODE`` is unset, and keeps the token in
  ``~/.ray/auth_token``; ``ray get-auth-token`` prints it
  (https://docs.ray.io/en/latest/ray-security/token-auth.html). The
  dashboard takes it in its login form (it then sets a cookie); there is
  no URL form that carries the token.

Attaching Prometheus and Grafana so the Metrics view shows charts:
docs/monitoring.md.
"""

from __future__ import annotations

import logging
import os

from ray.job_config import JobConfig

__all__ = ["job_config", "auth_hint", "token_auth_on", "dashboard_lines"]

logger = logging.getLogger(__name__)

JOB_NAME_KEY = "job_name"  # what the Jobs view shows as "Name"


def job_config(job_id: str, **metadata: str) -> JobConfig:
    """A JobConfig whose metadata names the Ray job after the trawl job (``job_name``, ``trawl_job_id``)."""
    return JobConfig(metadata={JOB_NAME_KEY: job_id, "trawl_job_id": job_id, **metadata})


def token_auth_on() -> bool:
    """True when this process's Ray uses token authentication (read after ``ray.init``, which sets RAY_AUTH_MODE)."""
    return os.environ.get("RAY_AUTH_MODE", "").strip().lower() == "token"


def auth_hint() -> str | None:
    """One line on getting into the dashboard when token auth is on, else None."""
    if not token_auth_on():
        return None
    return ("the dashboard asks for a token (Ray's token auth is on): paste the output of `ray get-auth-token` "
            "(kept in ~/.ray/auth_token) into its form")


def dashboard_lines(url: str | None, job_id: str) -> list[str]:
    """What to print under a run's results about its dashboard at ``url`` (nothing without one)."""
    if not url:
        return []
    lines = [f"  Ray job:   named {job_id} in the Jobs view ({url.rstrip('/')}/#/jobs); its actors and progress are "
             "live during the run (the actors show DEAD once the results print)"]
    if (hint := auth_hint()) is not None:
        lines.append(f"  sign-in:   {hint}")
    lines.append("  charts:    the Metrics view needs Prometheus and Grafana: see docs/monitoring.md")
    return lines
