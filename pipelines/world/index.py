"""A BM25 search index (bm25s) over pages, and the documents that feed it.

``SearchIndex`` ranks ``Document``s for a query and makes a snippet from the
best-matching sentences. Documents come from the generated world
(``world_documents``), a folder of HTML, text and PDF files
(``folder_documents``) or a file listing URLs (``url_documents``, fetched with
aiohttp; HTML, text and PDF responses) — the latter two
are what ``trawl index`` builds for a team's intranet or site dump.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import bm25s
import numpy as np

from pipelines.world.corpus import Corpus
from pipelines.world.pages import DISALLOWED, site_pages
from pipelines.world.textutil import split_sentences, terms

__all__ = ["Document", "Hit", "SearchIndex", "parse_site_operators", "world_documents", "folder_documents", "url_documents", "html_document"]


@dataclass(frozen=True)
class Document:
    url: str
    title: str
    text: str


@dataclass(frozen=True)
class Hit:
    url: str
    title: str
    snippet: str
    score: float


def world_documents(corpus: Corpus, site_port: int, traps: bool = False) -> Iterator[Document]:
    """Every public page of the world (robots-disallowed ones excluded), as the site server renders it.

    With ``traps``, each company's prompt-injection page (``/_trap/injection``) is indexed too, so a
    hostile-input test can make the pipeline meet it through search like any other page.
    """
    port = "" if site_port == 80 else f":{site_port}"
    for host in corpus.hosts:
        for path, build in site_pages(corpus, host).items():
            if path.startswith(DISALLOWED):
                continue
            doc = build()
            yield Document(f"http://{host}{port}{path}", doc.title, doc.text())
    if traps:
        from pipelines.world.traps import injection_text

        for company in corpus.companies:
            title, text = injection_text(company.name)
            yield Document(f"http://{company.host}{port}/_trap/injection", title, text)


def html_document(url: str, html: str) -> Document | None:
    """Title and main text of one HTML page (trafilatura); None when it has no usable text."""
    import trafilatura

    text = trafilatura.extract(html, url=url, include_comments=False, favor_recall=True)
    if not text:
        return None
    meta = trafilatura.extract_metadata(html, default_url=url)
    title = (meta.title if meta and meta.title else "") or text.split("\n", 1)[0][:120]
    return Document(url, title, text)


def folder_documents(folder: str | os.PathLike, base_url: str | None = None) -> Iterator[Document]:
    """HTML, text and PDF files under ``folder`` (``pipelines.world.documents``); URLs are ``base_url`` + relative
    path (percent-encoded), or file:// URLs."""
    from urllib.parse import quote

    from pipelines.world.documents import file_document, folder_files

    for path, rel in folder_files(folder):
        url = f"{base_url.rstrip('/')}/{quote(rel)}" if base_url else path.as_uri()
        doc = file_document(path, url)
        if doc:
            yield doc


async def _fetch_all(urls: list[str], concurrency: int, timeout_s: float, max_bytes: int) -> list[Document]:
    import aiohttp

    from pipelines.world.documents import body_document

    sem = asyncio.Semaphore(concurrency)
    out: list[Document] = []

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        async with sem:
            try:
                async with session.get(url) as resp:
                    if resp.status != 200:
                        return
                    buffer = bytearray()  # read() returns what is buffered, not the whole body: read to EOF or the cap
                    async for chunk in resp.content.iter_chunked(65_536):
                        buffer += chunk
                        if len(buffer) >= max_bytes:
                            break
                    body = bytes(buffer[:max_bytes])
                    ctype = resp.headers.get("Content-Type")
                    doc = body_document(url, body, ctype.split(";")[0].strip().lower() if ctype else None, resp.charset)
                    if doc:
                        out.append(doc)
            except (TimeoutError, aiohttp.ClientError, UnicodeError):
                return  # one bad URL never stops the index build

    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": "trawl-index/0.1"}) as session:
        await asyncio.gather(*(one(session, u) for u in urls))
    order = {u: i for i, u in enumerate(urls)}
    return sorted(out, key=lambda d: order[d.url])


