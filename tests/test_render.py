"""The render tier without Ray: when to render (decision, tier) and the real headless Chromium (browser).

Browser tests run Debian's Chromium through Playwright against a loopback
server in this process; with no Chromium installed they skip and say how to
install it (.ci/run installs it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from pipelines.extract import ExtractedPage, extract_page
from pipelines.fetch.result import FetchResult
from pipelines.render.browser import PageRenderer
from pipelines.render.decision import RENDER_BELOW_TEXT_CHARS, browser_problem, should_render, static_text_too_short, visible_text_chars
from pipelines.render.tier import render_if_needed
from pipelines.settings import FetchSettings, RenderSettings
from tests.fixtures_reliability import LoopbackServer

FACT = "The chief executive officer of Quorra Labs is Imelda Fanshawe, appointed in 2021 after a decade at Brightwater."
HTML = {"Content-Type": "text/html; charset=utf-8"}
SHELL = b"""<html><head><title>Quorra Labs</title></head><body><div id="app">Loading...</div>
<noscript>Please enable JavaScript.</noscript><script src="/app.js"></script></body></html>"""
APP_JS = b"""fetch('/data.json').then(r => r.json()).then(d => {
  document.getElementById('app').innerHTML = '<article><h1>About us</h1><p>' + d.text + '</p><p>' + d.text + '</p></article>';
});
fetch('/private/secret.json').catch(() => {});
fetch('http://127.0.0.1:1/metadata').catch(() => {});"""
POLL_JS = b"""document.getElementById('app').innerHTML = '<article><p>""" + FACT.encode() + b"""</p></article>';
setInterval(() => fetch('/data.json?t=' + Date.now()).catch(() => {}), 100);"""
ROUTES = {
    "/": (200, HTML, SHELL),
    "/poll": (200, HTML, SHELL.replace(b"/app.js", b"/poll.js")),
    "/app.js": (200, {"Content-Type": "application/javascript"}, APP_JS),
    "/poll.js": (200, {"Content-Type": "application/javascript"}, POLL_JS),
    "/data.json": (200, {"Content-Type": "application/json"}, b'{"text": "' + FACT.encode() + b'"}'),
    "/private/secret.json": (200, {"Content-Type": "application/json"}, b'{"text": "secret"}'),
    "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"),
}
EMPTY_SHELL = b'<html><body><div id="app"></div><script src="/app.js"></script></body></html>'
NO_BROWSER = browser_problem(RenderSettings().executable_path)
needs_browser = pytest.mark.skipif(NO_BROWSER is not None, reason=f"{NO_BROWSER}")


def _static(body: bytes, url: str = "http://q.example/") -> ExtractedPage:
    return extract_page(FetchResult(url=url, final_url=url, status="ok", content_type="text/html", body=body, bytes=len(body)))


# --- decision -------------------------------------------------------------------------------------

def test_an_app_shell_with_scripts_needs_rendering_and_an_article_does_not():
    assert _static(SHELL).needs_render
    article = b"<html><body><article><p>" + FACT.encode() * 3 + b"</p></article><script>track()</script></body></html>"
    assert not _static(article).needs_render
    assert not static_text_too_short(b"<html><body><p>short</p></body></html>", "short", "text/html")  # no script: nothing to gain
    assert static_text_too_short(b"<script>", "x" * (RENDER_BELOW_TEXT_CHARS - 1), "text/html")
    assert not static_text_too_short(b"<script>", "", "application/pdf")


def test_a_short_static_page_with_an_analytics_script_is_not_rendered_but_a_hydrated_shell_is():
    nav = "<nav>" + " | ".join(["Home", "About us", "Products", "Careers", "Investors", "Press", "Contact"] * 6) + "</nav>"
    short = (f"<html><body>{nav}<main><p>Our headquarters are located in Krakow, Poland.</p></main>"
             "<script>gtag('config','G-1');</script></body></html>").encode()
    assert not _static(short).needs_render  # the local world's contact pages look like this (none of its 83 pages renders)
    state = "<script id='__NEXT_DATA__' type='application/json'>" + '{"props":' + '"x",' * 40_000 + '"y":1}</script>'
    hydrated = f"<html><body>{nav}<div id='__next'></div>{state}</body></html>".encode()
    # visible text (the nav) over 200 chars, but a 150-char main text is far under 1% of the HTML: its weight is the state
    assert visible_text_chars(hydrated) > RENDER_BELOW_TEXT_CHARS and static_text_too_short(hydrated, "x" * 150, "text/html")
    assert not static_text_too_short(short, "x" * 150, "text/html")


@pytest.mark.parametrize("mode,needs,status,expected", [
    ("auto", True, "skipped", True), ("auto", False, "ok", False), ("always", False, "ok", True),
    ("off", True, "skipped", False),
])
def test_the_mode_decides(mode, needs, status, expected):
    assert should_render(mode, status=status, content_type="text/html", needs_render=needs) is expected
    assert not should_render(mode, status=status, content_type="application/pdf", needs_render=needs)


# --- tier policy ----------------------------------------------------------------------------------

def _tier(page: ExtractedPage, settings: RenderSettings, rendered: ExtractedPage | None = None, problem=None) -> ExtractedPage:
    calls = []

    async def render_and_extract(url: str) -> ExtractedPage:
        calls.append(url)
        return rendered

    out = asyncio.run(render_if_needed(page, settings, render_and_extract, problem_of=lambda path: problem))
    out.render_calls = calls
    return out


def test_a_shell_with_a_little_static_text_keeps_it_when_no_browser_can_run():
    page = _tier(_static(SHELL), RenderSettings(), problem=browser_problem("/nonexistent/chromium"))
    assert page.ok and page.render_calls == []  # a short page with a tracking script is still a page


def test_without_a_browser_the_page_says_so_with_the_install_hint():
    page = _tier(_static(EMPTY_SHELL), RenderSettings(executable_path="/nonexistent/chromium"), problem=browser_problem("/nonexistent/chromium"))
    assert page.status == "skipped" and page.reason.startswith("render_unavailable:")
    assert "apt-get install -y chromium" in page.reason and page.render_calls == []


def test_render_off_keeps_the_static_outcome_and_says_why():
    page = _tier(_static(EMPTY_SHELL), RenderSettings(mode="off"))
    assert page.status == "skipped" and page.reason.startswith("no_text:") and "fetch.render is off" in page.reason


def test_the_rendered_page_wins_when_it_reads_more_and_a_failed_render_keeps_its_reason():
    rendered = _static(b"<html><body><article><p>" + FACT.encode() * 2 + b"</p></article></body></html>", url="http://other.example/")
    page = _tier(_static(EMPTY_SHELL), RenderSettings(), rendered=rendered)
    assert page.ok and "Imelda Fanshawe" in page.text and page.url == "http://q.example/"
    failed = ExtractedPage(url="http://q.example/", final_url="http://q.example/", status="failed", reason="render_timeout: over 15s")
    page = _tier(_static(EMPTY_SHELL), RenderSettings(), rendered=failed)
    assert page.status == "failed" and page.reason.startswith("render_timeout")


# --- the real browser -----------------------------------------------------------------------------

def _browser_pids(tag: str) -> set[int]:
    """Live processes started with ``--trawl-renderer=<tag>`` (the browser and its helpers), wherever their parent is."""
    found = set()
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if f"--trawl-renderer={tag}" in (proc.info["cmdline"] or []) and proc.status() != psutil.STATUS_ZOMBIE:
                found.add(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture(scope="module")
def site():
    with LoopbackServer(routes=ROUTES) as server:
        yield server


@needs_browser
def test_a_script_built_page_is_rendered_behind_the_guard_and_robots_and_no_browser_outlives_it(site):
    settings = FetchSettings(allow_hosts=[f"127.0.0.1:{site.port}"])

    async def run():
        renderer = PageRenderer(settings, tag=f"test-{os.getpid()}")
        try:
            result = await renderer.render(f"{site.base_url}/")
            running = _browser_pids(renderer.tag)
        finally:
            await renderer.aclose()
        return result, renderer, running, _browser_pids(renderer.tag)

    result, renderer, running, after = asyncio.run(run())
    assert result.status == "ok", result.reason
    page = extract_page(result)
    assert page.ok and "Imelda Fanshawe" in page.text
    refused = {r.url.rsplit("/", 1)[-1]: r.reason for r in renderer.refused}
    assert refused["secret.json"] == "robots_disallowed"
    assert refused["metadata"].startswith("blocked_address")
    assert site.hits["/private/secret.json"] == 0
    assert running, "the browser's processes carry the renderer's tag"
    assert after == set() and not [pid for pid in running if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


@needs_browser
def test_the_fetched_document_is_served_to_the_browser_not_fetched_again(site):
    settings = FetchSettings(allow_hosts=[f"127.0.0.1:{site.port}"])
    url = f"{site.base_url}/"
    document = FetchResult(url=url, final_url=url, status="ok", http_status=200, content_type="text/html", charset="utf-8",
                           body=SHELL, bytes=len(SHELL))

    async def run():
        renderer = PageRenderer(settings)
        try:
            return await renderer.render(url, document)
        finally:
            await renderer.aclose()

    before = site.hits["/"]
    result = asyncio.run(run())
    assert result.status == "ok" and b"Imelda Fanshawe" in result.body
    assert site.hits["/"] == before  # the page itself came from the fetcher's bytes; its script and JSON from the site


@needs_browser
def test_a_page_whose_network_never_settles_is_read_when_the_time_is_up(site):
    settings = FetchSettings(allow_hosts=[f"127.0.0.1:{site.port}"], render=RenderSettings(timeout_s=6))

    async def run():
        renderer = PageRenderer(settings)
        try:
            return await renderer.render(f"{site.base_url}/poll")
        finally:
            await renderer.aclose()

    result = asyncio.run(run())
    assert result.status == "ok" and b"Imelda Fanshawe" in result.body


@needs_browser
def test_a_host_outside_the_allow_list_is_not_rendered(site):
    async def run():
        renderer = PageRenderer(FetchSettings())  # loopback not allowed
        try:
            return await renderer.render(f"{site.base_url}/"), renderer
        finally:
            await renderer.aclose()

    result, renderer = asyncio.run(run())
    assert result.status != "ok" and site.hits["/"] <= 1
    assert renderer.refused and renderer.refused[0].reason.startswith("blocked_address")


_CRASHING_OWNER = """
import asyncio, sys
from pipelines.fetch.result import FetchResult
from pipelines.render.browser import PageRenderer
from pipelines.settings import FetchSettings

