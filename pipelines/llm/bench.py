"""How many calls per second one gateway (one process, one event loop) pushes through, and its CPU per call.

    python -m pipelines.llm.bench --calls 2000 --concurrency 100 --latency 0

Runs the local world's LLM server as a subprocess (on the same machine, so it
competes for the same cores) and sends distinct requests with the cache off.
The number that carries over to a cluster is the client CPU per call: one
gateway actor owns one core's worth of event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from pipelines.llm.config import LLMSettings, ProviderConfig
from pipelines.llm.gateway import Gateway
from pipelines.llm.types import CallContext, LLMRequest
from pipelines.world.llm_server import LLMFaults, start_llm_server

__all__ = ["run_bench"]


def run_bench(calls: int, concurrency: int, latency_s: float) -> dict:
    with start_llm_server(LLMFaults(latency_s=latency_s), port=0) as server:
        provider = ProviderConfig(name="world", base_url=server.base_url, model="trawl-extractive", max_concurrency=concurrency, timeout_s=300)
        records: list[dict] = []
        gateway = Gateway(LLMSettings(providers=[provider], cache=False), record_sink=records.extend)

        async def go() -> tuple[float, float]:
            gate = asyncio.Semaphore(concurrency)

            async def one(i: int):
                async with gate:
                    messages = [{"role": "user", "content": f"<task>judge</task><question>question {i}</question>"}]
                    return await gateway.complete(LLMRequest(stage="judge", messages=messages, context=CallContext("bench", str(i), "c")))

            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(calls)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            await gateway.aclose()
            return cpu, wall

        cpu, wall = asyncio.run(go())
    failed = sum(1 for r in records if r["error.type"])
    return {"calls": calls, "concurrency": concurrency, "latency_s": latency_s, "wall_s": round(wall, 2),
            "calls_per_s": round(calls / wall, 1), "client_cpu_ms_per_call": round(cpu / calls * 1000, 2), "failed_attempts": failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.0, help="Server-side latency per call, seconds.")
    args = parser.parse_args()
    print(run_bench(args.calls, args.concurrency, args.latency))


if __name__ == "__main__":
    main()
