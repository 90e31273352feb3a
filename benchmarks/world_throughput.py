"""How fast is the local world on this machine? Pages/s served, searches/s, LLM calls/s.

Starts a world (real subprocesses on loopback, zero injected latency), then
drives each server with a bounded number of requests from one aiohttp
client at a fixed concurrency, and prints one JSON line per service plus a
summary. The client shares the machine's cores with the servers, so these are
lower bounds on what the world can serve — the point is to show the world is
not the bottleneck of a crawl whose fetches and LLM calls take real time.

    .venv/bin/python benchmarks/world_throughput.py --companies 50 --requests 3000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import urllib.parse

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipelines.prompts import PageForJudge, SourceForSummary, expand_messages, judge_messages, summarize_messages  # noqa: E402
from pipelines.world import WorldConfig, start_world  # noqa: E402

PAGE_PATHS = ("/", "/about", "/team", "/news", "/careers", "/contact", "/de/ueber-uns")


async def _drive(make_request, total: int, concurrency: int) -> dict:
    """Run ``total`` requests, ``concurrency`` at a time; returns rate and latency percentiles."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker() -> None:
            nonlocal errors
            for i in counter:
                started = time.perf_counter()
                try:
                    ok = await make_request(session, i)
                except aiohttp.ClientError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    pct = lambda p: round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)  # noqa: E731
    return {"requests": total, "errors": errors, "seconds": round(elapsed, 2), "per_second": round(total / elapsed, 1),
            "p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


def _llm_payloads(companies: list[dict]) -> list[bytes]:
    out = []
    for row in companies[:20]:
        ctx = {"company": row["company"], "domain": row["domain"]}
        question = f"Who is the CEO of {row['company']}?"
        chunk = (f"{row['company']} was founded in 2004. Anna Berg is the Chief Executive Officer of {row['company']} "
                 f"and has led the company as CEO since 2019. The office is in Hamburg. ") * 3
        page = PageForJudge("P1", f"http://{row['domain']}/team", "Leadership", [chunk, chunk[:400], chunk[:200]])
        source = SourceForSummary("S1", f"http://{row['domain']}/team", "Leadership",
                                  [f"Anna Berg is the Chief Executive Officer of {row['company']}."])
        for messages in (expand_messages(question, ctx, 4), judge_messages(question, ctx, page),
                         summarize_messages(question, ctx, "text", [source])):
            out.append(json.dumps({"model": "trawl-extractive", "messages": messages}).encode())
    return out


async def run(args: argparse.Namespace) -> dict:
    config = WorldConfig(companies=args.companies, seed=args.seed)
    with start_world(config) as world:
        rows = world.companies
        hosts = [r["domain"] for r in rows]

        async def page(session, i):
            host = hosts[i % len(hosts)]
            path = PAGE_PATHS[(i // len(hosts)) % len(PAGE_PATHS)]
            async with session.get(f"{world.site_base_url}{path}", headers={"Host": f"{host}:{world.site_port}"}) as r:
                await r.read()
                return r.status == 200

        async def search(session, i):
            row = rows[i % len(rows)]
            q = ("Who is the CEO of {}", "How many employees does {} have", "{} funding round")[i % 3].format(row["company"])
            url = f"{world.search_base_url}/search?{urllib.parse.urlencode({'q': q, 'format': 'json'})}"
            async with session.get(url) as r:
                return r.status == 200 and bool((await r.json())["results"])

        payloads = _llm_payloads(rows)

        async def llm(session, i):
            async with session.post(f"{world.llm_base_url}/chat/completions", data=payloads[i % len(payloads)],
                                    headers={"Content-Type": "application/json"}) as r:
                return r.status == 200 and bool((await r.json())["choices"])

        results = {}
        for name, fn, total in (("pages", page, args.requests), ("searches", search, args.requests // 3),
                                ("llm_calls", llm, args.requests // 3)):
            await _drive(fn, min(200, total), args.concurrency)  # warm-up: connections, caches
            results[name] = await _drive(fn, total, args.concurrency)
            print(json.dumps({"service": name, **results[name]}), flush=True)
    return {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "companies": args.companies, "concurrency": args.concurrency, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--requests", type=int, default=3000, help="Page requests; searches and LLM calls get a third each.")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    report = asyncio.run(run(args))
    r = report["results"]
    print(f"\nlocal world on {report['machine']['cpus']} CPUs, {args.companies} companies, concurrency {args.concurrency}:")
    for name, label in (("pages", "pages/s served"), ("searches", "searches/s"), ("llm_calls", "LLM calls/s")):
        print(f"  {label:<16} {r[name]['per_second']:>8}   p50 {r[name]['p50_ms']} ms  p95 {r[name]['p95_ms']} ms"
              f"  errors {r[name]['errors']}")


if __name__ == "__main__":
    main()
