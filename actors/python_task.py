"""``kind: python`` cells run as Ray tasks: a user's function never runs in the driver.

A thin shell over :func:`pipelines.tasks.python_kind.call_function`, which
never raises, so only plain values cross the boundary. ``max_retries`` only
covers a lost worker or node (Ray does not retry application exceptions
unless ``retry_exceptions`` is set: https://docs.ray.io/en/latest/ray-core/fault_tolerance/tasks.html).
``RayServices.run_python`` submits it, named ``trawl.python[module:function@version]``.
"""

from __future__ import annotations

import ray

from pipelines.tasks.python_kind import call_function

__all__ = ["run_python_task"]


@ray.remote(num_cpus=1, max_retries=3)
def run_python_task(target: str, kwargs: dict[str, str]) -> tuple[str, object]:
    return call_function(target, kwargs)