def url_documents(list_file: str | os.PathLike, concurrency: int = 8, timeout_s: float = 20.0,
                  max_bytes: int = 5_000_000) -> list[Document]:
    """Fetch every URL listed (one per line, '#' comments allowed) and keep the pages with text."""
    urls = [ln.strip() for ln in Path(list_file).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return asyncio.run(_fetch_all(urls, concurrency, timeout_s, max_bytes))


class SearchIndex:
    """BM25 over title + text; ``search`` returns ranked ``Hit``s with query-focused snippets."""

    def __init__(self, documents: Iterable[Document]) -> None:
        self.docs: list[Document] = list(documents)
        vocab: dict[str, int] = {"_empty_": 0}
        ids = []
        for d in self.docs:  # token ids built here: bm25s maps strings to ids much more slowly
            ids.append([vocab.setdefault(t, len(vocab)) for t in terms(f"{d.title} {d.title} {d.text}")] or [0])
        self.retriever = bm25s.BM25()
        if self.docs:
            self.retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        self.vocab = vocab

    def __len__(self) -> int:
        return len(self.docs)

    def search(self, query: str, limit: int = 10, offset: int = 0) -> list[Hit]:
        """Ranked hits; ``site:host`` / ``-site:host`` operators (as search engines take them) filter by host."""
        text, include, exclude = parse_site_operators(query)
        q = [t for t in terms(text) if t in self.vocab]
        if not q or not self.docs:
            return []
        filtered = bool(include or exclude)
        k = min(len(self.docs), max(2000, (offset + limit) * 50) if filtered else offset + limit)
        ids, scores = self.retriever.retrieve([q], k=k, show_progress=False, n_threads=1)
        hits: list = []
        for doc_id, score in zip(np.asarray(ids)[0], np.asarray(scores)[0]):
            if score <= 0 or len(hits) >= offset + limit:
                break
            doc = self.docs[int(doc_id)]
            if filtered and not _site_allowed(doc.url, include, exclude):
                continue
            body = doc.text[len(doc.title):] if doc.text.startswith(doc.title) else doc.text
            hits.append(Hit(doc.url, doc.title, snippet(body, q), float(score)))
        return hits[offset:]


_SITE = re.compile(r"(-?)site:([\w.-]+)", re.I)


def parse_site_operators(query: str) -> tuple[str, list[str], list[str]]:
    """``'ceo (site:a.example OR site:b.example) -site:c.example'`` -> ('ceo', [a, b], [c])."""
    include = [m.group(2).lower() for m in _SITE.finditer(query) if not m.group(1)]
    exclude = [m.group(2).lower() for m in _SITE.finditer(query) if m.group(1)]
    text = _SITE.sub(" ", query)
    text = re.sub(r"[()]|\bOR\b", " ", text) if include or exclude else text
    return " ".join(text.split()), include, exclude


def _site_allowed(url: str, include: list[str], exclude: list[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    matches = lambda d: host == d or host.endswith("." + d)  # noqa: E731
    return (not include or any(matches(d) for d in include)) and not any(matches(d) for d in exclude)


def snippet(text: str, query_terms: list[str], max_chars: int = 300) -> str:
    """The sentences sharing most terms with the query, in page order, up to ``max_chars``."""
    wanted = set(query_terms)
    sentences = split_sentences(text)
    ranked = sorted(range(len(sentences)), key=lambda i: -len(wanted & set(terms(sentences[i]))))
    chosen: list[int] = []
    size = 0
    for i in ranked:
        if size + len(sentences[i]) > max_chars and chosen:
            break
        chosen.append(i)
        size += len(sentences[i]) + 1
    out = " ".join(sentences[i] for i in sorted(chosen))
    return out if len(out) <= max_chars else out[: max_chars - 1] + "…"
