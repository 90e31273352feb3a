"""PDF reading (pipelines.pdf, pipelines.extract_pdf) and page citations (pipelines.citations), without Ray."""

from __future__ import annotations

import itertools

import pytest

from pipelines.citations import excerpt_page, pdf_citation, sources_by_page
from pipelines.extract import extract_page
from pipelines.fetch.result import FetchResult
from pipelines.pdf import is_pdf, page_url, read_pdf
from pipelines.settings import PdfSettings
from pipelines.urls import normalize_url
from tests.pdf_docs import image_only_pdf, text_pdf

FACT = "Ottilie Brandauer became chief executive officer of Norvane Metals in 2019."
FILLER = ["Segment revenue grew in the third quarter across all regions."] * 5


def _fetched(body: bytes, content_type: str | None = "application/pdf", url: str = "http://docs.example/r") -> FetchResult:
    return FetchResult(url=url, final_url=url, status="ok", content_type=content_type, body=body, bytes=len(body))


def test_text_of_each_page_is_kept_with_its_page_number():
    body = text_pdf([FILLER, FILLER, [*FILLER, FACT]])
    pdf = read_pdf(body)
    assert pdf.problem is None and pdf.page_count == 3 and len(pdf.pages) == 3
    assert "Brandauer" in pdf.pages[2] and "Brandauer" not in pdf.pages[0] + pdf.pages[1]


def test_recognized_by_media_type_or_magic_bytes_never_by_suffix():
    body = text_pdf([[FACT]])
    assert is_pdf("application/pdf", b"") and is_pdf(None, body) and is_pdf("text/html", body)
    assert is_pdf("application/octet-stream", b"\r\n" + body)  # junk before the header is tolerated, as readers do
    assert not is_pdf("text/html", b"<html>report.pdf</html>")


def test_extracted_chunks_carry_their_pdf_page():
    page = extract_page(_fetched(text_pdf([FILLER, [FACT]])), chunk_chars=200)
    assert page.ok and page.content_type == "application/pdf"
    assert len(page.chunks) == len(page.chunk_pages) and set(page.chunk_pages) == {1, 2}
    fact_chunk = next(i for i, c in enumerate(page.chunks) if "Brandauer" in c)
    assert page.chunk_pages[fact_chunk] == 2


def test_the_title_comes_from_the_document_info_or_else_the_first_line():
    assert extract_page(_fetched(text_pdf([[FACT]], title="Annual report 2024"))).title == "Annual report 2024"
    assert extract_page(_fetched(text_pdf([["Norvane Metals", FACT]]))).title == "Norvane Metals"


def test_a_pdf_served_as_html_is_still_read_as_a_pdf():
    page = extract_page(_fetched(text_pdf([[FACT]]), content_type="text/html"))
    assert page.ok and page.content_type == "application/pdf" and "Brandauer" in page.text


@pytest.mark.parametrize("body,slug", [
    (text_pdf([[FACT]], encrypt_user_password="s3cret"), "pdf_encrypted"),
    (image_only_pdf(3), "pdf_no_text"),
    (b"%PDF-1.7\n" + b"1" * 2000, "pdf_error"),
])
def test_unreadable_pdfs_end_as_skipped_pages_with_their_reason(body, slug):
    page = extract_page(_fetched(body))
    assert page.status == "skipped" and page.reason.split(":", 1)[0] == slug, page.reason
    assert page.reason.split(":", 1)[1].strip()  # a human message after the slug


def test_page_cap_reads_only_the_first_pages():
    pdf = read_pdf(text_pdf([[f"page {n} text"] for n in range(1, 6)]), PdfSettings(max_pages=2))
    assert pdf.page_count == 5 and len(pdf.pages) == 2 and pdf.truncated


def test_time_cap_stops_between_pages():
    ticks = itertools.count(0, 4)  # every clock reading is 4 s later: the cap of 10 s ends the read after page 2
    pdf = read_pdf(text_pdf([[f"page {n} text"] for n in range(1, 6)]), PdfSettings(timeout_s=10), clock=lambda: next(ticks))
    assert 0 < len(pdf.pages) < 5 and pdf.truncated and pdf.problem is None


def test_excerpts_group_by_the_page_they_quote():
    chunks = ["intro about revenue", FACT, "closing remarks"]
    assert excerpt_page("Brandauer became chief executive officer", chunks, [1, 4, 5]) == 4
    groups = sources_by_page("http://d.example/r", ["Brandauer became chief executive", "closing remarks"], chunks, [1, 4, 5])
    assert groups == [("http://d.example/r#page=4", ["Brandauer became chief executive"]),
                      ("http://d.example/r#page=5", ["closing remarks"])]
    assert sources_by_page("http://d.example/h", ["x"], ["x"], []) == [("http://d.example/h", ["x"])]


def test_a_page_citation_passes_only_for_a_fetched_pdf_page():
    pages = {"http://d.example/r": {2, 3}}
    assert pdf_citation("http://d.example/r#page=3", pages, normalize_url) == "http://d.example/r#page=3"
    assert pdf_citation("http://d.example/r#page=9", pages, normalize_url) is None  # not a page the text came from
    assert pdf_citation("http://other.example/r#page=3", pages, normalize_url) is None
    assert pdf_citation("http://d.example/r", pages, normalize_url) is None
    assert page_url("http://d.example/r#top", 2) == "http://d.example/r#page=2"
