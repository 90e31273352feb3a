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


def test_jusText_fallback_reads_the_same_text_with_the_frozen_stoplist(monkeypatch):
    """The frozenset stoplist (pipelines.extract._trafilatura) is a speed fix only: on real pages that fall back
    to jusText, the text is the one trafilatura's own tuple gives."""
    import pytest
    import trafilatura.external as external

    from benchmarks.realweb import find_realweb, load_pages
    from pipelines.extract import _trafilatura

    folder = find_realweb()
    if folder is None:
        pytest.skip("no shared/realweb beside the repository (see shared/realweb/README.md)")
    _trafilatura()
    frozen = external.JT_STOPLIST
    assert isinstance(frozen, frozenset) and len(frozen) > 100_000

    calls = []
    real_try_justext = external.try_justext
    monkeypatch.setattr(external, "try_justext", lambda *a, **k: calls.append(1) or real_try_justext(*a, **k))
    pages = [Fetched(url=p["url"], body=p["body"], charset=None) for p in load_pages(folder, limit=150)]
    fast = [extract_page(p).text for p in pages]
    monkeypatch.setattr(external, "JT_STOPLIST", tuple(frozen))  # trafilatura's own form
    assert len(calls) >= 8, "too few pages reached jusText for this test to say anything"
    stock = [extract_page(p).text for p in pages]
    assert fast == stock
