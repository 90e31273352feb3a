"""Page store: round trip, TTL, corrupt files, concurrent writers of one entry."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone

from pipelines.fetch import PageStore
from pipelines.fetch.page_store import StoredPage

URL = "https://acme.example/about"


def _page(body=b"<html>hi</html>", when=None):
    return StoredPage(URL, URL + "/", 200, "text/html", "utf-8", when or datetime.now(timezone.utc), body)


def test_round_trip(tmp_path):
    store = PageStore(tmp_path)
    assert store.get(URL) is None
    assert store.put(_page())
    got = store.get(URL)
    assert got.body == b"<html>hi</html>" and got.final_url == URL + "/" and got.charset == "utf-8" and got.http_status == 200
    assert store.path_for(URL).parent.parent == tmp_path
    assert not list(tmp_path.rglob(".tmp-*"))


def test_ttl(tmp_path):
    store = PageStore(tmp_path, ttl_s=60)
    store.put(_page(when=datetime.now(timezone.utc) - timedelta(seconds=120)))
    assert store.get(URL) is None
    assert PageStore(tmp_path, ttl_s=None).get(URL) is not None


def test_corrupt_or_truncated_entries_are_misses(tmp_path):
    store = PageStore(tmp_path)
    store.put(_page())
    path = store.path_for(URL)
    path.write_bytes(path.read_bytes()[:20])
    assert store.get(URL) is None
    path.write_bytes(b"not gzip at all")
    assert store.get(URL) is None


def test_unwritable_folder_is_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert PageStore(blocker / "sub").put(_page()) is False


def _writer(root, n):
    store = PageStore(root)
    for i in range(n):
        store.put(_page(body=b"<html>" + bytes([65 + i % 26]) * 50_000 + b"</html>"))


def test_two_processes_writing_one_entry(tmp_path):
    procs = [multiprocessing.get_context("spawn").Process(target=_writer, args=(str(tmp_path), 30)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    got = PageStore(tmp_path).get(URL)
    assert got is not None and len(got.body) == 50_013
    assert not list(tmp_path.rglob(".tmp-*"))


def test_private_hosts_round_trip(tmp_path):
    store = PageStore(tmp_path)
    page = _page()
    page.private_hosts = [("acme.example", 8080)]
    store.put(page)
    assert store.get(URL).private_hosts == [("acme.example", 8080)]


def test_encoding_source_and_canonical_url_round_trip(tmp_path):
    store = PageStore(tmp_path)
    page = _page()
    page.charset, page.encoding_source, page.canonical_url = "cp1252", "detected", "https://acme.example/about"
    assert store.put(page)
    got = store.get(URL)
    assert (got.charset, got.encoding_source, got.canonical_url) == ("cp1252", "detected", "https://acme.example/about")
