"""Pages that only read right when fetched the way a browser fetches them, served from their own process.

Like ``fixtures_fetch``, one 127.0.0.1 port serves many hosts (``*.example``
through ``FetchSettings.resolve``). Routes:

- ``/enc/{sample}?codec=&declare=none|http|meta&label=&bom=1``: a page whose
  text is ``SAMPLES[sample]`` in ``codec``, declared (or not) with ``label``;
- ``/moved``, ``/moved-header``, ``/moved-noscript``, ``/moved-self``,
  ``/moved-slow``, ``/moved-chain/{n}``, ``/moved-to?u=``, ``/refresh-loop/{a|b}``: meta refresh and
  ``Refresh`` header stubs; ``/company/about-us``: the page they point to;
- ``/consent``: a cookie wall that sets a cookie and redirects to itself;
  ``/cookie/set-then?u=``: sets a cookie and redirects to ``u``;
  ``/cookie/echo``: shows the Cookie header it got;
- ``/echo?...``: shows the raw request target byte for byte; ``/register?name=``:
  the right page only when ``name`` decodes to ``A+B Logistics``;
- ``/compressed/{br|zstd|gzip}``: a body with that Content-Encoding;
- ``/canonical``: a page with ``<link rel=canonical>``;
- ``/realweb/{file}``: ``$REALWEB_DIR/pages/{file}`` as ``text/html`` WITHOUT a charset;
- ``/e2e/...`` and ``/search?q=&format=json``: one page per kind for a whole
  job (``E2E_FACTS``) and a SearXNG-style search that returns all of them;
- any request in absolute form (``GET http://host/path``): answered as a
  forward proxy would be asked, with a page naming the target (no forwarding).
"""

from __future__ import annotations

import gzip
import html
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent

# One sentence per kind of legacy encoding; a planted fact the tests look for after decoding.
SAMPLES = {
    "ja": "株式会社アクメは東京に本社を置く企業です。代表取締役社長は山田太郎で、1987年に設立されました。",
    "ko": "애크미 주식회사는 서울에 본사를 둔 기업입니다. 대표이사는 김철수이며 1987년에 설립되었습니다.",
    "zh": "阿克米公司总部位于北京。首席执行官是王伟，公司成立于1987年。",
    "ru": "Компания Акме расположена в Москве. Генеральный директор - Иван Петров, основана в 1987 году.",
    "de": "Die Müller GmbH hat ihren Sitz in Köln. Geschäftsführer ist Jürgen Weiß, gegründet 1987 – größer als gedacht.",
    "fr": "La société Acmé est située à Besançon. Le président est François Lefèvre, fondée en 1987 — voilà “tout”.",
    "es": "La compañía Acme está en Logroño. El director es José Núñez, fundada en 1987 y nada más.",
    "cp1252q": "Jürgen Weiß is the CEO of Acme Widgets – he said “grüß Gott” and paid 5 € for coffee.",
}
PAGE = "<!doctype html><html><head>{head}<title>{title}</title></head><body><article><h1>{title}</h1><p>{text}</p><p>{text}</p></article></body></html>"
TARGET_TEXT = "Jane Holloway is the CEO of Acme Widgets. She joined the company in 2019."


# The whole-job test: company -> (the URL a search result gives, the CEO its page names once read right).
E2E_FACTS = {
    "Acme Widgets": ("/enc/cp1252q?codec=cp1252", "Jürgen Weiß"),  # legacy-charset: undeclared windows-1252
    "Northwind Traders": ("/e2e/moved", "Jane Holloway"),  # meta-refresh: the stub points at the page
    "Contoso Foods": ("/e2e/consent", "Omar Haddad"),  # cookie-wall: a consent cookie, then a redirect to itself
    "A+B Logistics": ("/register?name=A%2BB%20Logistics", "Marta Lindqvist"),  # plus-in-query: %2B must stay %2B
}


def _page(title: str, text: str, head: str = "") -> str:
    return PAGE.format(head=head, title=html.escape(title), text=html.escape(text))


