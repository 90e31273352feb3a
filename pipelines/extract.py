"""HTML → main text → chunks, for one fetched page.

Runs inside batched Ray tasks (CPU-bound; never in an async actor). A page
trafilatura cannot use becomes an ``ExtractedPage`` with status "skipped"
and a reason, never an exception: one bad page must not sink a batch.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pipelines.fetch.decode import decode_body
from pipelines.status import PageStatus

if TYPE_CHECKING:
    from pipelines.chunk_index import ChunkIndex

__all__ = ["ExtractedPage", "extract_page", "chunk_text", "page_record"]

# Measured on the 300 pages of shared/realweb (tests/test_realweb_gate.py, benchmarks/realweb.py):
# a main text shorter than this is retried with favor_recall (pages whose article trafilatura's default misses);
RECALL_RETRY_CHARS = 200
# a comments section at least this long is real discussion and kept; shorter ones are "0 comments" boilerplate.
COMMENTS_MIN_CHARS = 500
logger = logging.getLogger(__name__)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ0-9\"'])")


@dataclass
class ExtractedPage:
    """A fetched URL after extraction: what the judge reads and what the ``pages`` table records.

    ``url`` as asked (normalized) and ``final_url`` after redirects; ``status`` one of
    ``PageStatus`` with ``reason`` ("<slug>: <message>") when not ok; ``bytes`` of the body;
    ``fetch_ms``/``extract_ms`` in milliseconds; ``text`` the main text (trafilatura) and
    ``chunks`` its ranked-to-be pieces of about ``research.chunk_chars`` characters each;
    ``fetched_at`` UTC; ``fetcher``/``node_id`` name who fetched it. Never raised: a page that
    cannot be used is an ``ExtractedPage`` with a reason.
    """

    url: str
    final_url: str
    status: str  # one of PageStatus
    reason: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    bytes: int = 0
    fetch_ms: float = 0.0
    from_page_store: bool = False
    fetched_at: datetime | None = None
    fetcher: str | None = None
    encoding: str | None = None  # the body's encoding (pipelines.fetch.decode), e.g. 'cp1252'
    encoding_source: str | None = None  # bom | http | meta | detected... | default
    canonical_url: str | None = None  # <link rel=canonical>
    title: str = ""
    text: str = ""
    chunks: list[str] = field(default_factory=list)
    chunk_pages: list[int] = field(default_factory=list)  # a PDF's 1-based page of each chunk; empty for HTML/text
    needs_render: bool = False  # static HTML with scripts and (almost) no text: see pipelines.render.decision
    extract_ms: float = 0.0
    # bm25s's index of ``chunks`` for ranking (pipelines.chunk_index), built at extraction; None: built when first ranked
    chunk_index: ChunkIndex | None = None
    node_id: str | None = None
    # (host, port) hops that were private addresses reached only because the job allowed them
    private_hosts: list[tuple[str, int | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def chunk_text(text: str, chunk_chars: int) -> list[str]:
    """Split text at paragraph, then sentence boundaries into chunks of about ``chunk_chars``."""
    pieces: list[tuple[int, str]] = []  # (paragraph number, text)
    for n, para in enumerate(p.strip() for p in text.split("\n")):
        if not para:
            continue
        if len(para) <= chunk_chars:
            pieces.append((n, para))
            continue
        for sentence in _SENTENCE_END.split(para):
            while len(sentence) > chunk_chars:  # one sentence longer than a chunk: cut at a space
                cut = sentence.rfind(" ", 0, chunk_chars)
                cut = cut if cut > chunk_chars // 2 else chunk_chars
                pieces.append((n, sentence[:cut].strip()))
                sentence = sentence[cut:]
            if sentence.strip():
                pieces.append((n, sentence.strip()))
    chunks: list[str] = []
    current, current_para = "", -1
    for n, piece in pieces:
        if current and len(current) + 1 + len(piece) > chunk_chars:
            chunks.append(current)
            current = ""
        sep = " " if n == current_para else "\n"
        current = f"{current}{sep}{piece}" if current else piece
        current_para = n
    if current:
        chunks.append(current)
    return chunks


def extract_page(fetched, *, chunk_chars: int = 800, node_id: str | None = None, pdf=None) -> ExtractedPage:
    """Extract main text from a ``FetchResult`` (duck-typed) and chunk it; ``pdf`` caps PDFs (``PdfSettings``)."""
    page = ExtractedPage(
        url=fetched.url,
        final_url=getattr(fetched, "final_url", None) or fetched.url,
        status=fetched.status,
        reason=getattr(fetched, "reason", None),
        http_status=getattr(fetched, "http_status", None),
        content_type=getattr(fetched, "content_type", None),
        bytes=getattr(fetched, "bytes", 0) or 0,
        fetch_ms=getattr(fetched, "fetch_ms", 0.0) or 0.0,
        from_page_store=bool(getattr(fetched, "from_page_store", False)),
        fetched_at=getattr(fetched, "fetched_at", None),
        fetcher=getattr(fetched, "fetcher", None),
        encoding=getattr(fetched, "charset", None),
        encoding_source=getattr(fetched, "encoding_source", None),
        canonical_url=getattr(fetched, "canonical_url", None),
        node_id=node_id,
        private_hosts=list(getattr(fetched, "private_hosts", None) or []),
    )
    body = getattr(fetched, "body", None)
    if page.status != "ok" or not body:
        if page.status == "ok":
            page.status, page.reason = PageStatus.SKIPPED, "empty_body"
        return page
    started = time.perf_counter()
    from pipelines.extract_pdf import extract_pdf_into, is_pdf  # late: extract_pdf reuses chunk_text from here

    if is_pdf(page.content_type, body):
        return _with_chunk_index(extract_pdf_into(page, body, chunk_chars=chunk_chars, settings=pdf, started=started))
    try:
        page.title, page.text = _main_text(body, getattr(fetched, "charset", None), page.content_type, page.final_url)
    except Exception as exc:  # noqa: BLE001 - trafilatura/lxml raise many types on hostile markup; a bad page is an outcome
        page.status, page.reason = PageStatus.SKIPPED, f"extract_error: {type(exc).__name__}: {str(exc)[:200]}"
        return page
    finally:
        page.extract_ms = (time.perf_counter() - started) * 1000
    from pipelines.render.decision import static_text_too_short

    page.needs_render = static_text_too_short(body, page.text, page.content_type)
    if not page.text.strip():
        page.status, page.reason = PageStatus.SKIPPED, "no_text: no main text found"
        return page
    page.chunks = chunk_text(page.text, chunk_chars)
    return _with_chunk_index(page)


def _with_chunk_index(page: ExtractedPage) -> ExtractedPage:
    """Index the page's chunks for ranking here, once, instead of once per cell that judges the page."""
    if page.ok and page.chunks:
        from pipelines.chunk_index import build_chunk_index

        try:
            page.chunk_index = build_chunk_index(page.chunks)
        except Exception as exc:  # noqa: BLE001 - the index is an optimisation: ranking builds it again when it is missing
            logger.warning("chunk index for %s not built, ranking will build it: %r", page.url, exc)
    return page


