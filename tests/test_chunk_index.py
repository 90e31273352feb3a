"""Ranking off the hot path: chunks indexed once at extraction, the judge-time ranking only scores.

The ranking from a stored index must be the ranking ``rank_chunks`` gave when it
tokenized and indexed the page on every call: proven on real pages
(``../shared/realweb``) against that code, copied here unchanged.
"""

from __future__ import annotations

import pickle
import random
import re

import pytest

import pipelines.chunk_index as chunk_index_module
from benchmarks.realweb import find_realweb, load_pages
from pipelines.chunk_index import ChunkIndex, build_chunk_index, chunk_index_of
from pipelines.extract import ExtractedPage, extract_page
from pipelines.fetch.result import FetchResult
from pipelines.ranking import LANGUAGES, RankQuery, _sample, _stemmer, detect_language, rank_chunks, rank_indexed, rank_page

DE_HTML = """<html><head><title>Über uns</title></head><body><article><h1>Über die Firma</h1>
<p>Die Müller Maschinenbau GmbH wurde 1998 in Stuttgart gegründet und ist seitdem ein Familienunternehmen.</p>
<p>Der Vorstandsvorsitzende des Unternehmens ist seit dem Jahr 2015 Herr Klaus Schmidt, der zuvor bei Bosch war.</p>
<p>Wir beschäftigen heute rund 450 Mitarbeiter an drei Standorten in Deutschland und in der Schweiz.</p>
</article></body></html>""".encode()


