"""Extraction: main text without boilerplate, chunks that fit the budget, bad pages as outcomes."""

from dataclasses import dataclass

from pipelines.extract import chunk_text, extract_page, page_record

PAGE = """<html><head><title>About Acme Robotics</title><script>var x = 1;</script></head><body>
<nav><a href="/">Home</a><a href="/about">About</a><a href="/careers">Careers</a></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<article><h1>About us</h1>
<p>Acme Robotics was founded in 2004 in Leipzig by two engineers who wanted warehouse robots anyone could program.</p>
<p>Today the company employs about 1,200 people and is led by Chief Executive Officer Jane Doe, who joined from Globex in 2019.</p>
<p>Our main product is the PickMate arm, used in more than 400 warehouses across Europe and North America.</p>
</article><footer>© 2026 Acme Robotics · Imprint · Privacy</footer></body></html>"""


@dataclass
class Fetched:
    url: str
    status: str = "ok"
    body: bytes | None = None
    content_type: str | None = "text/html"
    charset: str | None = "utf-8"
    final_url: str | None = None
    reason: str | None = None


def test_extracts_main_text_and_title_without_boilerplate():
    page = extract_page(Fetched("http://acme.example/about", body=PAGE.encode()), chunk_chars=300)
    assert page.ok
    assert "founded in 2004" in page.text and "Jane Doe" in page.text
    assert "cookies" not in page.text and "var x" not in page.text
    assert page.title in ("About us", "About Acme Robotics")
    assert len(page.chunks) >= 2 and all(len(c) <= 300 for c in page.chunks)


def test_non_ok_fetch_passes_through_with_reason():
    page = extract_page(Fetched("http://x.example/", status="blocked", reason="robots_disallowed"))
    assert (page.status, page.reason, page.chunks) == ("blocked", "robots_disallowed", [])


def test_page_without_text_is_skipped_not_raised():
    for body in (b"<html><body><nav>x</nav></body></html>", b"\x00\x01\x02\xff" * 100, b"<<<<>>>>"):
        page = extract_page(Fetched("http://x.example/", body=body))
        assert page.status in ("ok", "skipped")
        if page.status == "skipped":
            assert page.reason


def test_plain_text_is_taken_as_is():
    page = extract_page(Fetched("http://x.example/a.txt", body=b"Line one.\nLine two.", content_type="text/plain"))
    assert page.text == "Line one.\nLine two."


def test_chunks_respect_size_and_keep_all_text():
    text = "First paragraph is short.\n" + "A sentence of some length goes here. " * 40 + "\nLast one."
    chunks = chunk_text(text, 200)
    assert all(len(c) <= 200 for c in chunks)
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())


def test_page_record_matches_pages_schema():
    from pipelines.store.schemas import SCHEMAS

    page = extract_page(Fetched("http://acme.example/about", body=PAGE.encode()))
    assert set(page_record(page, "job")) == set(SCHEMAS["pages"].names)
