"""RayServices: cache hits served on the driver; riding out a gateway, fetcher or worker that goes away.

A re-run of a job is almost all cache hits: they are answered from the
gateways' caches in the driver and recorded as the gateway would, without a
round trip to the actor.

What a user sees when a worker node dies mid-job: Ray's own task retries can
run out while the node's loss is still being detected and the actor rebuilt
elsewhere. The call must then be sent again, not fail the cell; and a page
whose fetcher or extraction task was lost is fetched again, not recorded as
failed. No Ray cluster is needed: the gateway, fetchers and batcher are
stand-ins that fail the way Ray reports such losses.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayTaskError

from actors.services import RayServices
from pipelines.coordinator import Progress
from pipelines.errors import RateLimitedError, UnavailableError
from pipelines.extract import ExtractedPage
from pipelines.llm.types import LLMRequest, LLMResult


class _Method:
    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def remote(self, *args):
        self.calls += 1
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]

        async def ref():
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome

        return ref()


class _Gateway:
    def __init__(self, *outcomes):
        self.complete = _Method(outcomes)


class _Fetchers:
    def __init__(self):
        self.calls = 0

    def fetch(self, url):
        self.calls += 1
        return f"ref-{self.calls}"


class _Batcher:
    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)

    async def extract(self, url, ref):
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class _Writer:
    class append_many:  # noqa: N801 - mirrors the actor method's name
        @staticmethod
        def remote(batches):
            return None


def _unavailable():
    return ActorUnavailableError("The actor is temporarily unavailable: RPC error: Socket closed", None)


def _services(*, llm=None, fetchers=None, batcher=None, **kw) -> RayServices:
    return RayServices(job_id="j", llm_gateway=llm, search_gateway=None, fetchers=fetchers or _Fetchers(),
                       writer=_Writer(), batcher=batcher, progress=Progress(), record_batch=10_000, **kw)


_REQ = LLMRequest(stage="judge", messages=[{"role": "user", "content": "q"}])
_OK = LLMResult(text="<answer>x</answer>", provider="p", model="m")


def test_an_llm_call_is_sent_again_while_the_gateway_is_away():
    gateway = _Gateway(_unavailable(), _unavailable(), _OK)
    services = _services(llm=gateway)
    assert asyncio.run(services.llm(_REQ)) == _OK
    assert gateway.complete.calls == 3
    assert services.progress.counters["actor_retries"] == 2


def test_a_gateway_gone_for_good_fails_the_call_with_a_reason_not_a_crash():
    gateway = _Gateway(_unavailable())
    services = _services(llm=gateway, actor_wait_s=0.6)
    with pytest.raises(UnavailableError) as info:
        asyncio.run(services.llm(_REQ))
    assert info.value.reason == "judge_actor_died"
    assert "unavailable for 0.6s" in str(info.value)
    assert 2 <= gateway.complete.calls <= 4  # a few tries inside the window, then it gives up


def test_a_gateway_whose_constructor_failed_fails_the_call_at_once_with_the_cause():
    never_built = ActorDiedError.from_task_error(RayTaskError("_LLMGatewayActor.__init__", "traceback", KeyError("OPENAI_API_KEY")))
    gateway = _Gateway(never_built)
    services = _services(llm=gateway, actor_wait_s=30)
    with pytest.raises(UnavailableError) as info:
        asyncio.run(services.llm(_REQ))
    assert info.value.reason == "judge_actor_died"
    assert "failed to start" in str(info.value) and "\x1b[" not in str(info.value)
    assert gateway.complete.calls == 1  # Ray will not restart it: no 30 s of re-sends


def test_a_provider_error_from_a_live_gateway_is_not_retried_here():
    cause = RateLimitedError("429 from provider", reason="http_429")
    gateway = _Gateway(RayTaskError("complete", "traceback", cause))
    services = _services(llm=gateway)
    with pytest.raises(RateLimitedError):
        asyncio.run(services.llm(_REQ))
    assert gateway.complete.calls == 1  # the gateway already did its own retries and fallback


def test_a_page_whose_fetcher_was_lost_is_fetched_again():
    page = ExtractedPage(url="http://a.test/", final_url="http://a.test/", status="ok", text="hello")
    fetchers = _Fetchers()
    services = _services(fetchers=fetchers, batcher=_Batcher(_unavailable(), page))
    got = asyncio.run(services.page("http://a.test/"))
    assert got.status == "ok" and got.text == "hello"
    assert fetchers.calls == 2
    assert services.progress.counters["actor_retries"] == 1
    assert services.progress.counters["pages_ok"] == 1 and not services.progress.counters["pages_failed"]


def test_a_fetcher_away_longer_than_the_page_attempts_is_waited_for():
    """A lost node takes seconds to be declared dead; its fetcher's calls fail fast meanwhile (Ray's own retries
    spent on "connection refused"). That costs the page time, not its attempts."""
    page = ExtractedPage(url="http://a.test/", final_url="http://a.test/", status="ok", text="hello")
    fetchers = _Fetchers()
    lost_fetch = RayTaskError("extract_batch", "traceback", _unavailable())  # the extraction task handed the lost fetch
    services = _services(fetchers=fetchers, batcher=_Batcher(_unavailable(), lost_fetch, _unavailable(), page),
                         page_attempts=2, actor_wait_s=30)
    services.away = dataclasses.replace(services.away, first_backoff_s=0.01, max_backoff_s=0.02)
    got = asyncio.run(services.page("http://a.test/"))
    assert got.status == "ok" and got.text == "hello"
    assert fetchers.calls == 4
    assert services.progress.counters["actor_retries"] == 3 and not services.progress.counters["page_retries"]


def test_a_fetcher_gone_for_good_ends_the_page_failed_with_the_reason():
    fetchers = _Fetchers()
    services = _services(fetchers=fetchers, batcher=_Batcher(_unavailable()), page_attempts=2, actor_wait_s=0.6)
    got = asyncio.run(services.page("http://a.test/"))
    assert got.status == "failed"
    assert got.reason.startswith("internal: ActorUnavailableError")
    assert 3 <= fetchers.calls <= 6  # a few tries inside the wait, then the page attempts
    assert services.progress.counters["pages_failed"] == 1


def test_a_fetcher_whose_constructor_failed_is_not_waited_for():
    """Ray does not restart an actor whose __init__ raised (max_restarts=-1 or not): its pages fail after their
    attempts, not after the whole away wait each (measured with a real Ray: 120 s per page)."""
    fetchers = _Fetchers()
    never_built = ActorDiedError.from_task_error(RayTaskError("FetcherActor.__init__", "traceback", OSError("no page store")))
    lost_fetch = RayTaskError("extract_batch", "traceback", never_built)
    services = _services(fetchers=fetchers, batcher=_Batcher(lost_fetch), page_attempts=2, actor_wait_s=30)
    got = asyncio.run(services.page("http://a.test/"))
    assert got.status == "failed"
    assert fetchers.calls == 2 and not services.progress.counters["actor_retries"]


class _RenderTier:
    def __init__(self, error):
        self.error = error
        self.calls = 0

    async def after_static(self, page, fetched):
        self.calls += 1
        raise self.error


def test_a_renderer_gone_for_good_is_not_waited_for_as_a_fetcher():
    """A renderer has one restart (max_restarts=1); once it is dead, the extraction of its render fails with
    a RayActorError cause like a lost fetch, but no wait brings it back: the page uses its attempts."""
    page = ExtractedPage(url="http://a.test/", final_url="http://a.test/", status="ok", text="hello")
    fetchers = _Fetchers()
    render = _RenderTier(RayTaskError("extract_batch", "traceback", ActorDiedError()))
    services = _services(fetchers=fetchers, batcher=_Batcher(page), page_attempts=2, actor_wait_s=30,
                         render_tier=render)
    got = asyncio.run(services.page("http://a.test/"))
    assert got.status == "failed"
    assert render.calls == 2 and not services.progress.counters["actor_retries"]


def test_a_page_whose_extraction_keeps_failing_ends_failed_after_its_attempts():
    fetchers = _Fetchers()
    crash = RayTaskError("extract_batch", "\x1b[36mray::extract[job=j, n=1]()\x1b[39m\n  File ...", RuntimeError("worker\ncrashed"))
    services = _services(fetchers=fetchers, batcher=_Batcher(crash), page_attempts=2)
    got = asyncio.run(services.page("http://a.test/"))
    assert got.status == "failed" and got.reason == "internal: RuntimeError: worker crashed", got.reason  # the cause, readable
    assert fetchers.calls == 2 and services.progress.counters["page_retries"] == 1


class _Reader:
    def __init__(self, answer):
        self.answer = answer
        self.asked = []

    def lookup(self, req):
        self.asked.append(req)
        return self.answer


class _SearchView:
    def __init__(self, answer):
        self.answer = answer

    def cached(self, req):
        return self.answer


def test_a_cache_hit_is_served_on_the_driver_and_recorded():
    gateway = _Gateway(_unavailable())  # a hop to it would fail the call
    record = {"call_id": "c1", "cache_hit": True}
    services = _services(llm=gateway, llm_cache=_Reader((_OK, record)))
    assert asyncio.run(services.llm(_REQ)) == _OK
    assert gateway.complete.calls == 0
    assert services.records.batcher.buffered("llm_calls") == [record]


def test_a_cache_miss_goes_to_the_gateway():
    gateway = _Gateway(_OK)
    reader = _Reader(None)
    services = _services(llm=gateway, llm_cache=reader)
    assert asyncio.run(services.llm(_REQ)) == _OK
    assert reader.asked == [_REQ] and gateway.complete.calls == 1
    assert not services.records.batcher.buffered("llm_calls")


def test_a_cached_search_is_served_on_the_driver_and_recorded():
    from pipelines.search.types import SearchHit, SearchRequest

    hits = [SearchHit(url="http://a.test/", title="A", snippet="", rank=1, provider="p")]
    records = [{"call_id": "s1", "cache_hit": True}]
    services = _services(search_cache=_SearchView((hits, records)))
    services.search_gateway = None  # a hop would raise AttributeError
    assert asyncio.run(services.search(SearchRequest(query="acme ceo"))) == hits
    assert services.records.batcher.buffered("search_calls") == records