async def main():
    renderer = PageRenderer(FetchSettings(), tag=sys.argv[1])
    page = b"<html><body><p>hello</p><script>1</script></body></html>"
    doc = FetchResult(url="http://x.example/", final_url="http://x.example/", status="ok", content_type="text/html", body=page)
    print("RENDERED", (await renderer.render("http://x.example/", doc)).status, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


@needs_browser
def test_a_renderer_killed_without_closing_takes_its_browser_with_it(tmp_path):
    # A Ray actor can die by SIGKILL (OOM killer, node loss): its browser must not live on as an orphan.
    tag = f"killed-{os.getpid()}"
    script = tmp_path / "owner.py"
    script.write_text(_CRASHING_OWNER)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    owner = subprocess.Popen([sys.executable, str(script), tag], stdout=subprocess.PIPE, text=True, cwd=root,
                             env={**os.environ, "PYTHONPATH": root})
    try:
        assert owner.stdout.readline().split() == ["RENDERED", "ok"]
        assert _browser_pids(tag), "the browser is up while its owner lives"
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
    deadline = time.monotonic() + 30  # the Playwright driver sees its pipe close and ends the browser
    while _browser_pids(tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _browser_pids(tag) == set()


@needs_browser
def test_a_browser_over_its_memory_cap_is_replaced_after_the_render(site, monkeypatch):
    from pipelines.render import browser as browser_mod

    settings = FetchSettings(allow_hosts=[f"127.0.0.1:{site.port}"])  # max_rss_mb: the default 1536

    async def run():
        renderer = PageRenderer(settings)
        try:
            first = await renderer.render(f"{site.base_url}/")
            measured = browser_mod.browser_rss_mb(renderer.tag)  # the real reading of the running browser's tree
            monkeypatch.setattr(browser_mod, "browser_rss_mb", lambda tag: 10_000.0)  # a leaking browser
            second = await renderer.render(f"{site.base_url}/")
            monkeypatch.undo()
            third = await renderer.render(f"{site.base_url}/")  # a fresh browser
            return first, measured, second, third, renderer.restarts
        finally:
            await renderer.aclose()

    first, measured, second, third, restarts = asyncio.run(run())
    assert measured > 0 and first.ok and second.ok and third.ok and b"Imelda Fanshawe" in third.body
    assert restarts == 1
