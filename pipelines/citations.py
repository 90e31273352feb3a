"""Citations that point into a PDF: ``url#page=N``.

A PDF's chunks remember their page (``ExtractedPage.chunk_pages``). The judge
quotes excerpts from the chunks it was shown; each excerpt is traced back to
the chunk it shares most words with, and so to its page. The summarizer then
sees one source per (PDF, page), so its citation names the page, and a
citation ``url#page=N`` passes the "only fetched pages" check when ``url`` is
a PDF fetched for the cell and N one of the pages its text came from. The
fragment is the PDF open parameter of RFC 8118 §3 (``#page=N``, 1-based).
"""

from __future__ import annotations

import re

from pipelines.pdf import page_url

__all__ = ["excerpt_page", "sources_by_page", "pdf_citation"]

_PAGE_FRAGMENT = re.compile(r"^(?P<base>[^#]+)#page=(?P<page>[1-9][0-9]{0,5})$")


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def excerpt_page(excerpt: str, chunks: list[str], chunk_pages: list[int]) -> int | None:
    """The 1-based PDF page of the chunk that shares most words with ``excerpt``; None without pages."""
    if not chunk_pages or len(chunk_pages) != len(chunks):
        return None
    wanted = _words(excerpt)
    best = max(range(len(chunks)), key=lambda i: (len(wanted & _words(chunks[i])), -i))
    return chunk_pages[best]


def sources_by_page(url: str, excerpts: list[str], chunks: list[str], chunk_pages: list[int]) -> list[tuple[str, list[str]]]:
    """[(url or url#page=N, excerpts)], in first-seen order: one entry per PDF page quoted, or one for a non-PDF."""
    if not chunk_pages:
        return [(url, excerpts)]
    grouped: dict[str, list[str]] = {}
    for excerpt in excerpts:
        page = excerpt_page(excerpt, chunks, chunk_pages)
        grouped.setdefault(page_url(url, page) if page else url, []).append(excerpt)
    return list(grouped.items())


def pdf_citation(cite: str, pdf_pages: dict[str, set[int]], normalize) -> str | None:
    """``cite`` as ``<fetched url>#page=N`` when it names a page of a PDF fetched for the cell, else None.

    ``pdf_pages`` maps each fetched PDF's URL (and normalized final URL) to the pages its chunks came from;
    ``normalize`` is the URL normalizer the cell uses for its other citations.
    """
    match = _PAGE_FRAGMENT.match(cite.strip())
    if match is None:
        return None
    page = int(match.group("page"))
    for candidate in (match.group("base"), normalize(match.group("base"))):
        if page in pdf_pages.get(candidate, ()):
            return page_url(candidate, page)
    return None