@functools.cache
def _trafilatura():
    """trafilatura, imported on first use (heavy, and only extraction workers need it), with its justext stoplist
    held as a frozenset.

    trafilatura (2.3.1) keeps the union of jusText's stoplists (154,484 words) as a tuple, ``JT_STOPLIST``, and
    hands it to ``justext.core.classify_paragraphs`` whenever it falls back to jusText; that function looks the
    list up in an ``lru_cache`` (``define_stoplist``), which hashes the whole tuple on every call: ~1.5 ms, a
    tuple does not keep its hash. A frozenset with the same words keeps its hash, and ``define_stoplist`` returns
    the same lower-cased set for it, so the extracted text is unchanged. Measured on the local world's pages:
    3.66 -> 2.28 ms of CPU per page (``tests/test_extract.py`` checks that the text is the same).
    """
    import trafilatura
    import trafilatura.external as external

    external.JT_STOPLIST = frozenset(external.JT_STOPLIST or external.jt_stoplist_init())
    return trafilatura


def _main_text(body: bytes, charset: str | None, content_type: str | None, url: str) -> tuple[str, str]:
    text = decode_body(body, charset)  # the fetcher's sniffed encoding; sniffed here when it is unknown
    if content_type and content_type.startswith("text/plain"):
        return "", text.strip()
    trafilatura = _trafilatura()
    from trafilatura.utils import load_html

    def extract(**options):
        tree = load_html(text)  # a fresh tree per pass: extraction prunes the tree it is given
        if tree is None:
            return None, ""
        title = _title(tree)
        return trafilatura.bare_extraction(tree, url=url, include_tables=True, deduplicate=False, **options), title

    doc, title = extract()  # trafilatura's balance of precision and recall, which beat favor_recall on real pages
    if doc is None or len(doc.text or "") < RECALL_RETRY_CHARS:
        wider, _ = extract(favor_recall=True)
        if wider is not None and len(wider.text or "") > len(getattr(doc, "text", None) or ""):
            doc = wider
    if doc is None:
        return title, ""
    body_text, comments = doc.text or "", doc.comments or ""
    if len(comments) >= COMMENTS_MIN_CHARS:
        body_text = f"{body_text}\n{comments}"
    return title, body_text


def _title(tree) -> str:
    """og:title, else trafilatura's title rules; without its whole metadata pass (dates, authors...),
    which took 40% of extraction time on the realweb pages (benchmarks/realweb.py)."""
    from trafilatura.metadata import extract_title

    for value in tree.xpath('//head/meta[@property="og:title"]/@content'):
        if value.strip():
            return " ".join(value.split())
    return extract_title(tree) or ""


def page_record(page: ExtractedPage, job_id: str) -> dict:
    """The ``pages`` table row for an extracted page."""
    return {
        "job_id": job_id,
        "url": page.url,
        "final_url": page.final_url,
        "status": page.status,
        "reason": page.reason,
        "http_status": page.http_status,
        "content_type": page.content_type,
        "encoding": page.encoding,
        "encoding_source": page.encoding_source,
        "canonical_url": page.canonical_url,
        "bytes": page.bytes,
        "fetch_ms": page.fetch_ms,
        "from_page_store": page.from_page_store,
        "title": page.title,
        "text_chars": len(page.text),
        "chunks": len(page.chunks),
        "text": page.text,
        "fetched_at": page.fetched_at,
        "fetcher": page.fetcher,
        "node_id": page.node_id,
    }
