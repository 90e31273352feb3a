"""Gateway CPU per LLM call: trawl's provider client against the SDK's typed method, in the same run.

The LLM gateway was the largest CPU consumer of the scale benchmark (~6 ms per
call). This runs ``pipelines.llm.gateway.Gateway`` (no Ray, one process)
against the world's OpenAI-compatible server on loopback and measures the
gateway process's CPU time per call, for two provider clients:

- **sdk_create** (the baseline): ``chat.completions.with_raw_response.create``
  on one ``AsyncOpenAI`` client, which is how trawl called providers before;
- **httpx_post**: the SDK client's ``post("/chat/completions")`` with the
  exact body trawl builds anyway, over httpx's own transport and several SDK
  clients (connection pools of 8), as trawl had it until 2026-11-30;
- **trawl**: ``pipelines.llm.client.ProviderClient`` as it is now: the same
  ``post``, one SDK client on the SDK's aiohttp transport
  (``openai.DefaultAioHttpClient``);
- **aiohttp_direct** (a floor, not a candidate): the same body posted with a
  plain ``aiohttp.ClientSession`` and the reply read as trawl's client reads it
  (its deadline, headers hook, usage and reasoning fields), without the SDK;
  it has no retries, error classes or proxies, so it is a lower bound.
  The design brief names the openai SDK as the one LLM client, so this only
  measures what the SDK's request path costs per call.

Variants alternate, ``--repeats`` times each, and the median is reported
(this machine is shared). Judge-sized requests (3 chunks of ~600 characters);
the server's own CPU is in another process and not counted.

    .venv/bin/python benchmarks/gateway_cpu.py                     # ~1 min
    .venv/bin/python benchmarks/gateway_cpu.py --calls 300 --concurrency 32 --repeats 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import machine_info, markdown_table, write_results  # noqa: E402


def _sdk_create_client():
    """The baseline: the provider client as trawl had it (the SDK's typed create(), one client, one pool)."""
    import openai

    from pipelines.llm import client as c

    class SdkCreateClient(c.ProviderClient):
        def _new_sdk(self):
            return openai.AsyncOpenAI(api_key=self._key, base_url=self.provider.base_url, max_retries=0,
                                      timeout=self.provider.timeout_s)

        async def complete(self, body: dict) -> c.Reply:
            try:
                raw = await self._sdk().chat.completions.with_raw_response.create(**body)
            except (TimeoutError, openai.OpenAIError) as exc:
                raise c.convert_openai_error(exc, self.provider.name, self._key) from None
            self._on_headers({k.lower(): v for k, v in raw.headers.items()})
            completion = raw.parse()
            choice = completion.choices[0]
            return c.Reply(text=choice.message.content or "", response_model=completion.model or self.provider.model,
                           input_tokens=completion.usage.prompt_tokens, output_tokens=completion.usage.completion_tokens,
                           finish_reason=choice.finish_reason)

    return SdkCreateClient


def _httpx_post_client():
    """trawl's client before the aiohttp transport: ``post`` over httpx pools of 8 connections, used in turn."""
    import openai

    from pipelines.llm import client as c

    class HttpxPostClient(c.ProviderClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pool_clients: list = []
            self._next = -1

        def _sdk(self):
            pools = max(1, -(-self.provider.max_concurrency // 8))
            self._next = (self._next + 1) % pools
            if self._next >= len(self._pool_clients):
                self._pool_clients.append(openai.AsyncOpenAI(
                    base_url=self.provider.base_url, api_key=self._key, max_retries=0, timeout=self.provider.timeout_s,
                    http_client=openai.DefaultAsyncHttpxClient(verify=c._tls_context())))
            return self._pool_clients[self._next]

        async def aclose(self):
            for client in self._pool_clients:
                await client.close()

    return HttpxPostClient


def _aiohttp_direct_client():
    """A floor: the request without the SDK (no retries, error classes or proxies; success path only)."""
    import json

    import aiohttp

    from pipelines.llm import client as c
    from pipelines.llm.replies import read_message
    from pipelines.llm.usage import output_tokens_of, usage_details

    class AiohttpDirectClient(c.ProviderClient):
        _session: aiohttp.ClientSession | None = None

        async def complete(self, body: dict) -> c.Reply:
            # Everything trawl's client does on the success path (its deadline, the headers hook, the same
            # reading of the reply) except the SDK: the difference in CPU is the SDK's request path.
            if self._session is None:
                self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(self.provider.max_concurrency, 100)))
            url = self.provider.base_url.rstrip("/") + "/chat/completions"
            async with asyncio.timeout(self.provider.timeout_s + c.TIMEOUT_MARGIN_S):
                async with self._session.post(url, data=json.dumps(body), headers={
                        "Authorization": f"Bearer {self._key}", "Content-Type": "application/json"}) as response:
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    content = await response.read()
            self._on_headers(headers)
            data = json.loads(content)
            choice = data["choices"][0]
            parts = read_message(choice["message"], choice.get("finish_reason"))
            usage = data.get("usage") or {}
            model = data.get("model")
            return c.Reply(text=parts.text, response_model=model if isinstance(model, str) and model else self.provider.model,
                           input_tokens=int(usage["prompt_tokens"]), output_tokens=int(output_tokens_of(usage) or 0),
                           finish_reason=choice.get("finish_reason"), reasoning_chars=parts.reasoning_chars,
                           refusal=parts.refusal, usage=usage_details(usage))

        async def aclose(self) -> None:
            if self._session is not None:
                await self._session.close()

    return AiohttpDirectClient


def _requests(n: int, offset: int):
    from pipelines import prompts
    from pipelines.llm.types import CallContext, LLMRequest

    chunk = ("Wilvera Semiconductors was founded in 2004 in Tampere. Its chief executive, Aino Virtanen, "
             "joined from Nokia in 2016; the company employs about 1,200 people. ") * 4
    for i in range(offset, offset + n):
        page = prompts.PageForJudge("P", f"http://site{i}.example/about", "About us", [chunk, chunk[::-1], chunk.upper()])
        messages = prompts.judge_messages(f"Who is the CEO of company {i}?", {"company": f"Company {i}"}, page)
        yield LLMRequest(stage="judge", messages=messages, context=CallContext("bench", f"row{i}", "ceo"),
                         prompt_version=prompts.PROMPT_VERSION)


def _measure(variant: str, base_url: str, calls: int, concurrency: int, offset: int) -> dict:
    from pipelines.llm import client as c, gateway as g
    from pipelines.llm.config import LLMSettings, ProviderConfig

    provider = ProviderConfig(name="world", base_url=base_url, model="trawl-extractive", max_concurrency=max(concurrency, 8))
    settings = LLMSettings(providers=[provider], cache=True)
    original = g.ProviderClient
    g.ProviderClient = {"sdk_create": _sdk_create_client, "httpx_post": _httpx_post_client,
                          "aiohttp_direct": _aiohttp_direct_client}.get(variant, lambda: c.ProviderClient)()
    try:
        with tempfile.TemporaryDirectory() as cache_dir:
            gateway = g.Gateway(settings, record_sink=lambda records: None, cache_dir=cache_dir)

            async def go() -> tuple[float, float, int]:
                gate = asyncio.Semaphore(concurrency)

                async def one(req):
                    async with gate:
                        return await gateway.complete(req)

                await gateway.complete(next(_requests(1, offset - 1)))  # connections and imports warm
                cpu, wall = time.process_time(), time.perf_counter()
                results = await asyncio.gather(*(one(r) for r in _requests(calls, offset)), return_exceptions=True)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                await gateway.aclose()
                return cpu, wall, sum(isinstance(r, Exception) for r in results)

            cpu, wall, failed = asyncio.run(go())
    finally:
        g.ProviderClient = original
    return {"cpu_ms_per_call": round(cpu / calls * 1000, 3), "calls_per_s": round(calls / wall, 1), "failed": failed}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=200, help="calls in flight (the benchmarks' specs allow 256)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results-dir", default=None)
    args = parser.parse_args(argv)

    from pipelines.world.llm_server import LLMFaults, start_llm_server

    machine = machine_info()
    server = start_llm_server(LLMFaults(), port=0)
    samples: dict[str, list[dict]] = {"sdk_create": [], "httpx_post": [], "trawl": [], "aiohttp_direct": []}
    try:
        for r in range(args.repeats):
            for variant in samples:  # alternate, so load changes hit both
                offset = 1 + (r * 3 + list(samples).index(variant)) * 1_000_000  # distinct requests: no cache hit
                samples[variant].append(_measure(variant, server.base_url, args.calls, args.concurrency, offset))
    finally:
        server.stop()
    runs = {v: {"cpu_ms_per_call": statistics.median(s["cpu_ms_per_call"] for s in xs),
                "calls_per_s": statistics.median(s["calls_per_s"] for s in xs),
                "failed": sum(s["failed"] for s in xs), "samples": xs} for v, xs in samples.items()}
    ratio = round(runs["trawl"]["cpu_ms_per_call"] / runs["sdk_create"]["cpu_ms_per_call"], 3)
    over_httpx = round(runs["trawl"]["cpu_ms_per_call"] / runs["httpx_post"]["cpu_ms_per_call"], 3)
    # Paired by repeat (the two variants ran back to back), then the median: steadier than a difference of medians.
    sdk_ms = round(statistics.median(t["cpu_ms_per_call"] - a["cpu_ms_per_call"]
                                     for t, a in zip(samples["trawl"], samples["aiohttp_direct"], strict=True)), 3)
    data = {"benchmark": "gateway_cpu", "machine": machine, "calls": args.calls, "concurrency": args.concurrency,
            "repeats": args.repeats, "runs": runs,
            "summary": {"trawl_cpu_over_sdk_create": ratio, "trawl_cpu_over_httpx_post": over_httpx,
                        "sdk_request_path_cpu_ms_per_call": sdk_ms}}
    table = markdown_table(["client", "CPU ms per call (median)", "calls/s (median)", "failed calls"],
                           [[v, r["cpu_ms_per_call"], r["calls_per_s"], r["failed"]] for v, r in runs.items()])
    md = (f"{args.calls} judge-sized calls, {args.concurrency} in flight, {args.repeats} alternating repeats, "
          f"Gateway in one process against the world's LLM server on loopback.\n\n{table}\n\n"
          f"trawl's client: **{ratio}x** the baseline's CPU per call, {over_httpx}x httpx_post's. "
          f"The SDK's request path (trawl minus aiohttp_direct, median of the repeats' differences): **{sdk_ms} ms** "
          f"of CPU per call.\n")
    write_results("gateway_cpu", data, md, args.results_dir)
    print(md)
    return data


if __name__ == "__main__":
    main()
