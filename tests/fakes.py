"""In-process stand-ins for the Ray services, for pipelines unit tests (no Ray, no sockets).

The LLM is the local world's real extractive engine called as a function;
search is term overlap over a handful of pages; pages go through the real
extraction code.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass

from pipelines.errors import UnavailableError
from pipelines.extract import extract_page
from pipelines.llm.types import LLMResult
from pipelines.reasons import join_reason
from pipelines.search.types import SearchHit
from pipelines.world.extractive import complete


def html_page(title: str, *paragraphs: str) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html><head><title>{title}</title></head><body><nav>Home | About | News</nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>Imprint</footer></body></html>").encode()


SITE = {
    "http://acme.example/about": html_page(
        "About Acme Robotics",
        "Acme Robotics was founded in 2004 in Leipzig by two engineers.",
        "Acme Robotics is led by Chief Executive Officer Jane Doe.",
        "Before joining Acme Robotics, Jane Doe worked at Globex Corporation for ten years.",
    ),
    "http://acme.example/team": html_page(
        "Team", "Jane Doe is the CEO of Acme Robotics.", "Acme Robotics employs about 1,200 people."
    ),
    "http://beta.example/about": html_page(
        "About Beta Labs", "Beta Labs was founded in 1999 in Porto.", "Beta Labs is led by CEO John Roe."
    ),
}


@dataclass
class _Fetched:
    url: str
    body: bytes | None
    status: str = "ok"
    content_type: str = "text/html"
    charset: str = "utf-8"
    reason: str | None = None


class FakeServices:
    def __init__(self, site: dict[str, bytes] | None = None, *, fail_llm_for: str | None = None):
        self.site = site if site is not None else SITE
        self.records: dict[str, list[dict]] = {}
        self.counters: Counter = Counter()
        self.page_fetches: Counter = Counter()
        self.llm_stages: Counter = Counter()
        self.fail_llm_for = fail_llm_for  # a substring of the question that makes every LLM call fail
        self._pages: dict[str, asyncio.Future] = {}
        self.python_cache = None  # a PythonResultCache when a test wants python results cached

    async def llm(self, req):
        self.llm_stages[req.stage] += 1
        if self.fail_llm_for and self.fail_llm_for in req.messages[-1]["content"]:
            raise UnavailableError("provider down", reason="http_503")
        await asyncio.sleep(0)
        text = complete(req.messages)
        return LLMResult(text=text, provider="fake", model="trawl-extractive", input_tokens=10, output_tokens=5)

    async def search(self, req):
        terms = set(re.findall(r"\w+", req.query.lower()))
        scored = []
        for url, body in self.site.items():
            words = set(re.findall(r"\w+", body.decode(errors="replace").lower()))  # PDFs too
            if terms & words:
                scored.append((len(terms & words), url))
        scored.sort(key=lambda t: (-t[0], t[1]))
        return [SearchHit(url=u, title=u, snippet="", rank=i + 1, provider="fake") for i, (_, u) in enumerate(scored[: req.count])]

    async def page(self, url):
        if url not in self._pages:
            self.page_fetches[url] += 1
            body = self.site.get(url)
            fetched = _Fetched(url, body, status="ok" if body else "failed", reason=None if body else "http_404")
            fut = asyncio.get_running_loop().create_future()
            fut.set_result(extract_page(fetched, chunk_chars=400))
            self._pages[url] = fut
        return await self._pages[url]

    async def run_python(self, target, version, kwargs):
        from pipelines.tasks.python_kind import run_python_inline

        self.counters["python_inline"] += 1
        return await run_python_inline(target, version, kwargs)

    def record(self, table, records):
        self.records.setdefault(table, []).extend(records)

    def count(self, counter, n=1):
        self.counters[counter] += n

    def cells(self) -> dict[tuple[str, str], dict]:
        """Recorded cells by (row, column), with the ``error`` column the store's readers add (``reason: message``)."""
        return {(r["row_key"], r["column"]): {**r, "error": join_reason(r.get("reason"), r.get("message"))}
                for r in self.records.get("cells", [])}


class FakeTime:
    """A clock that only moves when code sleeps on it: tests assert the waits asked for, not wall time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 3))
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)
