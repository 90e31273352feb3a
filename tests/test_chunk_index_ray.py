"""The chunk index is built in the extraction task and reaches the caller with the page, through the object store."""

from __future__ import annotations

import ray

from actors.extract import extract_batch
from pipelines.chunk_index import build_chunk_index
from pipelines.fetch.result import FetchResult
from pipelines.ranking import RankQuery, rank_page

HTML = b"""<html><head><title>Acme</title></head><body><article>
<p>Acme Robotics was founded in 2004 in Leipzig by two engineers from the university.</p>
<p>Jane Doe has been the chief executive officer of Acme Robotics since 2019.</p>
<p>The company builds welding robots for the automotive industry in Europe.</p></article></body></html>"""


def _postings(index) -> dict[str, list[tuple[int, float]]]:
    import numpy as np

    data, chunks = np.frombuffer(index.data, "float32"), np.frombuffer(index.indices, index.int_dtype)
    starts = np.frombuffer(index.indptr, index.int_dtype)
    return {term: [(int(chunks[j]), float(data[j])) for j in range(starts[i], starts[i + 1])]
            for i, term in enumerate(index.terms.split("\n"))}


def test_extraction_task_returns_pages_with_their_index(ray_local, monkeypatch):
    fetched = FetchResult(url="http://acme.example/", final_url="http://acme.example/", status="ok", http_status=200,
                          content_type="text/html", body=HTML, bytes=len(HTML))
    [page] = ray.get(extract_batch.remote(100, None, fetched), timeout=120)
    assert page.ok and len(page.chunks) >= 3
    # bm25s numbers terms in set order (string hashes differ per process): compare what each term scores where
    assert page.chunk_index is not None and _postings(page.chunk_index) == _postings(build_chunk_index(page.chunks))

    import pipelines.chunk_index as chunk_index_module

    monkeypatch.setattr(chunk_index_module, "build_chunk_index", lambda *a, **k: (_ for _ in ()).throw(AssertionError("rebuilt")))
    [best] = rank_page(RankQuery("Who is the CEO?", ["chief executive officer"]), page, 1)
    assert "Jane Doe" in best.text
