"""A fetched PDF -> an ``ExtractedPage`` whose chunks remember their PDF page.

Each PDF page is chunked on its own (a chunk never spans two pages), so
``chunk_pages[i]`` is the 1-based page of ``chunks[i]`` and a citation can
point at ``url#page=N`` (``pipelines.citations``). Problems become a skipped
page with the reason from ``pipelines.pdf`` (``pdf_encrypted``, ``pdf_no_text``,
``pdf_error``, ``pdf_timeout``).
"""

from __future__ import annotations

import logging
import time

from pipelines.extract import ExtractedPage, chunk_text
from pipelines.pdf import is_pdf, read_pdf
from pipelines.settings import PdfSettings

__all__ = ["extract_pdf_into", "is_pdf"]

logger = logging.getLogger(__name__)


def extract_pdf_into(page: ExtractedPage, body: bytes, *, chunk_chars: int, settings: PdfSettings | None,
                     started: float) -> ExtractedPage:
    """Fill ``page`` (title, text, chunks, chunk_pages) from the PDF ``body``; a problem skips the page with its reason."""
    page.content_type = "application/pdf"
    try:
        pdf = read_pdf(body, settings)
    except Exception as exc:  # noqa: BLE001 - PDFium bindings may raise anything on hostile files; a bad page is an outcome
        logger.info("pdf: %s unreadable: %s", page.url, exc)
        pdf = None
        page.status, page.reason = "skipped", f"pdf_error: {type(exc).__name__}: {str(exc)[:200]}"
    page.extract_ms = (time.perf_counter() - started) * 1000
    if pdf is None:
        return page
    if pdf.problem is not None:
        page.status, page.reason = "skipped", pdf.problem
        return page
    texts = []
    for number, text in enumerate(pdf.pages, start=1):
        if not text.strip():
            continue
        texts.append(text)
        for chunk in chunk_text(text, chunk_chars):
            page.chunks.append(chunk)
            page.chunk_pages.append(number)
    page.text = "\n\n".join(texts)
    page.title = pdf.title or _first_line(page.text)
    if pdf.truncated:
        logger.info("pdf: %s read %d of %d page(s) (caps)", page.url, len(pdf.pages), pdf.page_count)
    return page


def _first_line(text: str, limit: int = 120) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line[:limit]
