"""Submit a job to a Ray cluster through Ray's Job Submission API, and follow it.

``submit_job`` validates the spec here, on the submitter's machine (every
problem is listed before anything leaves it), then hands Ray a runtime_env
that carries everything the job needs:

- ``working_dir``: a staging folder with the spec as ``job.yaml`` and its
  ``rows_from`` file, so the spec's relative paths keep working on the head;
- ``py_modules``: this checkout's ``pipelines``, ``actors`` and ``cluster``
  packages (the cluster runs the code you submitted, not whatever version its
  image happens to hold; ``ship_code=False`` uses the installed one);
- ``pip`` (optional): the pinned dependencies of pyproject.toml, for a cluster
  that has only Ray installed.

The entrypoint is ``trawl run job.yaml --quiet`` on the head (the driver, and
with it the writer, stays there). The submission id reads
``trawl-<job_id>-<UTC time>``, and metadata (job name, id, output) shows up
in the dashboard's Jobs view.

Output: the job's files land where the *writer* runs (the head). A relative
``output`` would land in the runtime_env's temporary working_dir and be lost,
so submitting asks for an absolute path on the head, a path every node shares,
or object storage (``s3://bucket/prefix``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from pipelines.errors import TrawlError
from pipelines.spec import load_job

__all__ = ["Submission", "submission_id_for", "build_runtime_env", "submit_job", "job_status", "job_logs", "stop_job", "SPEC_NAME"]

SPEC_NAME = "job.yaml"
ROOT = Path(__file__).resolve().parent.parent
CODE_PACKAGES = ("pipelines", "actors", "cluster")
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


@dataclass(frozen=True)
class Submission:
    submission_id: str
    job_id: str
    name: str
    address: str
    output: str
    runtime_env: dict


def submission_id_for(job_id: str, now: datetime | None = None) -> str:
    """A readable, unique id: ``trawl-<job_id>-<YYYYmmddTHHMMSS>`` (UTC)."""
    now = now or datetime.now(timezone.utc)
    return f"trawl-{job_id}-{now:%Y%m%dT%H%M%S}"


def _is_uri(output: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", output))


def _checked_output(output: str) -> str:
    if _is_uri(output) or os.path.isabs(output):
        return output
    raise TrawlError(
        f"output {output!r} is relative: on a cluster it would land in a temporary folder of the head. "
        "Give --output an absolute path on the head (or a path every node shares) or a URI such as s3://bucket/prefix"
    )


def _pinned_requirements() -> list[str]:
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def build_runtime_env(spec_path: str | os.PathLike, staging: str | os.PathLike, *, output: str | None = None,
                      ship_code: bool = True, pip: bool = False, env_vars: dict[str, str] | None = None) -> tuple[dict, str]:
    """Stage the spec (and its rows file) in ``staging``; returns (runtime_env, output the job will write to)."""
    spec_path = Path(spec_path)
    load_job(str(spec_path))  # raises SpecError listing every problem, before anything is shipped
    raw = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    staging = Path(staging)
    staging.mkdir(parents=True, exist_ok=True)
    if raw.get("rows_from"):
        source = Path(raw["rows_from"])
        source = source if source.is_absolute() else spec_path.resolve().parent / source
        target = Path("rows") / source.name
        (staging / "rows").mkdir(exist_ok=True)
        shutil.copy2(source, staging / target)
        raw["rows_from"] = target.as_posix()
    raw["output"] = _checked_output(output or raw.get("output") or "./trawl-data")
    (staging / SPEC_NAME).write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    runtime_env: dict = {"working_dir": str(staging), "env_vars": dict(env_vars or {})}
    if ship_code:
        runtime_env["py_modules"] = [str(ROOT / package) for package in CODE_PACKAGES]
        runtime_env["excludes"] = ["__pycache__", "*.pyc"]
    if pip:
        runtime_env["pip"] = _pinned_requirements()
    return runtime_env, raw["output"]


def _client(address: str):
    from ray.job_submission import JobSubmissionClient

    for name in ("ray.dashboard.modules.dashboard_sdk", "ray._private.runtime_env.packaging"):
        logging.getLogger(name).setLevel(logging.WARNING)  # one INFO line per uploaded package is noise here
    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # noqa: BLE001 - connection refused, auth missing, not a Ray dashboard: one clean error
        raise TrawlError(f"cannot reach the Ray Jobs API at {address}: {_first_line(exc)}") from None


def submit_job(spec_path: str | os.PathLike, address: str, *, output: str | None = None, ship_code: bool = True,
               pip: bool = False, submission_id: str | None = None, entrypoint_args: list[str] | None = None) -> Submission:
    """Submit ``spec_path`` to the cluster at ``address`` (the dashboard URL, e.g. http://HEAD:8265)."""
    job = load_job(str(spec_path))
    client = _client(address)
    with tempfile.TemporaryDirectory(prefix="trawl-submit-") as staging:
        runtime_env, final_output = build_runtime_env(spec_path, staging, output=output, ship_code=ship_code, pip=pip)
        sid = submission_id or submission_id_for(job.job_id)
        entrypoint = " ".join(["trawl", "run", SPEC_NAME, "--quiet", *(entrypoint_args or [])])
        metadata = {"job_name": f"trawl {job.name}", "trawl_job_id": job.job_id, "trawl_output": final_output}
        try:  # the working_dir and py_modules are uploaded during this call, so the folder may go afterwards
            client.submit_job(entrypoint=entrypoint, submission_id=sid, runtime_env=runtime_env, metadata=metadata)
        except Exception as exc:  # noqa: BLE001 - Ray's client raises many types; the CLI shows one clean error
            raise TrawlError(f"submitting to {address} failed: {_first_line(exc)}") from None
    return Submission(sid, job.job_id, job.name, address, final_output, runtime_env)


def job_status(address: str, submission_id: str) -> dict:
    """Status, message, times and metadata of a submission."""
    client = _client(address)
    try:
        info = client.get_job_info(submission_id)
    except Exception as exc:  # noqa: BLE001 - converted to one clean error
        raise TrawlError(f"no submission {submission_id!r} at {address}: {_first_line(exc)}") from None
    return {
        "submission_id": info.submission_id,
        "status": str(info.status.value if hasattr(info.status, "value") else info.status),
        "message": info.message or "",
        "entrypoint": info.entrypoint,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "metadata": dict(info.metadata or {}),
        "driver_node_id": getattr(info, "driver_node_id", None),
    }


def job_logs(address: str, submission_id: str, *, follow: bool = False, poll_s: float = 1.0) -> Iterator[str]:
    """The driver's log; with ``follow``, new output as it comes until the job ends."""
    client = _client(address)
    try:
        if not follow:
            yield client.get_job_logs(submission_id)
            return
        seen = 0
        while True:  # polling keeps this a plain iterator; tail_job_logs needs an event loop and a websocket
            text = client.get_job_logs(submission_id)
            if len(text) > seen:
                yield text[seen:]
                seen = len(text)
            if str(client.get_job_status(submission_id).value) in TERMINAL:
                rest = client.get_job_logs(submission_id)
                if len(rest) > seen:
                    yield rest[seen:]
                return
            time.sleep(poll_s)
    except TrawlError:
        raise
    except Exception as exc:  # noqa: BLE001 - converted to one clean error
        raise TrawlError(f"cannot read logs of {submission_id!r} at {address}: {_first_line(exc)}") from None


def stop_job(address: str, submission_id: str) -> bool:
    try:
        return bool(_client(address).stop_job(submission_id))
    except TrawlError:
        raise
    except Exception as exc:  # noqa: BLE001 - converted to one clean error
        raise TrawlError(f"cannot stop {submission_id!r} at {address}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
