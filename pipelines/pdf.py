"""PDF bodies -> text per page, with caps; every problem becomes a reason, never an exception.

A body is a PDF when its Content-Type says so or its first bytes are the
``%PDF-`` header (ISO 32000-1 §7.5.2: "The first line of a PDF file shall be a
header consisting of the 5 characters %PDF-"); the URL's suffix is never
trusted. Text comes from PDFium through pypdfium2 (Apache-2.0/BSD-3): in
``benchmarks/pdf_readers.py`` it read the same generated PDFs about 4x faster
than pypdf and about 40x faster than pdfminer.six, with the same text
(BENCHMARKS.md §8). PyMuPDF is faster still but AGPL-3.0, which would bind
every trawl deployment that serves results over a network.

Outcomes (the ``reason`` of a skipped page; slug before the colon):

- ``pdf_encrypted``  the document needs a password (an owner-password-only PDF opens and is read)
- ``pdf_no_text``    no page has a text layer: scanned or image-only (trawl does no OCR)
- ``pdf_error``      PDFium could not parse it (damaged or not a PDF after all)
- ``pdf_timeout``    the time cap ended the read before any page (when some pages were read, they are kept)

Caps: ``max_pages`` pages are read (later pages are left out and counted),
``timeout_s`` is checked between pages (PDFium cannot be interrupted inside a
page). The byte cap is the fetcher's (``fetch.pdf.max_bytes``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from pipelines.settings import PdfSettings

__all__ = ["PDF_MAGIC", "PDF_TYPES", "PdfSettings", "PdfText", "is_pdf", "read_pdf", "page_url"]

logger = logging.getLogger(__name__)

PDF_MAGIC = b"%PDF-"
PDF_TYPES = frozenset({"application/pdf", "application/x-pdf"})
# Readers accept the header anywhere in the first 1024 bytes (PDF Reference 1.7, Appendix H implementation notes:
# Acrobat looks for it there), so junk before it does not make a PDF something else.
_HEADER_WINDOW = 1024
# Titles writers put in when the author gave none (reportlab: "untitled"); the first line of text says more.
_PLACEHOLDER_TITLES = frozenset({"", "untitled", "untitled document", "document"})


@dataclass
class PdfText:
    """Text of a PDF: ``pages[i]`` is page ``i + 1``; ``problem`` is a reason (``"<slug>: <message>"``) or None."""

    pages: list[str] = field(default_factory=list)
    page_count: int = 0
    problem: str | None = None
    truncated: bool = False  # max_pages or timeout_s left pages out
    title: str = ""  # the document information dictionary's /Title, when set


def is_pdf(content_type: str | None, body: bytes | None) -> bool:
    """True when the media type is a PDF type or the body starts with ``%PDF-`` (leading junk tolerated)."""
    if content_type in PDF_TYPES:
        return True
    return body is not None and PDF_MAGIC in body[:_HEADER_WINDOW]


def page_url(url: str, page: int) -> str:
    """``url#page=N``: the PDF open-parameter fragment (RFC 8118 §3) viewers use to open page N (1-based)."""
    return f"{url.split('#', 1)[0]}#page={page}"


def read_pdf(body: bytes, settings: PdfSettings | None = None, *, clock=time.monotonic) -> PdfText:
    """Text per page of ``body``; never raises for a bad document (see ``PdfText.problem``)."""
    import pypdfium2 as pdfium  # imported lazily: only extraction workers read PDFs

    settings = settings or PdfSettings()
    try:
        doc = pdfium.PdfDocument(body)
    except pdfium.PdfiumError as exc:
        text = str(exc)
        if "password" in text.lower():
            return PdfText(problem="pdf_encrypted: the document needs a password to open")
        return PdfText(problem=f"pdf_error: {text[:200]}")
    try:
        return _read_pages(doc, settings, clock)
    finally:
        doc.close()


def _read_pages(doc, settings: PdfSettings, clock) -> PdfText:
    out = PdfText(page_count=len(doc), title=_title(doc))
    deadline = clock() + settings.timeout_s
    for index in range(min(out.page_count, settings.max_pages)):
        if clock() > deadline:
            out.truncated = True
            logger.info("pdf: time cap %.1fs reached after %d of %d pages", settings.timeout_s, index, out.page_count)
            break
        page = doc[index]
        try:
            textpage = page.get_textpage()
            out.pages.append(_clean(textpage.get_text_range()))
            textpage.close()
        finally:
            page.close()
    out.truncated = out.truncated or out.page_count > settings.max_pages
    if not out.pages and out.page_count:
        out.problem = f"pdf_timeout: no page read within {settings.timeout_s:g}s"
    elif not any(p.strip() for p in out.pages):
        out.problem = (f"pdf_no_text: none of {len(out.pages)} page(s) has a text layer "
                       "(scanned or image-only; trawl does no OCR)")
    return out


def _title(doc) -> str:
    try:
        title = (doc.get_metadata_dict().get("Title") or "").strip()[:200]
    except Exception:  # noqa: BLE001 - a broken info dictionary costs the title, not the text
        logger.debug("pdf: unreadable metadata")
        return ""
    return "" if title.lower() in _PLACEHOLDER_TITLES else title


def _clean(text: str) -> str:
    # PDFium ends lines with CRLF and marks soft hyphens / form feeds; keep paragraphs as lines.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n").replace("\ufffe", "").strip()
