"""The world's OpenAI-compatible server through the official openai client: answers, headers, faults."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request

import openai
import pytest

from pipelines.prompts import SourceForSummary, expand_messages, parse_keywords, parse_summary, summarize_messages
from pipelines.world.llm_server import LLMFaults, start_llm_server

CTX = {"company": "Acme Robotics", "domain": "acme-robotics.example"}


@pytest.fixture(scope="module")
def server():
    with start_llm_server(LLMFaults(), port=0) as srv:
        yield srv


@pytest.fixture
def client(server):
    server.set_faults(LLMFaults())
    return openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0, timeout=10)


def test_chat_completion_with_usage_and_rate_limit_headers(client):
    raw = client.chat.completions.with_raw_response.create(
        model="anything", messages=expand_messages("Who is the CEO of Acme Robotics?", CTX, 4))
    for name in ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
                 "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"):
        assert raw.headers.get(name), name
    reply = raw.parse()
    assert reply.model == "trawl-extractive"  # honest about what it is, whatever was asked for
    assert reply.usage.prompt_tokens > 50 and reply.usage.completion_tokens > 5
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    keywords = parse_keywords(reply.choices[0].message.content)
    assert len(keywords) == 4 and all("Acme Robotics" in k for k in keywords)
    assert [m.id for m in client.models.list()] == ["trawl-extractive"]


def test_async_client_and_streaming(server):
    asyncio.run(_async_client_and_streaming(server))


async def _async_client_and_streaming(server):
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local", max_retries=0)
    sources = [SourceForSummary("S1", "http://acme-robotics.example/team", "Team",
                                ["Anna Berg has led Acme Robotics as CEO since 2019."])]
    messages = summarize_messages("Who is the CEO of Acme Robotics?", CTX, "text", sources)
    reply = await client.chat.completions.create(model="m", messages=messages)
    summary = parse_summary(reply.choices[0].message.content)
    assert summary.answer == "Anna Berg" and summary.citations == ["S1"]
    stream = await client.chat.completions.create(model="m", messages=messages, stream=True,
                                                  stream_options={"include_usage": True})
    text, usage = "", None
    async for chunk in stream:
        text += "".join(c.delta.content or "" for c in chunk.choices)
        usage = chunk.usage or usage
    assert text == reply.choices[0].message.content and usage.completion_tokens > 0
    await client.close()


def test_injected_429_carries_retry_after_and_headers(server, client):
    server.set_faults(LLMFaults(rate_429=1.0, retry_after_s=3))
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    headers = err.value.response.headers
    assert headers["retry-after"] == "3" and headers["x-ratelimit-remaining-requests"] == "0"
    assert err.value.body["code"] == "rate_limit_exceeded"


def test_server_side_rpm_limit(server, client):
    server.set_faults(LLMFaults(rpm_limit=3))
    for _ in range(3):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert err.value.response.headers["x-ratelimit-limit-requests"] == "3"
    assert err.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert float(err.value.response.headers["retry-after"]) > 0


def test_500_timeout_malformed_truncated_and_bad_json(server, client):
    messages = expand_messages("Who is the CEO of Acme Robotics?", CTX, 4)
    server.set_faults(LLMFaults(rate_500=1.0))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=messages)
    server.set_faults(LLMFaults(rate_timeout=1.0, timeout_s=30))
    with pytest.raises(openai.APITimeoutError):  # the server hangs for 30 s; the client gives up at its own 0.5 s
        client.with_options(timeout=0.5).chat.completions.create(model="m", messages=messages)
    server.set_faults(LLMFaults(rate_malformed=1.0))
    content = client.chat.completions.create(model="m", messages=messages).choices[0].message.content
    assert "<k>" not in content
    server.set_faults(LLMFaults(rate_truncated=1.0))
    choice = client.chat.completions.create(model="m", messages=messages).choices[0]
    assert choice.finish_reason == "length" and "</keywords>" not in choice.message.content
    server.set_faults(LLMFaults(rate_bad_json=1.0))
    with pytest.raises((openai.APIResponseValidationError, ValueError)):
        client.chat.completions.create(model="m", messages=messages)
    assert {"500", "timeout", "malformed", "truncated", "bad_json"} <= set(server.stats())


def test_latency_per_call_and_per_token(server, client):
    server.set_faults(LLMFaults(latency_s=0.2, latency_per_token_s=0.01))
    before = server.stats().get("delay_ms", 0)
    reply = client.chat.completions.create(model="m", messages=expand_messages("Who is the CEO of Acme?", CTX, 2))
    assert server.stats()["delay_ms"] - before == round(1000 * (0.2 + 0.01 * reply.usage.completion_tokens))


def test_a_held_prompt_waits_until_the_gate_opens_and_others_pass(server, client):
    from concurrent.futures import ThreadPoolExecutor

    server.set_faults(LLMFaults(hold_prompts_with=["Acme Robotics"]))
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(client.chat.completions.create, model="m",
                           messages=expand_messages("Who is the CEO of Acme Robotics?", CTX, 2))
        while server.stats().get("held", 0) == 0:  # the call has reached the gate
            time.sleep(0.01)
        other = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Who runs Globex?"}])
        assert other.choices[0].message.content and not held.done()
        server.set_faults(LLMFaults(hold_prompts_with=["Initech"]))  # replaced, but the new gate does not match it
        assert "<keywords>" in held.result(timeout=10).choices[0].message.content


def test_failing_primary_and_healthy_fallback_side_by_side():
    with start_llm_server(LLMFaults(rate_500=1.0)) as primary, start_llm_server(LLMFaults()) as fallback:
        assert primary.port != fallback.port
        messages = [{"role": "user", "content": "hi"}]
        with pytest.raises(openai.InternalServerError):
            openai.OpenAI(base_url=primary.base_url, api_key="k", max_retries=0).chat.completions.create(model="m", messages=messages)
        ok = openai.OpenAI(base_url=fallback.base_url, api_key="k", max_retries=0).chat.completions.create(model="m", messages=messages)
        assert ok.choices[0].message.content
        primary.set_faults(LLMFaults())  # the primary recovers mid-run
        assert openai.OpenAI(base_url=primary.base_url, api_key="k").chat.completions.create(model="m", messages=messages)


def test_required_api_key_and_bad_requests():
    with start_llm_server(api_key="sekret") as srv:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=srv.base_url, api_key="wrong", max_retries=0).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}])
        assert openai.OpenAI(base_url=srv.base_url, api_key="sekret").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]).choices
        req = urllib.request.Request(f"{srv.base_url}/chat/completions", data=b"not json", method="POST",
                                     headers={"Authorization": "Bearer sekret"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 400