def _html(body: str, **headers) -> web.Response:
    return web.Response(body=body.encode("utf-8"), headers={"Content-Type": "text/html; charset=utf-8", **headers})


async def encoded(request: web.Request) -> web.Response:
    q = request.query
    codec, declare = q.get("codec", "utf-8"), q.get("declare", "none")
    label = q.get("label", codec)
    head = f'<meta charset="{label}">' if declare == "meta" else ""
    body = _page("sample", SAMPLES[request.match_info["sample"]], head).encode(codec)
    if q.get("bom"):
        body = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-8": b"\xef\xbb\xbf"}[codec] + body
    ctype = f"text/html; charset={label}" if declare == "http" else "text/html"
    return web.Response(body=body, headers={"Content-Type": ctype})


def _refresh_stub(target: str, delay: int = 0, noscript: bool = False) -> str:
    meta = f'<meta http-equiv="refresh" content="{delay}; url={target}">'
    if noscript:
        meta = f"<noscript>{meta}</noscript>"
    return _page("This page has moved", "This page has moved. If you are not redirected, follow the link.", meta)


async def moved(request: web.Request) -> web.Response:
    kind = request.path.rsplit("/", 1)[-1]
    if kind == "moved-header":
        return _html(_page("Moved", "This page has moved."), Refresh="0; url=/company/about-us")
    if kind == "moved-self":
        return _html(_page("Live ticker", TARGET_TEXT, '<meta http-equiv="refresh" content="30">'))
    if kind == "moved-noscript":
        return _html(_refresh_stub("/company/about-us", noscript=True))
    if kind == "moved-slow":
        return _html(_refresh_stub("/company/about-us", delay=600))
    return _html(_refresh_stub("/company/about-us"))


