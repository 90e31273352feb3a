"""Rank a page's chunks against a question with BM25, so the judge reads only the best few.

Cheap text scoring first, the LLM second: this is where most of a cell's
token budget is saved (see benchmarks/ for tokens with and without ranking).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RankedChunk", "rank_chunks"]


@dataclass(frozen=True)
class RankedChunk:
    index: int  # position in the page
    text: str
    score: float


def rank_chunks(query: str, chunks: list[str], top_k: int) -> list[RankedChunk]:
    """The ``top_k`` chunks by BM25 score against ``query``, best first; ties keep page order.

    Chunks with no query term at all score 0 and are still returned when there
    is nothing better, so a short page is judged whole rather than dropped.
    """
    if not chunks:
        return []
    import bm25s  # lazy: pulls numpy; only cells that judge need it

    corpus = bm25s.tokenize(chunks, stopwords="en", show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    query_tokens = bm25s.tokenize([query], stopwords="en", show_progress=False, return_ids=False)[0]
    vocab = corpus.vocab
    known = [t for t in query_tokens if t in vocab]
    scores = retriever.get_scores(known) if known else [0.0] * len(chunks)
    order = sorted(range(len(chunks)), key=lambda i: (-float(scores[i]), i))[:top_k]
    return [RankedChunk(i, chunks[i], float(scores[i])) for i in order]
