"""Shared fixtures are plugins in tests/fixtures_*.py, one per component; the one Ray fixture lives here."""

import glob
import os

import pytest

pytest_plugins = sorted(
    f"tests.{os.path.basename(p)[:-3]}" for p in glob.glob(os.path.join(os.path.dirname(__file__), "fixtures_*.py"))
)


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray per test module that asks for it: 2 CPUs, no dashboard, namespace "trawl".

    ``address="local"`` starts a new instance even when a `ray start` cluster
    runs on this machine (plain ``ray.init()`` would join it). Module scope:
    each module gets a fresh Ray (a test that kills actors leaves nothing
    behind for the next module), and modules that build their own cluster
    (``ray.cluster_utils.Cluster``) are free to do so.
    """
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, namespace="trawl", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_reliability(ray_local):
    """The reliability tests' name for ``ray_local`` (kept so their files need no change)."""
    yield
