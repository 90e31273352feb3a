"""The extract store: what a re-run reads instead of fetching and extracting a page again."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone

import pytest

from pipelines.extract import ExtractedPage, extract_page
from pipelines.extract_store import ExtractedStore
from pipelines.fetch.result import FetchResult

HTML = b"""<html><head><title>Acme Widgets</title></head><body><nav>Home | About</nav>
<article><h1>About Acme</h1><p>Acme Widgets was founded in 1999 in Lyon by Jane Doe, who is still its CEO.</p>
<p>The company employs about 1,200 people and sells industrial widgets across Europe and Asia.</p></article>
<footer>(c) Acme</footer></body></html>"""

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
NOBODY = lambda host, port: False  # noqa: E731 - a job that allows no private host


def _page(url="http://acme.example/about", private=()) -> ExtractedPage:
    fetched = FetchResult(url=url, final_url=url + "/", status="ok", http_status=200, content_type="text/html",
                          body=HTML, bytes=len(HTML), fetched_at=NOW - timedelta(hours=1), private_hosts=list(private))
    page = extract_page(fetched, chunk_chars=200)
    assert page.ok and page.chunks
    return page


def test_a_stored_page_comes_back_as_extracted_without_the_body(tmp_path):
    store = ExtractedStore(tmp_path, chunk_chars=200)
    page = _page()
    assert store.put(page)
    got = store.get(page.url, host_allowed=NOBODY, now=NOW)
    assert (got.url, got.final_url, got.title, got.text, got.chunks) == (page.url, page.final_url, page.title, page.text, page.chunks)
    assert got.status == "ok" and got.from_page_store and got.fetched_at == page.fetched_at
    assert store.get("http://acme.example/other", host_allowed=NOBODY, now=NOW) is None


def test_another_chunk_size_or_an_expired_entry_is_a_miss(tmp_path):
    ExtractedStore(tmp_path, chunk_chars=200).put(_page())
    assert ExtractedStore(tmp_path, chunk_chars=800).get("http://acme.example/about", host_allowed=NOBODY, now=NOW) is None
    short = ExtractedStore(tmp_path, chunk_chars=200, ttl_s=600)
    assert short.get("http://acme.example/about", host_allowed=NOBODY, now=NOW) is None  # fetched an hour ago
    forever = ExtractedStore(tmp_path, chunk_chars=200, ttl_s=None)
    assert forever.get("http://acme.example/about", host_allowed=NOBODY, now=NOW + timedelta(days=400)) is not None


def test_a_page_reached_through_an_allowed_private_host_is_a_miss_for_a_job_that_does_not_allow_it(tmp_path):
    store = ExtractedStore(tmp_path, chunk_chars=200)
    store.put(_page(private=[("acme.example", 8080)]))
    allows = lambda host, port: host == "acme.example"  # noqa: E731
    assert store.get("http://acme.example/about", host_allowed=allows, now=NOW) is not None
    assert store.get("http://acme.example/about", host_allowed=NOBODY, now=NOW) is None


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other_url"])
def test_a_damaged_entry_reads_as_a_miss(tmp_path, damage):
    store = ExtractedStore(tmp_path, chunk_chars=200)
    store.put(_page())
    path = store.path_for("http://acme.example/about")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:20])
    elif damage == "garbage":
        path.write_bytes(b"not gzip at all")
    else:
        path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()).replace(b"acme.example/about", b"evil.example/about")))
    assert store.get("http://acme.example/about", host_allowed=NOBODY, now=NOW) is None


def test_only_ok_pages_are_kept(tmp_path):
    store = ExtractedStore(tmp_path, chunk_chars=200)
    failed = ExtractedPage(url="http://acme.example/x", final_url="http://acme.example/x", status="failed", reason="http_500")
    assert not store.put(failed)
    assert store.get(failed.url, host_allowed=NOBODY, now=NOW) is None


def test_an_unwritable_folder_is_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = ExtractedStore(blocker / "extracted", chunk_chars=200)
    assert store.put(_page()) is False
    assert store.get("http://acme.example/about", host_allowed=NOBODY, now=NOW) is None
