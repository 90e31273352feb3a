"""CPU per fetched page of the Ray actor call that carries it: one call per page against batched forms.

A research worker sends each page to a fetcher actor as one Ray call today
(``actors/fetcher.FetcherPool.fetch``), and the page's body comes back in that
call's return value. This measures what that call costs in CPU, on the caller
(an async actor, as the research worker is) and on the callee (an async actor,
as the fetcher is), per page, for four shapes of the same work:

- **one_call_per_page** (trawl today): ``fetch.remote(url)``;
- **list_of_N**: one call for N URLs returning a list (one ObjectRef per call);
- **num_returns_N**: one call for N URLs with ``num_returns=N``, so that each
  page keeps an ObjectRef of its own (what the extraction batcher takes);
- **streaming_N**: a streaming generator (``num_returns="streaming"``) that
  yields each page as it is done (no page waits for the batch's slowest).

The callee does no fetching: it returns a 30 KB body at once, so the figures
are the two worker processes' cost per page (Ray's task plumbing on both
sides, serialization). Shapes alternate ``--repeats`` times; medians.

What it leaves out:
- the raylet's and the object store's CPU. Every page's own return object is
  under Ray's 100 KiB ``max_direct_call_object_size`` and goes back inline;
  **list_of_N**'s one list of N bodies (240 KB at N = 8) does not, so it goes
  through the object store, whose CPU is not counted: that shape is flattered;
- trawl's caller does not read a page's ref (it hands it to an extraction
  task); here the caller awaits every ref, so the caller's share is a stand-in;
- **streaming_N** yields to the loop once per page (``asyncio.sleep(0)``), as
  pages finishing one by one would.

    .venv/bin/python benchmarks/ray_call_cpu.py                  # ~1 min
    .venv/bin/python benchmarks/ray_call_cpu.py --pages 2000 --batch 4 --repeats 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import machine_info, markdown_table, start_ray, write_results  # noqa: E402

BODY_BYTES = 30_000  # about a world page's HTML


def _actors():
    import ray

    body = b"x" * BODY_BYTES

    def result(url: str) -> dict:
        return {"url": url, "status": "ok", "body": body}

    @ray.remote(num_cpus=0, max_concurrency=1000)
    class Callee:
        async def one(self, url):
            return result(url)

        async def many(self, urls):
            return [result(u) for u in urls]

        async def many_refs(self, urls):
            return tuple(result(u) for u in urls) if len(urls) > 1 else result(urls[0])

        async def stream(self, urls):
            for u in urls:
                await asyncio.sleep(0)
                yield result(u)

        def cpu(self) -> float:
            return time.process_time()

    @ray.remote(num_cpus=0, max_concurrency=1000)
    class Caller:
        def __init__(self, callee):
            self.callee = callee

        async def run(self, shape: str, pages: int, batch: int, in_flight: int) -> tuple[float, float]:
            urls = [f"http://site{i % 97}.example/page/{i}" for i in range(pages)]
            groups = [urls[i:i + batch] for i in range(0, pages, batch)] if shape != "one_call_per_page" else [[u] for u in urls]
            gate = asyncio.Semaphore(max(1, in_flight // max(1, len(groups[0]))))

            async def send(group):
                async with gate:
                    if shape == "one_call_per_page":
                        return [await self.callee.one.remote(group[0])]
                    if shape.startswith("list_of"):
                        return await self.callee.many.remote(group)
                    if shape.startswith("num_returns"):
                        refs = self.callee.many_refs.options(num_returns=len(group)).remote(group)
                        refs = refs if isinstance(refs, list) else [refs]
                        return [await r for r in refs]
                    return [await r async for r in self.callee.stream.options(num_returns="streaming").remote(group)]

            await send(groups[0])  # warm
            cpu_caller, cpu_callee = time.process_time(), await self.callee.cpu.remote()
            done = await asyncio.gather(*(send(g) for g in groups))
            cpu_caller, cpu_callee = time.process_time() - cpu_caller, await self.callee.cpu.remote() - cpu_callee
            assert sum(len(d) for d in done) == pages
            return cpu_caller / pages * 1000, cpu_callee / pages * 1000

    callee = Callee.remote()
    return Caller.remote(callee), callee


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=4000)
    parser.add_argument("--batch", type=int, action="append", default=None,
                        help="pages per call in the batched shapes (repeatable; default 5 and 8)")
    parser.add_argument("--in-flight", type=int, default=200, help="pages in flight at once")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results-dir", default=None)
    args = parser.parse_args(argv)

    import ray

    start_ray()
    machine = machine_info()
    caller, _callee = _actors()
    batches = args.batch or [5, 8]
    shapes = ["one_call_per_page"] + [f"{kind}_{b}" for b in batches for kind in ("list_of", "num_returns", "streaming")]
    samples: dict[str, list[tuple[float, float]]] = {s: [] for s in shapes}
    for _ in range(args.repeats):
        for shape in shapes:  # alternate, so load changes hit every shape
            size = int(shape.rsplit("_", 1)[1]) if shape != "one_call_per_page" else 1
            caller_ms, callee_ms = ray.get(caller.run.remote(shape, args.pages, size, args.in_flight))
            samples[shape].append((caller_ms, callee_ms))
    runs = {}
    for shape, xs in samples.items():
        runs[shape] = {"caller_cpu_ms_per_page": round(statistics.median(x[0] for x in xs), 3),
                       "callee_cpu_ms_per_page": round(statistics.median(x[1] for x in xs), 3),
                       "both_cpu_ms_per_page": round(statistics.median(x[0] + x[1] for x in xs), 3), "samples": xs}
    base = runs["one_call_per_page"]["both_cpu_ms_per_page"]
    data = {"benchmark": "ray_call_cpu", "machine": machine, "pages": args.pages, "batches": batches, "in_flight": args.in_flight,
            "body_bytes": BODY_BYTES, "repeats": args.repeats, "runs": runs,
            "summary": {s: round(r["both_cpu_ms_per_page"] / base, 3) for s, r in runs.items()}}
    table = markdown_table(["shape", "caller CPU ms/page", "callee CPU ms/page", "both", "÷ one call per page"],
                           [[s, r["caller_cpu_ms_per_page"], r["callee_cpu_ms_per_page"], r["both_cpu_ms_per_page"],
                             data["summary"][s]] for s, r in runs.items()])
    md = (f"{args.pages} pages of {BODY_BYTES // 1000} KB, {args.in_flight} in flight, async actor to async actor, "
          f"{args.repeats} alternating repeats (medians).\n\n{table}\n")
    write_results("ray_call_cpu", data, md, args.results_dir)
    print(md)
    return data


if __name__ == "__main__":
    main()
