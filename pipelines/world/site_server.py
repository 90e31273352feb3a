"""The local world's web: every site on one port, routed by the Host header.

``http://<slug>.example:PORT/about`` reaches this server when the fetcher
resolves ``*.example`` to 127.0.0.1 (``fetch.resolve``). Each host has its
pages, ``/robots.txt``, ``/sitemap.xml`` and a few redirects; ``/_trap/*``
serves hostile pages on every host (see ``pipelines.world.traps``).

Faults are rules per request class (``page``, ``third_party``, ``robots``,
``sitemap``, or ``default`` for all), each a ``SiteFaults`` optionally limited
to some hosts, replaceable at runtime with ``POST /_admin/faults``
(``{"default": {...}, "robots": {...}}`` or one flat ``SiteFaults``).

Run directly: ``python -m pipelines.world.site_server --companies 5 --seed 7 --port 8780``.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import random
from collections import Counter, OrderedDict

from aiohttp import web

from pipelines.world.corpus import THIRD_PARTY_HOSTS, Corpus
from pipelines.world.faults import SiteFaults, draw_latency
from pipelines.world.html_render import render_html, robots_txt, sitemap_xml
from pipelines.world.pages import REDIRECTS, site_pages
from pipelines.world.proc import serve_app
from pipelines.world.traps import handle_trap

__all__ = ["make_app", "parse_site_faults", "REQUEST_CLASSES"]

REQUEST_CLASSES = ("default", "page", "third_party", "robots", "sitemap")
_CSS = "body{font-family:sans-serif;margin:0}.layout{display:flex}.sidebar{width:240px}.cookie-banner{position:fixed;bottom:0}"


def parse_site_faults(payload: dict) -> dict[str, SiteFaults]:
    """``{"class": SiteFaults-fields}`` or one flat ``SiteFaults`` (meaning ``default``)."""
    if payload and all(k in REQUEST_CLASSES for k in payload):
        return {k: SiteFaults.model_validate(v) for k, v in payload.items()}
    return {"default": SiteFaults.model_validate(payload or {})}


class SiteState:
    def __init__(self, corpus: Corpus, faults: dict[str, SiteFaults]) -> None:
        self.corpus = corpus
        self.stats: Counter[str] = Counter()
        self._pages: OrderedDict[str, dict] = OrderedDict()
        self.set_faults(faults)

    def set_faults(self, faults: dict[str, SiteFaults]) -> None:
        self.faults = faults
        self.rng = random.Random(next(iter(faults.values())).seed if faults else 0)

    def pages(self, host: str) -> dict:
        if host not in self._pages:
            self._pages[host] = site_pages(self.corpus, host)
            if len(self._pages) > 256:
                self._pages.popitem(last=False)
        self._pages.move_to_end(host)
        return self._pages[host]

    def rule(self, klass: str, host: str) -> SiteFaults | None:
        for key in (klass, "default"):
            rule = self.faults.get(key)
            if rule and (not rule.hosts or any(fnmatch.fnmatch(host, pat) for pat in rule.hosts)):
                return rule
        return None


def _host(request: web.Request) -> str:
    return (request.host or "").rsplit(":", 1)[0].strip("[]").lower()


def _klass(host: str, path: str) -> str:
    if path == "/robots.txt":
        return "robots"
    if path == "/sitemap.xml":
        return "sitemap"
    return "third_party" if host in THIRD_PARTY_HOSTS else "page"


async def _faulty(request: web.Request, rule: SiteFaults, state: SiteState, body: str, ctype: str) -> web.StreamResponse | None:
    """The injected response for this request, or None to serve it normally."""
    rng = state.rng
    delay = draw_latency(rng, rule.latency_s, rule.latency_jitter_s, rule.latency_dist)
    if delay:
        state.stats["delay_ms"] += round(delay * 1000)  # what was injected, for tests and benchmarks to read back
        await asyncio.sleep(delay)
    roll = rng.random()
    for status, rate in ((404, rule.rate_404), (500, rule.rate_500), (503, rule.rate_503)):
        if roll < rate:
            headers = {"Retry-After": f"{rule.retry_after_s:g}"} if status == 503 else {}
            return web.Response(status=status, text=f"<html><body><h1>{status}</h1></body></html>", content_type="text/html",
                                headers=headers)
        roll -= rate
    if rng.random() < rule.rate_redirect_loop:
        raise web.HTTPFound(str(request.rel_url))
    if rng.random() < rule.rate_wrong_type:
        return web.Response(body=body.encode(), content_type="application/octet-stream")
    padded = rng.random() < rule.rate_oversize
    if padded:
        pad = max(0, rule.oversize_bytes - len(body))
        body = body.replace("</body>", f"<div hidden>{'<!-- padding -->' * (pad // 16 + 1)}</div></body>")
    if rng.random() < rule.rate_slow_body:
        state.stats["slow_body_ms"] += round(rule.slow_body_s * 1000)
        data = body.encode()
        resp = web.StreamResponse(headers={"Content-Type": f"{ctype}; charset=utf-8"})
        await resp.prepare(request)
        step = max(1, len(data) // 20)
        for i in range(0, len(data), step):
            await resp.write(data[i: i + step])
            await asyncio.sleep(rule.slow_body_s / 20)
        await resp.write_eof()
        return resp
    return web.Response(text=body, content_type=ctype) if padded else None


async def handle(request: web.Request) -> web.StreamResponse:
    state: SiteState = request.app["state"]
    host, path = _host(request), request.path
    corpus = state.corpus
    if path.startswith("/_trap/"):
        state.stats["trap"] += 1
        company = corpus.by_host.get(host)
        return await handle_trap(request, path[len("/_trap/"):], company.name if company else host)
    if host.startswith("www.") and host[4:] in corpus.by_host:  # canonical host, as most sites do
        port = f":{request.url.port}" if request.url.port else ""
        raise web.HTTPMovedPermanently(f"http://{host[4:]}{port}{request.path_qs}")
    pages = state.pages(host)
    if not pages:
        if host in {"127.0.0.1", "localhost"} and path == "/":
            return web.json_response({"hosts": corpus.hosts[:1000], "companies": len(corpus.companies)})
        state.stats["unknown_host"] += 1
        return web.Response(status=404, text=f"unknown host {host}")
    klass = _klass(host, path)
    authority = request.host
    if path == "/robots.txt":
        body, ctype = robots_txt(corpus, host, authority), "text/plain"
    elif path == "/sitemap.xml":
        body, ctype = sitemap_xml(corpus, host, authority), "application/xml"
    elif path == "/static/site.css":
        return web.Response(text=_CSS, content_type="text/css")
    elif path in REDIRECTS and host in corpus.by_host:
        target, status = REDIRECTS[path]
        raise web.HTTPMovedPermanently(target) if status == 301 else web.HTTPFound(target)
    elif path.rstrip("/") in pages or path in pages:
        builder = pages.get(path) or pages[path.rstrip("/")]
        body, ctype = render_html(builder(), path), "text/html"
    else:
        state.stats["404"] += 1
        return web.Response(status=404, text="<html><body><h1>Page not found</h1></body></html>", content_type="text/html")
    rule = state.rule(klass, host)
    if rule is not None:
        injected = await _faulty(request, rule, state, body, ctype)
        if injected is not None:
            state.stats[f"{klass}_injected"] += 1
            return injected
    state.stats[klass] += 1
    if ctype == "text/html":
        state.stats[f"served:{authority}{path}"] += 1  # per page, so a test can check each URL is fetched once
    return web.Response(text=body, content_type=ctype)


async def admin_faults(request: web.Request) -> web.Response:
    state: SiteState = request.app["state"]
    if request.method == "POST":
        try:
            state.set_faults(parse_site_faults(await request.json()))
        except Exception as exc:  # noqa: BLE001 - reported back to the admin caller
            return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({k: v.model_dump() for k, v in state.faults.items()})


async def admin_stats(request: web.Request) -> web.Response:
    return web.json_response(dict(request.app["state"].stats))


def make_app(corpus: Corpus, faults: dict[str, SiteFaults] | None = None) -> web.Application:
    app = web.Application()
    app["state"] = SiteState(corpus, faults or {})
    app.router.add_route("*", "/_admin/faults", admin_faults)
    app.router.add_get("/_admin/stats", admin_stats)
    app.router.add_get("/{tail:.*}", handle)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="trawl local world: the website server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8780)
    parser.add_argument("--companies", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--faults", default="{}", help="SiteFaults JSON (flat, or per request class)")
    parser.add_argument("--detached", action="store_true")
    args = parser.parse_args(argv)
    app = make_app(Corpus(args.seed, args.companies), parse_site_faults(json.loads(args.faults)))
    serve_app(app, args.host, args.port, args.detached)


if __name__ == "__main__":
    main()
