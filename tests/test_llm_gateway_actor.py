"""The gateway actor: calls through Ray, records batched to a writer actor, trawl errors across the boundary."""

from __future__ import annotations

import pytest
import ray

from actors.llm_gateway import start_llm_gateway
from pipelines.errors import AuthError, BadRequestError
from pipelines.llm.types import CallContext, LLMRequest
from pipelines.store.schemas import SCHEMAS
from tests.fixtures_llm import error_body, provider, settings_for


@ray.remote(num_cpus=0)
class FakeWriter:
    def __init__(self) -> None:
        self.appended: list[tuple[str, list[dict]]] = []

    def append_many(self, batches: list[tuple[str, list[dict]]]) -> None:  # the WriterActor method the record sink calls
        self.appended.extend(batches)

    def records(self) -> list[tuple[str, list[dict]]]:
        return self.appended


def req(text: str) -> LLMRequest:
    return LLMRequest(stage="judge", messages=[{"role": "user", "content": text}], context=CallContext("job9", "r1", "c1"), prompt_version="v1")


def test_calls_through_the_actor_reach_the_writer_as_llm_calls(ray_local, llm_server, tmp_path):
    writer = FakeWriter.remote()
    gw = start_llm_gateway(settings_for(provider("main", llm_server.base_url)), budget=None, writer=writer, cache_dir=str(tmp_path))
    results = ray.get([gw.complete.remote(req(f"q{i % 5}")) for i in range(10)])
    assert {r.provider for r in results} == {"main"}
    ray.get(gw.flush.remote())
    appended = ray.get(writer.records.remote())
    assert {table for table, _ in appended} == {"llm_calls"}
    records = [r for _, batch in appended for r in batch]
    assert len(records) == 10 and all(set(r) == set(SCHEMAS["llm_calls"].names) for r in records)
    assert sum(not r["cache_hit"] for r in records) == len(llm_server.requests) == 5
    stats = ray.get(gw.stats.remote())
    assert stats["providers"][0]["calls"] == 10
    ray.get(gw.close.remote())


def test_trawl_errors_cross_the_actor_boundary(ray_local, llm_server, tmp_path):
    llm_server.responder = lambda body: (400, {}, error_body("unsupported parameter"))
    gw = start_llm_gateway(settings_for(provider("main", llm_server.base_url)), writer=None, cache_dir=str(tmp_path), name="trawl.llm_gateway.t2")
    with pytest.raises(BadRequestError) as info:
        ray.get(gw.complete.remote(req("x")))
    # Ray wraps it; the original (with its reason) is .cause -- as_instanceof_cause() keeps the type only
    assert info.value.cause.reason == "http_400" and "unsupported parameter" in str(info.value.cause)


def test_missing_key_fails_on_the_driver_before_the_actor_starts(ray_local, monkeypatch, tmp_path):
    monkeypatch.delenv("TRAWL_TEST_ABSENT_KEY", raising=False)
    with pytest.raises(AuthError, match="TRAWL_TEST_ABSENT_KEY"):
        start_llm_gateway(settings_for(provider("main", "http://127.0.0.1:9/v1", api_key_env="TRAWL_TEST_ABSENT_KEY")), cache_dir=str(tmp_path))
