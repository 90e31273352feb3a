"""The local world as a shared fixture: real site, search and LLM servers on loopback.

``world`` is session-scoped (5 companies, seed 7, zero latency): start-up is
about two seconds and every test that needs pages, search or an LLM shares it.
Tests that change faults must restore them (``world.set_faults(service, ...)``)
or start their own world with ``start_world``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    from pipelines.world import WorldConfig, start_world

    with start_world(WorldConfig(companies=5, seed=7), world_dir=tmp_path_factory.mktemp("world")) as w:
        yield w
