"""Fetcher actors on a real local Ray: domain routing, restart after a kill, bodies via the object store."""

from __future__ import annotations

import time

import pytest
import ray

from actors.fetcher import FetcherPool, default_fetcher_count, fetcher_name, fetcher_nodes, shard_for
from pipelines.settings import FetchSettings
from tests.fixtures_fetch import local_fetch_settings


def _node(cpus: float, alive: bool = True) -> dict:
    return {"NodeID": f"n{cpus}{alive}", "Alive": alive, "Resources": {"CPU": cpus} if cpus else {}}


def test_default_fetcher_count_follows_the_cluster_cpus():
    assert default_fetcher_count([_node(2)]) == 2  # this machine's size: the minimum
    assert default_fetcher_count([_node(1)]) == 2
    assert default_fetcher_count([_node(8)]) == 4  # the old fixed default, now for an 8-core node
    assert default_fetcher_count([_node(0), _node(16), _node(16)]) == 16  # a head without CPUs adds none
    assert default_fetcher_count([_node(16), _node(64, alive=False)]) == 8  # a dead node adds none
    assert default_fetcher_count([]) == 2
    assert default_fetcher_count([{**_node(1.5), "NodeID": str(i)} for i in range(4)]) == 3  # 6 CPUs, in fractions


def test_fetchers_go_round_robin_over_the_nodes_with_cpus():
    head, a, b = {**_node(0), "NodeID": "head"}, {**_node(4), "NodeID": "a"}, {**_node(4), "NodeID": "b"}
    dead = {**_node(8, alive=False), "NodeID": "c"}
    assert fetcher_nodes([b, head, dead, a], 3) == ["a", "b", "a"]  # never the CPU-less head or a dead node
    assert fetcher_nodes([head], 2) == [None, None]  # no node with CPUs: Ray places them


def test_pool_starts_the_default_count_when_shards_is_unset(ray_local):
    settings = local_fetch_settings()
    assert settings.shards is None
    pool = FetcherPool(settings, page_store_dir=None, job_id="auto")
    try:
        assert len(pool.actors) == pool.shards == default_fetcher_count(ray.nodes()) == 2  # ray_local has 2 CPUs
    finally:
        pool.kill()


def test_pool_routes_by_domain(ray_local, fetch_server):
    pool = FetcherPool(local_fetch_settings(shards=3), page_store_dir=None, job_id="route")
    try:
        urls = [fetch_server.url(f"r{i}.example", f"/page/p{i}") for i in range(9)]
        urls += [fetch_server.url("www.r0.example", "/page/again")]
        results = ray.get([pool.fetch(u) for u in urls], timeout=60)
        for url, result in zip(urls, results):
            assert result.status == "ok", result
            assert result.fetcher == fetcher_name(shard_for(url, 3))
        assert results[-1].fetcher == results[0].fetcher  # same registrable domain, same fetcher
        names = {ray.get(a.ping.remote()) for a in pool.actors}
        assert names == {True}
    finally:
        pool.kill()


def test_two_pools_do_not_clash(ray_local):
    settings = local_fetch_settings(shards=2)
    first = FetcherPool(settings, page_store_dir=None, job_id="job-a")
    second = FetcherPool(settings, page_store_dir=None, job_id="job-b")
    try:
        assert ray.get([a.ping.remote() for a in first.actors + second.actors], timeout=60) == [True] * 4
        assert ray.get_actor("trawl.fetcher[1]", namespace=first.namespace)
    finally:
        first.kill()
        second.kill()


def test_body_goes_to_a_task_by_reference(ray_local, fetch_server):
    @ray.remote(num_cpus=0)
    def body_length(result):
        return result.status, len(result.body)

    pool = FetcherPool(local_fetch_settings(shards=1), page_store_dir=None, job_id="byref")
    try:
        ref = pool.fetch(fetch_server.url("ref.example", "/page/byref"))
        status, length = ray.get(body_length.remote(ref), timeout=60)
        assert status == "ok" and length > 50
    finally:
        pool.kill()


@pytest.mark.slow
def test_killed_fetcher_restarts_and_retried_fetch_succeeds(ray_local, fetch_server):
    pool = FetcherPool(local_fetch_settings(shards=2, total_timeout_s=10.0), page_store_dir=None, job_id="chaos")
    try:
        url = fetch_server.url("killme.example", "/slowpage/k?s=1.5")
        actor = pool.actor_for(url)
        assert ray.get(actor.ping.remote(), timeout=60)
        in_flight = pool.fetch(url)
        time.sleep(0.5)  # the request is on the wire
        ray.kill(actor, no_restart=False)
        result = ray.get(in_flight, timeout=120)  # max_task_retries re-sends it to the restarted actor
        assert result.status == "ok", result
        after = ray.get(pool.fetch(fetch_server.url("killme.example", "/page/after")), timeout=60)
        assert after.status == "ok"
    finally:
        pool.kill()


def test_pool_rejects_unusable_settings_before_starting_actors():
    from pipelines.errors import SpecError

    with pytest.raises(SpecError) as info:
        # settings that bypassed validation (model_construct) are still caught before any actor starts
        bad = FetchSettings.model_construct(**{**local_fetch_settings().model_dump(), "resolve": {"a.test": "not-an-ip"}})
        FetcherPool(bad, page_store_dir=None)
    assert "fetch.resolve['a.test']" in str(info.value)
