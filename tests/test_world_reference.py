"""The local world is answerable: a plain sequential research loop scores >= 90% on its planted facts.

The loop is the cell workflow of the design brief with nothing clever in it:
expand (LLM) -> search (SearXNG API) -> fetch (aiohttp, Host-header routing)
-> trafilatura -> top-3 chunks by term overlap -> judge (LLM) -> summarize
(LLM), using pipelines.prompts builders and parsers and the official openai
client. Run it directly for a report of the accuracy and the misses:

    .venv/bin/python -m tests.test_world_reference
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request

import aiohttp
import pytest
import trafilatura
from openai import OpenAI

from pipelines.prompts import PageForJudge, SourceForSummary, expand_messages, judge_messages, parse_judgement, parse_keywords, parse_summary, summarize_messages
from pipelines.world import COLUMN_TRUTH, DEFAULT_COLUMNS
from pipelines.world.textutil import terms
from pipelines.world.truth import load_truth, score_results

MAX_PAGES, RESULTS_PER_KEYWORD, KEYWORDS, CHUNKS = 12, 10, 4, 3


def _search(base: str, query: str) -> list[str]:
    url = f"{base}/search?{urllib.parse.urlencode({'q': query, 'format': 'json'})}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return [r["url"] for r in json.load(resp)["results"][:RESULTS_PER_KEYWORD]]


async def _fetch_all(urls: list[str], site_port: int) -> dict[str, str]:
    out: dict[str, str] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async def one(url: str) -> None:
            parts = urllib.parse.urlsplit(url)
            # What fetch.resolve {"*.example": "127.0.0.1"} does: connect to loopback, keep the Host.
            target = f"http://127.0.0.1:{site_port}{parts.path}"
            async with session.get(target, headers={"Host": parts.netloc}) as resp:
                if resp.status == 200:
                    out[url] = await resp.text()
        await asyncio.gather(*(one(u) for u in urls))
    return out


def _chunks(text: str, size: int = 800) -> list[str]:
    chunks, buf = [], ""
    for line in text.splitlines():
        if buf and len(buf) + len(line) > size:
            chunks.append(buf)
            buf = ""
        buf = f"{buf}\n{line}".strip()
    return chunks + ([buf] if buf else [])


def _top_chunks(text: str, question: str) -> list[str]:
    q = set(terms(question))
    ranked = sorted(_chunks(text), key=lambda c: -len(q & set(terms(c))))
    return ranked[:CHUNKS]


class ReferenceLoop:
    def __init__(self, world) -> None:
        self.world = world
        self.llm = OpenAI(base_url=world.llm_base_url, api_key="local", max_retries=2)
        self.pages: dict[str, str | None] = {}  # url -> extracted text (page fan-in across cells)

    def _ask(self, messages) -> str:
        reply = self.llm.chat.completions.create(model="trawl-extractive", messages=messages, temperature=0)
        return reply.choices[0].message.content or ""

    def _texts(self, urls: list[str]) -> dict[str, str]:
        missing = [u for u in urls if u not in self.pages]
        for url, html in asyncio.run(_fetch_all(missing, self.world.site_port)).items():
            self.pages[url] = trafilatura.extract(html, url=url)
        return {u: self.pages[u] for u in urls if self.pages.get(u)}

    def cell(self, question: str, context: dict[str, str], answer_type: str) -> str | None:
        keywords = parse_keywords(self._ask(expand_messages(question, context, KEYWORDS)), KEYWORDS)
        per_kw = [_search(self.world.search_base_url, k) for k in keywords]
        urls: list[str] = []
        for rank in range(RESULTS_PER_KEYWORD):  # round-robin over keywords, deduplicated
            for hits in per_kw:
                if rank < len(hits) and hits[rank] not in urls and len(urls) < MAX_PAGES:
                    urls.append(hits[rank])
        sources = []
        for i, (url, text) in enumerate(self._texts(urls).items()):
            page = PageForJudge(f"P{i}", url, text.split("\n", 1)[0], _top_chunks(text, question))
            excerpts = parse_judgement(self._ask(judge_messages(question, context, page)))
            if excerpts:
                sources.append(SourceForSummary(f"S{len(sources) + 1}", url, page.title, excerpts))
        if not sources:
            return None
        return parse_summary(self._ask(summarize_messages(question, context, answer_type, sources))).answer

    def row(self, row: dict[str, str]) -> dict:
        out = dict(row)
        for column, spec in DEFAULT_COLUMNS.items():  # declared in dependency order
            context = {**row, **{d: out.get(d) or "" for d in spec.get("depends_on", [])}}
            question = spec["question"].format(**context)
            out[column] = self.cell(question, context, spec["type"])
        return out


def run_reference(world) -> dict:
    loop = ReferenceLoop(world)
    rows = [loop.row(r) for r in world.companies]
    return score_results(rows, load_truth(world.ground_truth_path), COLUMN_TRUTH)


@pytest.mark.slow
def test_reference_loop_scores_at_least_90_percent(world):
    report = run_reference(world)
    print(json.dumps(report, indent=1, default=str))
    assert report["overall"]["total"] == len(world.companies) * len(DEFAULT_COLUMNS)
    assert report["overall"]["accuracy"] >= 0.9, report["misses"]


@pytest.mark.slow
def test_indexed_injection_pages_are_found_but_do_not_win(tmp_path):
    from pipelines.world import WorldConfig, start_world

    with start_world(WorldConfig(companies=3, seed=7, index_traps=True), world_dir=tmp_path) as w:
        truth = load_truth(w.ground_truth_path)["by_company"]
        loop = ReferenceLoop(w)
        for row in w.companies:
            question = f"Who is the CEO of {row['company']}?"
            assert any("/_trap/injection" in u for u in _search(w.search_base_url, question)), "the trap is searchable"
            assert loop.cell(question, row, "text") == truth[row["company"]]["ceo"]


if __name__ == "__main__":
    from pipelines.world import WorldConfig, start_world

    with start_world(WorldConfig(companies=5, seed=7)) as w:
        print(json.dumps(run_reference(w), indent=1, default=str))
