"""A proxy in front of the world's site that makes every page long, for the token benchmark.

The local world's pages are short: their main text fits in one 800-character
chunk, so ranking chunks has nothing to choose from. Real pages are long and
mostly about something else. This proxy listens on 127.0.0.2 at the site's
port (so the URLs the search engine returns stay valid: point
``fetch.resolve`` at 127.0.0.2), forwards each request to the real site on
127.0.0.1 and, for HTML pages of company hosts, adds to the article either

- ``filler="neutral"``: sections of corporate prose with no facts in them
  (values, sustainability, customer service...), about 6,500 characters; or
- ``filler="distractors"``: an "Industry roundup" with the full text of
  ``extra_pages`` pages about *other* companies of the world — their CEOs,
  cities and funding rounds, which a judge must tell apart from the page's own.
"""

from __future__ import annotations

import asyncio
import threading
from html import escape

import aiohttp
from aiohttp import web

from pipelines.world.corpus import Corpus
from pipelines.world.pages import site_pages

__all__ = ["LongPageProxy"]

_FILLER_PATHS = ("/about", "/team", "/news", "/careers", "/")
_NEUTRAL = (
    ("Our values", "We believe that lasting relationships are built on trust, transparency and a shared commitment to "
     "doing the right thing. Every decision we make starts with the question of how it will serve the people who rely "
     "on our work, today and in the years ahead."),
    ("Sustainability", "Reducing our environmental footprint is part of how we operate. We measure the energy used by "
     "our offices and data centres, favour suppliers who publish their own targets, and review our progress every "
     "quarter with an independent adviser."),
    ("Customer service", "Our support team answers questions by phone, chat and e-mail in several languages. Most "
     "requests are resolved on first contact, and every customer can reach a named account manager when a problem "
     "needs more time."),
    ("Quality", "Quality is not a department but a habit. Our processes follow recognised management standards, and "
     "feedback from audits, customers and colleagues flows into a single improvement plan that everyone can read."),
    ("Working with partners", "We work with integrators, resellers and consultancies around the world. Partners get "
     "early access to our roadmap, joint training sessions and a dedicated portal with documentation and tools."),
    ("Security and privacy", "Protecting data is a responsibility we take seriously. Access is granted on a need-to-know "
     "basis, systems are tested regularly by outside specialists, and we never sell information about our customers."),
    ("Community", "Our colleagues volunteer in local schools, mentor young engineers and support charities chosen by "
     "staff vote. We match donations and give every employee paid days for community work."),
    ("Learning", "Curiosity keeps us moving. Everyone has a yearly learning budget, access to online courses and time to "
     "attend conferences, and internal talks share what teams have learned with the whole organisation."),
    ("Accessibility", "We design our products and this website to be usable by as many people as possible, following "
     "widely adopted accessibility guidelines, and we welcome feedback on anything that gets in the way."),
    ("Legal notice", "The information on this page is provided for general purposes only and may change without "
     "notice. Trademarks mentioned here belong to their respective owners. Please read our terms of use."),
)


class LongPageProxy:
    """``with LongPageProxy(world) as proxy:`` — serves on ``proxy.ip``:``world.site_port``."""

    def __init__(self, world, *, filler: str = "neutral", extra_pages: int = 6, ip: str = "127.0.0.2") -> None:
        if filler not in ("neutral", "distractors"):
            raise ValueError(f"filler must be 'neutral' or 'distractors', not {filler!r}")
        self.world = world
        self.filler = filler
        self.ip = ip
        self.extra_pages = extra_pages
        self.corpus = Corpus(world.config.seed, world.config.companies)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="long-page-proxy", daemon=True)
        self._fillers: dict[str, str] = {}

    def _filler(self, host: str) -> str:
        if self.filler == "neutral":  # the sections three times over (~6,500 characters): a long corporate page
            return "".join(f"<section><h2>{escape(h)}{f' ({n})' if n else ''}</h2><p>{escape(p)}</p></section>"
                           for n in range(3) for h, p in _NEUTRAL)
        if host not in self._fillers:
            others = [c for c in self.corpus.companies if c.host != host] or self.corpus.companies
            start = sum(map(ord, host)) % len(others)
            sections = []
            for i in range(self.extra_pages):
                company = others[(start + i) % len(others)]
                pages = site_pages(self.corpus, company.host)
                path = _FILLER_PATHS[i % len(_FILLER_PATHS)]
                doc = pages[path]() if path in pages else next(iter(pages.values()))()
                paras = "".join(f"<p>{escape(line)}</p>" for line in doc.text().splitlines() if line.strip())
                sections.append(f"<section><h2>Industry roundup: {escape(company.name)}</h2>{paras}</section>")
            self._fillers[host] = "".join(sections)
        return self._fillers[host]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        host = (request.host or "").rsplit(":", 1)[0].lower()
        url = f"http://127.0.0.1:{self.world.site_port}{request.rel_url}"
        async with self._session.get(url, headers={"Host": request.host, "User-Agent": request.headers.get("User-Agent", "")},
                                     allow_redirects=False) as resp:
            body = await resp.read()
            headers = {k: v for k, v in resp.headers.items() if k.lower() in ("content-type", "location", "retry-after")}
            ctype = resp.headers.get("Content-Type", "")
        if resp.status == 200 and ctype.startswith("text/html") and host in self.corpus.by_host and b"</article>" in body:
            text = body.decode("utf-8")
            body = text.replace("</article>", self._filler(host) + "</article>", 1).encode("utf-8")
        return web.Response(status=resp.status, body=body, headers=headers)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._session = aiohttp.ClientSession()
            app = web.Application()
            app.router.add_get("/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, self.ip, self.world.site_port).start()

        self._loop.run_until_complete(start())
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> LongPageProxy:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("long-page proxy did not start")
        return self

    def __exit__(self, *exc) -> None:
        async def stop() -> None:
            await self._runner.cleanup()
            await self._session.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