async def moved_chain(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    return _html(_refresh_stub(f"/moved-chain/{n + 1}"))


async def refresh_loop(request: web.Request) -> web.Response:
    other = "b" if request.match_info["side"] == "a" else "a"
    return _html(_refresh_stub(f"/refresh-loop/{other}"))


async def moved_to(request: web.Request) -> web.Response:
    return _html(_refresh_stub(request.query["u"]))


async def about(request: web.Request) -> web.Response:
    return _html(_page("About us", TARGET_TEXT))


async def e2e_moved(request: web.Request) -> web.Response:
    return _html(_refresh_stub("/e2e/northwind/about"))


async def e2e_northwind(request: web.Request) -> web.Response:
    return _html(_page("About Northwind Traders", "Jane Holloway is the CEO of Northwind Traders. She joined in 2019."))


async def e2e_consent(request: web.Request) -> web.Response:
    if request.cookies.get("consent") != "yes":
        raise web.HTTPFound(request.path, headers={"Set-Cookie": "consent=yes; Path=/"})
    return _html(_page("About Contoso Foods", "Omar Haddad is the CEO of Contoso Foods. He founded it in 2004."))


async def search(request: web.Request) -> web.Response:
    host = f"http://site.example:{request.url.port}"
    results = [{"url": host + path, "title": name, "content": f"About {name}"} for name, (path, _) in E2E_FACTS.items()]
    return web.json_response({"query": request.query.get("q", ""), "results": results if request.query.get("pageno", "1") == "1" else []})


async def consent(request: web.Request) -> web.Response:
    if request.cookies.get("consent") != "yes":
        raise web.HTTPFound(request.path, headers={"Set-Cookie": "consent=yes; Path=/; SameSite=Lax"})
    return _html(_page("About us", TARGET_TEXT))


async def cookie_set_then(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query["u"], headers={"Set-Cookie": "session=s3cr3t; Path=/"})


async def cookie_echo(request: web.Request) -> web.Response:
    return _html(_page("cookies", f"cookie header: [{request.headers.get('Cookie', '')}]"))


async def echo(request: web.Request) -> web.Response:
    return _html(_page("echo", f"raw target: [{request.raw_path}] accept-encoding: [{request.headers.get('Accept-Encoding', '')}]"))


async def register(request: web.Request) -> web.Response:
    raw = request.raw_path.partition("?")[2]
    values = [unquote_to_bytes(v.replace("+", " ")).decode("utf-8", "replace") for k, _, v in (p.partition("=") for p in raw.split("&")) if k == "name"]
    if values == ["A+B Logistics"]:
        return _html(_page("A+B Logistics", "Marta Lindqvist is the CEO of A+B Logistics."))
    return _html(_page("No match", f"No company named {values}. Did you mean A B Logistics? Its CEO is Tom Wrong."))


async def compressed(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    raw = _page("compressed", f"This body travelled as {kind}. {TARGET_TEXT}").encode("utf-8")
    if kind == "br":
        import brotli

        body = brotli.compress(raw)
    elif kind == "zstd":
        from backports import zstd

        body = zstd.compress(raw)
    else:
        body = gzip.compress(raw)
    return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": kind})


async def canonical(request: web.Request) -> web.Response:
    return _html(_page("Canonical", TARGET_TEXT, '<link rel="alternate" href="/amp"><link rel="canonical" href="/the-real-one?id=7">'))


async def realweb(request: web.Request) -> web.Response:
    folder = Path(os.environ.get("REALWEB_DIR", "")) / "pages"
    path = folder / Path(request.match_info["file"]).name
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=path.read_bytes(), headers={"Content-Type": "text/html"})


@web.middleware
async def forward_proxy(request: web.Request, handler):
    if request.raw_path.startswith(("http://", "https://")):
        if request.raw_path.endswith("/robots.txt"):
            return web.Response(status=404, text="none")
        return _html(_page("via proxy", f"proxied target: [{request.raw_path}]"))
    return await handler(request)


def build_app() -> web.Application:
    app = web.Application(middlewares=[forward_proxy])
    app.router.add_get("/enc/{sample}", encoded)
    for path in ("/moved", "/moved-header", "/moved-noscript", "/moved-self", "/moved-slow"):
        app.router.add_get(path, moved)
    app.router.add_get("/moved-chain/{n}", moved_chain)
    app.router.add_get("/moved-to", moved_to)
    app.router.add_get("/refresh-loop/{side}", refresh_loop)
    app.router.add_get("/company/about-us", about)
    app.router.add_get("/consent", consent)
    app.router.add_get("/cookie/set-then", cookie_set_then)
    app.router.add_get("/cookie/echo", cookie_echo)
    app.router.add_get("/echo", echo)
    app.router.add_get("/register", register)
    app.router.add_get("/compressed/{kind}", compressed)
    app.router.add_get("/canonical", canonical)
    app.router.add_get("/realweb/{file}", realweb)
    app.router.add_get("/e2e/moved", e2e_moved)
    app.router.add_get("/e2e/northwind/about", e2e_northwind)
    app.router.add_get("/e2e/consent", e2e_consent)
    app.router.add_get("/search", search)
    return app


def main() -> None:  # pragma: no cover - runs in the server subprocess
    from tests.fixtures_fetch import serve_forever

    serve_forever(build_app)


def realweb_dir() -> Path:
    """``shared/realweb`` in the nearest folder above the repository: ``../shared`` in CI, further up from a worktree."""
    for parent in ROOT.parents:
        if (parent / "shared" / "realweb" / "manifest.json").is_file():
            return parent / "shared" / "realweb"
    return ROOT.parent / "shared" / "realweb"


@pytest.fixture(scope="session")
def browser_web():
    from tests.fixtures_fetch import FetchServer  # imported late: pytest loads that plugin first and rewrites it

    env = {**os.environ, "PYTHONPATH": str(ROOT), "REALWEB_DIR": str(realweb_dir())}
    proc = subprocess.Popen([sys.executable, "-m", "tests.fixtures_browser_web"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline, line = time.monotonic() + 30, ""
        while not line and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"browser-web test server did not start (exit code {proc.poll()})")
        yield FetchServer(proc, int(line))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


if __name__ == "__main__":  # pragma: no cover
    main()
