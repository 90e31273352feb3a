"""A search engine speaking the SearXNG JSON API over a ``SearchIndex``.

``GET /search?q=...&format=json[&pageno=1]`` returns
``{"query", "number_of_results", "results": [{"url", "title", "content", "engine", "score", "category", ...}], ...}``
like a SearXNG instance with the JSON format enabled (10 results a page;
``&count=N`` is a local extension). Faults (``SearchFaults``) are replaceable
at runtime with ``POST /_admin/faults``.

Run directly: ``python -m pipelines.world.search_server --companies 5 --seed 7 --site-port 8780 --port 8781``,
or over a folder / URL list: ``--folder DIR`` / ``--urls FILE``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections import Counter
from urllib.parse import urlsplit

from aiohttp import web

from pipelines.world.faults import SearchFaults, draw_latency
from pipelines.world.index import SearchIndex
from pipelines.world.proc import serve_app

__all__ = ["make_app", "ENGINE", "PAGE_SIZE"]

ENGINE = "trawl-bm25"
PAGE_SIZE = 10


class SearchState:
    def __init__(self, index: SearchIndex, faults: SearchFaults) -> None:
        self.index = index
        self.stats: Counter[str] = Counter()
        self.set_faults(faults)

    def set_faults(self, faults: SearchFaults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)


def _int(raw: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(raw))) if raw is not None else default
    except ValueError:
        return default


async def search(request: web.Request) -> web.Response:
    state: SearchState = request.app["state"]
    faults, rng = state.faults, state.rng
    state.stats["requests"] += 1
    delay = draw_latency(rng, faults.latency_s, faults.latency_jitter_s)
    if delay:
        await asyncio.sleep(delay)
    roll = rng.random()
    for status, rate in ((429, faults.rate_429), (500, faults.rate_500), (503, faults.rate_503)):
        if roll < rate:
            state.stats[str(status)] += 1
            headers = {"Retry-After": f"{faults.retry_after_s:g}"} if status != 500 else {}
            return web.Response(status=status, text=f"search error {status} (injected)", headers=headers)
        roll -= rate
    query = (request.query.get("q") or "").strip()
    if request.query.get("format", "html") != "json":
        # SearXNG answers 403 when a format is not enabled; only JSON is, here.
        return web.Response(status=403, text="only format=json is enabled on this instance")
    if not query:
        return web.json_response({"error": "missing q"}, status=400)
    pageno = _int(request.query.get("pageno"), 1, 1, 100)
    size = _int(request.query.get("count"), PAGE_SIZE, 1, 100)
    hits = [] if rng.random() < faults.rate_empty else state.index.search(query, limit=size, offset=(pageno - 1) * size)
    results = []
    for rank, hit in enumerate(hits, start=(pageno - 1) * size + 1):
        parts = urlsplit(hit.url)
        results.append({
            "url": hit.url, "title": hit.title, "content": hit.snippet, "engine": ENGINE, "engines": [ENGINE],
            "score": round(hit.score, 4), "category": "general", "positions": [rank],
            "parsed_url": [parts.scheme, parts.netloc, parts.path, "", parts.query, parts.fragment],
        })
    state.stats["ok"] += 1
    return web.json_response({
        "query": query, "number_of_results": len(results), "results": results, "answers": [], "corrections": [],
        "infoboxes": [], "suggestions": [], "unresponsive_engines": [],
    })


async def admin_faults(request: web.Request) -> web.Response:
    state: SearchState = request.app["state"]
    if request.method == "POST":
        try:
            state.set_faults(SearchFaults.model_validate(await request.json()))
        except Exception as exc:  # noqa: BLE001 - reported back to the admin caller
            return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(state.faults.model_dump())


async def admin_stats(request: web.Request) -> web.Response:
    state: SearchState = request.app["state"]
    return web.json_response({**state.stats, "documents": len(state.index)})


async def config(request: web.Request) -> web.Response:
    return web.json_response({"engines": [{"name": ENGINE, "enabled": True, "categories": ["general"]}],
                              "instance_name": "trawl local search"})


def make_app(index: SearchIndex, faults: SearchFaults | None = None) -> web.Application:
    app = web.Application()
    app["state"] = SearchState(index, faults or SearchFaults())
    app.router.add_get("/search", search)
    app.router.add_get("/config", config)
    app.router.add_route("*", "/_admin/faults", admin_faults)
    app.router.add_get("/_admin/stats", admin_stats)
    return app


def build_index(args: argparse.Namespace) -> SearchIndex:
    from pipelines.world.index import folder_documents, url_documents, world_documents

    if args.folder:
        return SearchIndex(folder_documents(args.folder, args.base_url))
    if args.urls:
        return SearchIndex(url_documents(args.urls))
    from pipelines.world.corpus import Corpus

    return SearchIndex(world_documents(Corpus(args.seed, args.companies), args.site_port, traps=args.index_traps))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="trawl local world: SearXNG-compatible search")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8781)
    parser.add_argument("--companies", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--site-port", type=int, default=8780, help="Port the site server listens on (result URLs use it)")
    parser.add_argument("--folder", default=None, help="Index this folder of HTML files instead of the world")
    parser.add_argument("--base-url", default=None, help="URL prefix for --folder files (default file:// URLs)")
    parser.add_argument("--urls", default=None, help="Index the pages listed in this file instead of the world")
    parser.add_argument("--index-traps", action="store_true", help="Also index each company's /_trap/injection page")
    parser.add_argument("--faults", default="{}", help="SearchFaults JSON")
    parser.add_argument("--detached", action="store_true")
    args = parser.parse_args(argv)
    app = make_app(build_index(args), SearchFaults.model_validate_json(args.faults))
    serve_app(app, args.host, args.port, args.detached)


if __name__ == "__main__":
    main()
