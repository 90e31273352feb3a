"""What one page costs in the render tier: wall time per render and the browser's memory, on a loopback page.

A script-built page (empty ``<div id=app>``, a script that fetches JSON and
writes an article) is served on 127.0.0.1; ``PageRenderer`` renders it
``--pages`` times in a row with the job defaults (``fetch.render``). The first
render includes starting Chromium.

    .venv/bin/python benchmarks/render_cost.py [--pages 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
from datetime import datetime, timezone

from aiohttp import web

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHELL = "<html><head><title>app</title></head><body><div id='app'></div><script src='/app.js'></script></body></html>"
APP_JS = ("fetch('/data.json').then(r => r.json()).then(d => { document.getElementById('app').innerHTML = "
          "'<article><p>' + d.text + '</p></article>'; });")
DATA = {"text": "The chief executive officer of Quorra Labs is Imelda Fanshawe, appointed in 2021. " * 5}


async def run(pages: int) -> dict:
    from pipelines.render.browser import PageRenderer, browser_rss_mb
    from pipelines.settings import FetchSettings

    app = web.Application()
    app.router.add_get("/", lambda r: web.Response(text=SHELL, content_type="text/html"))
    app.router.add_get("/app.js", lambda r: web.Response(text=APP_JS, content_type="application/javascript"))
    app.router.add_get("/data.json", lambda r: web.json_response(DATA))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    renderer = PageRenderer(FetchSettings(allow_hosts=[f"127.0.0.1:{port}"]))
    times, rss = [], []
    try:
        for _ in range(pages):
            result = await renderer.render(f"http://127.0.0.1:{port}/")
            assert result.ok and b"Imelda Fanshawe" in result.body, result.reason
            times.append(result.fetch_ms)
            rss.append(browser_rss_mb(renderer.tag))
    finally:
        await renderer.aclose()
        await runner.cleanup()
    return {"first_render_ms": round(times[0]), "median_render_ms_after_first": round(statistics.median(times[1:] or times)),
            "browser_rss_mib_max": round(max(rss)), "pages": pages}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--results-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    args = ap.parse_args()
    result = asyncio.run(run(args.pages))
    machine = {"cores": os.cpu_count(), "python": platform.python_version(), "load_1m": os.getloadavg()[0],
               "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    os.makedirs(args.results_dir, exist_ok=True)
    with open(os.path.join(args.results_dir, "render_cost.json"), "w") as fh:
        json.dump({"machine": machine, **result}, fh, indent=2)
    lines = ["| measure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in result.items()]
    with open(os.path.join(args.results_dir, "render_cost.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