def _rank_as_before(query, chunks, top_k, *, keywords=(), language=None):
    """``rank_chunks`` as it was before the chunk index (pipelines/ranking.py at f26355a), unchanged."""
    import bm25s

    lang = language if language in LANGUAGES else (detect_language(_sample(chunks)) or "en")
    stop, stem = LANGUAGES[lang], _stemmer(lang)
    corpus = bm25s.tokenize(chunks, stopwords=stop, stemmer=stem, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    text = " ".join([query, *keywords])
    query_tokens = bm25s.tokenize([text], stopwords=stop, stemmer=stem, show_progress=False, return_ids=False)[0]
    vocab = corpus.vocab
    known = list(dict.fromkeys(t for t in query_tokens if t in vocab))
    scores = retriever.get_scores(known) if known else [0.0] * len(chunks)
    order = sorted(range(len(chunks)), key=lambda i: (-float(scores[i]), i))[:top_k]
    return [(i, float(scores[i])) for i in order]


def _extracted(body: bytes, url: str = "http://firma.example/about", chunk_chars: int = 120) -> ExtractedPage:
    fetched = FetchResult(url=url, final_url=url, status="ok", http_status=200, content_type="text/html", body=body, bytes=len(body))
    return extract_page(fetched, chunk_chars=chunk_chars)


def _pairs(ranked):
    return [(r.index, r.score) for r in ranked]


def test_extraction_indexes_the_chunks_in_the_page_language():
    page = _extracted(DE_HTML)
    assert page.ok and len(page.chunks) >= 3
    index = page.chunk_index
    assert index is not None and index.fits(page.chunks) and index.language == "de"
    assert "vorstandsvorsitz" in index.terms.split("\n")  # Snowball's German stem, not the word as written
    assert "der" not in index.terms.split("\n")  # a German stopword never reaches the index
    assert pickle.loads(pickle.dumps(page)).chunk_index == index  # it travels through the object store


def test_a_page_with_an_index_is_ranked_without_tokenizing_its_chunks(monkeypatch):
    page = _extracted(DE_HTML)
    expected = _rank_as_before("Wer ist der Vorstandsvorsitzender?", page.chunks, 2)

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the page's chunks were tokenized again")

    monkeypatch.setattr(chunk_index_module, "build_chunk_index", no_rebuild)
    ranked = rank_page(RankQuery("Wer ist der Vorstandsvorsitzender?"), page, 2)
    assert _pairs(ranked) == expected and "Klaus Schmidt" in ranked[0].text


def test_a_page_without_an_index_is_indexed_once_when_first_ranked(monkeypatch):
    page = _extracted(DE_HTML)
    page.chunk_index = None  # an old extract-store entry, or a page from another path
    calls = []
    real = chunk_index_module.build_chunk_index
    monkeypatch.setattr(chunk_index_module, "build_chunk_index", lambda chunks, language=None: calls.append(1) or real(chunks, language))
    first = rank_page(RankQuery("Wann wurde die Firma gegründet?"), page, 1)
    second = rank_page(RankQuery("Wie viele Mitarbeiter?"), page, 1)
    assert len(calls) == 1 and page.chunk_index is not None
    assert "1998" in first[0].text and "450" in second[0].text


@pytest.mark.parametrize("stale", ["fewer_chunks", "other_text", "other_bm25s"])
def test_an_index_that_does_not_fit_the_page_is_rebuilt(stale):
    page = _extracted(DE_HTML)
    if stale == "fewer_chunks":  # an index that belongs to other chunks (e.g. a page whose chunks were replaced)
        page.chunk_index = build_chunk_index(page.chunks[:1])
    elif stale == "other_text":  # as many chunks, other text
        page.chunk_index = build_chunk_index([f"{c} Nachtrag" for c in page.chunks])
    else:  # built by another bm25s/PyStemmer: its stems may not match the query's
        page.chunk_index = ChunkIndex(**{**vars(page.chunk_index), "version": "trawl-chunk-index-3/bm25s-0.0.1/PyStemmer-0"})
    ranked = rank_page(RankQuery("Vorstandsvorsitzender"), page, 1)
    assert chunk_index_of(page).fits(page.chunks) and "Klaus Schmidt" in ranked[0].text


def test_the_query_is_tokenized_once_per_language(monkeypatch):
    import bm25s

    de, en = _extracted(DE_HTML), _extracted(b"<html><body><article><p>" + b"The robots were built in the old garage by the founders. " * 4
                                             + b"</p></article></body></html>", url="http://en.example/")
    assert (de.chunk_index.language, en.chunk_index.language) == ("de", "en")
    calls = []
    real = bm25s.tokenize
    monkeypatch.setattr(bm25s, "tokenize", lambda texts, **kw: calls.append(len(texts)) or real(texts, **kw))
    query = RankQuery("Gründer robots", ["garage"])
    for page in (de, en, de, en, de):
        rank_page(query, page, 2)
    assert calls == [1, 1]  # one query tokenization per language, none of any page's chunks


def test_rank_indexed_refuses_an_index_of_other_chunks():
    with pytest.raises(ValueError, match="covers 1 chunks"):
        rank_indexed(RankQuery("x"), build_chunk_index(["one chunk"]), ["one", "two"], 1)


def test_rank_chunks_keeps_its_behaviour_on_edge_cases():
    assert rank_chunks("anything", [], 3) == []
    only_stopwords = ["der die das", "und oder", "Klaus Schmidt leitet die Firma"]
    for query in ("der die das", "Schmidt", "zebra"):
        assert _pairs(rank_chunks(query, only_stopwords, 3, language="de")) == _rank_as_before(query, only_stopwords, 3, language="de")


def test_chunks_without_any_token_rank_in_page_order_without_numpy_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # bm25s's own index divides 0 by 0 here
        page = _extracted(b"<html><body><nav>x</nav></body></html>")
        assert page.chunks == ["x"] and page.chunk_index is not None and page.chunk_index.terms == ""
        assert _pairs(rank_page(RankQuery("x marks the spot"), page, 3)) == [(0, 0.0)]
        assert _pairs(rank_chunks("a b", ["x", "y", "z"], 2)) == [(0, 0.0), (1, 0.0)]


_WORD = re.compile(r"(?u)\b[^\W\d_]{4,}\b")


@pytest.fixture(scope="module")
def realweb_sample():
    folder = find_realweb()
    if folder is None:
        pytest.skip("no shared/realweb beside the repository (see shared/realweb/README.md)")
    pages = []
    for entry in load_pages(folder, limit=40):
        page = _extracted(entry["body"], url=entry["url"], chunk_chars=800)
        if page.ok and len(page.chunks) >= 3:
            pages.append((entry, page))
    assert len(pages) >= 20
    return pages


def test_stored_index_ranks_real_pages_exactly_as_before(realweb_sample):
    """Same chunks, same order, same float scores as the per-call ranking, on real pages and varied queries."""
    rng = random.Random(7)
    compared = nonzero = 0
    for entry, page in realweb_sample:
        words = [w for s in entry.get("with") or [] for w in _WORD.findall(s)] or _WORD.findall(page.text)
        queries = [(page.title or "x", ()), (" ".join(rng.sample(words, min(4, len(words)))), ()),
                   (page.title or "x", (" ".join(rng.sample(words, min(3, len(words)))), words[0]))]
        for question, keywords in queries:
            before = _rank_as_before(question, page.chunks, 5, keywords=keywords)
            assert _pairs(rank_page(RankQuery(question, keywords), page, 5)) == before, (entry["url"], question)
            assert _pairs(rank_chunks(question, page.chunks, 5, keywords=keywords)) == before
            compared += 1
            nonzero += before[0][1] > 0
    assert compared >= 60 and nonzero >= compared // 2  # the comparison covered real matches, not only zero scores


def _store_round_trip(tmp_path, page, edit=None):
    import gzip
    import json
    from datetime import datetime, timezone

    from pipelines.extract_store import ExtractedStore

    page.fetched_at = datetime(2026, 11, 30, tzinfo=timezone.utc)
    store = ExtractedStore(tmp_path, chunk_chars=120)
    assert store.put(page)
    if edit is not None:  # rewrite the stored entry as another trawl would have left it
        path = store.path_for(page.url)
        entry = json.loads(gzip.decompress(path.read_bytes()))
        edit(entry)
        path.write_bytes(gzip.compress(json.dumps(entry).encode()))
    return store.get(page.url, host_allowed=lambda host, port: False, now=page.fetched_at)


def test_extract_store_keeps_the_index(tmp_path, monkeypatch):
    page = _extracted(DE_HTML)
    got = _store_round_trip(tmp_path, page)
    assert got.chunk_index == page.chunk_index and got.chunks == page.chunks
    monkeypatch.setattr(chunk_index_module, "build_chunk_index", lambda *a, **k: pytest.fail("index rebuilt after the store"))
    assert _pairs(rank_page(RankQuery("Mitarbeiter Standorte"), got, 2)) == _rank_as_before("Mitarbeiter Standorte", page.chunks, 2)


@pytest.mark.parametrize("edit", [
    lambda e: e.pop("chunk_index"),  # an entry written without one
    lambda e: e["chunk_index"].update(version="trawl-chunk-index-3/bm25s-0.2.0/PyStemmer-2.2.0"),  # another bm25s
    lambda e: e["chunk_index"].update(data="not base64!"),  # damaged
], ids=["absent", "other_bm25s", "damaged"])
def test_a_stored_page_without_a_usable_index_still_ranks(tmp_path, edit):
    page = _extracted(DE_HTML)
    got = _store_round_trip(tmp_path, page, edit)
    assert got is not None and got.text == page.text and got.chunk_index is None
    assert _pairs(rank_page(RankQuery("Mitarbeiter Standorte"), got, 2)) == _rank_as_before("Mitarbeiter Standorte", page.chunks, 2)
    assert got.chunk_index == page.chunk_index  # built once, kept on the page object


def test_a_page_too_big_for_16_bit_offsets_ranks_the_same():
    chunks = [" ".join(f"term{(c * 7 + w) % 5000}" for w in range(60)) for c in range(1200)]  # 72,000 (term, chunk) pairs
    index = build_chunk_index(chunks, "en")
    assert index.int_dtype == "uint32"
    for query in ("term4999 term3", "term17 term18 term19 term20"):
        assert _pairs(rank_indexed(RankQuery(query), index, chunks, 5)) == _rank_as_before(query, chunks, 5, language="en")
