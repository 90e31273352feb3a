"""Documents of a folder for ``trawl index``: HTML, plain text and PDF files, each as a search ``Document``.

Files are recognized by their suffix here (the folder is the user's own; the
fetcher still judges the served bytes by Content-Type and magic, see
``pipelines.fetch.fetcher``). A page whose text its scripts build is indexed by
its ``<title>`` and ``<meta name="description">``, as a search engine that does
not run scripts would; the render tier reads its text when a job fetches it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

__all__ = ["FOLDER_SUFFIXES", "folder_files", "file_document", "body_document"]

logger = logging.getLogger(__name__)

FOLDER_SUFFIXES = {".html": "html", ".htm": "html", ".xhtml": "html", ".txt": "text", ".pdf": "pdf"}
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_DESCRIPTION = re.compile(r"""<meta\s+[^>]*name=["']description["'][^>]*content=["']([^"']*)["']""", re.IGNORECASE)


def folder_files(folder: str | os.PathLike) -> Iterator[tuple[Path, str]]:
    """(path, relative POSIX path) of every indexable file under ``folder``, sorted; hidden files are left out."""
    root = Path(folder).resolve()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.suffix.lower() in FOLDER_SUFFIXES and path.is_file() and not any(p.startswith(".") for p in rel.split("/")):
            yield path, rel


def file_document(path: Path, url: str):
    """The ``Document`` of one file, or None when it has no text to index."""
    return _document(url, path.read_bytes(), FOLDER_SUFFIXES[path.suffix.lower()], "utf-8")


def body_document(url: str, body: bytes, content_type: str | None, charset: str | None = None):
    """The ``Document`` of a fetched response (HTML, text/plain or PDF by type or ``%PDF-`` magic), or None."""
    from pipelines.pdf import is_pdf

    if is_pdf(content_type, body):
        return _document(url, body, "pdf", None)
    if content_type and content_type.startswith("text/plain"):
        return _document(url, body, "text", charset or "utf-8")
    if content_type is None or "html" in content_type:
        return _document(url, body, "html", charset or "utf-8")
    return None


def _document(url: str, body: bytes, kind: str, charset: str | None):
    from pipelines.world.index import Document, html_document

    if kind == "pdf":
        from pipelines.pdf import read_pdf

        pdf = read_pdf(body)
        if pdf.problem:
            logger.info("index: %s left out: %s", url, pdf.problem)
            return None
        text = "\n\n".join(pdf.pages)
        return Document(url, pdf.title or _first_line(text), text)
    try:
        raw = body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        raw = body.decode("utf-8", errors="replace")
    if kind == "text":
        return Document(url, _first_line(raw), raw.strip()) if raw.strip() else None
    return html_document(url, raw) or _described(url, raw)


def _described(url: str, html: str):
    from pipelines.world.index import Document

    title = _TITLE.search(html)
    description = _DESCRIPTION.search(html)
    parts = [unescape(m.group(1)).strip() for m in (title, description) if m]
    if not any(parts):
        return None
    return Document(url, parts[0], " ".join(parts))


def _first_line(text: str, limit: int = 120) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:limit]
