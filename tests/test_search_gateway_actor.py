"""The search gateway actor: searches through Ray, telemetry reaches the writer actor."""

import pytest
import ray

from actors.search_gateway import start_search_gateway
from pipelines.search.config import SearchProviderConfig, SearchSettings
from pipelines.search.types import SearchRequest

OK = {"results": [{"url": "https://acme.example/", "title": "Acme", "content": "CEO Jane", "score": 1.0}]}


@ray.remote(num_cpus=0)
class FakeWriter:
    def __init__(self):
        self.rows = []

    def append_many(self, batches):  # the WriterActor method the record sink calls
        for table, records in batches:
            self.rows.extend((table, r) for r in records)

    def get(self):
        return self.rows


def test_actor_searches_and_records_reach_the_writer(ray_local, search_replay, tmp_path):
    search_replay.default.json = OK
    search_replay.reply(503, text="down")
    writer = FakeWriter.remote()
    settings = SearchSettings(
        providers=[SearchProviderConfig(name="local", kind="searxng", base_url=search_replay.url)], backoff_base_s=0.01
    )
    gateway = start_search_gateway(settings, writer=writer, cache_dir=str(tmp_path), name="trawl.test_search_gateway")
    hits = ray.get(gateway.search.remote(SearchRequest("acme ceo", count=1, job_id="j", row_key="acme", column="ceo")))
    assert [h.url for h in hits] == ["https://acme.example/"]
    again = ray.get(gateway.search.remote(SearchRequest("acme ceo", count=1, job_id="j")))
    assert again == hits and len(search_replay.requests) == 2  # one 503, one answer, then the cache
    ray.get(gateway.flush.remote())
    rows = ray.get(writer.get.remote())
    assert {table for table, _ in rows} == {"search_calls"}
    assert [(r["error.type"], r["cache_hit"]) for _, r in rows] == [("http_503", False), (None, False), (None, True)]

    # starting again under the same name replaces the old actor
    replacement = start_search_gateway(settings, writer=None, cache_dir=str(tmp_path), name="trawl.test_search_gateway")
    assert ray.get(replacement.providers.remote()) == ["local"]
    ray.kill(replacement, no_restart=True)


def test_errors_cross_the_actor_boundary_as_trawl_errors(ray_local):
    from pipelines.errors import AuthError

    settings = SearchSettings(
        providers=[SearchProviderConfig(name="brave", kind="brave", api_key_env="TRAWL_TEST_UNSET_KEY_X")], cache=False
    )
    gateway = start_search_gateway(settings, writer=None, cache_dir=None, name="trawl.test_search_gateway_err")
    with pytest.raises(AuthError) as info:
        ray.get(gateway.search.remote(SearchRequest("acme")))
    assert "TRAWL_TEST_UNSET_KEY_X" in str(info.value)
    ray.kill(gateway, no_restart=True)
