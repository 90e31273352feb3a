"""Rank a page's chunks against a question with BM25, so the judge reads only the best few.

Cheap text scoring first, the LLM second: this is where most of a cell's
token budget is saved (see benchmarks/ for tokens with and without ranking).

Real pages word things differently from the question ("founded" vs "founding",
"Gründung" vs "gegründet"), so both sides are tokenized for the page's
language: that language's stopword list (bm25s ships NLTK's lists) and its
Snowball stemmer (PyStemmer; https://snowballstem.org/algorithms/). The
language is guessed from the page text by stopword profile: the language whose
stopword list covers most of the page's words wins, if it covers at least
``MIN_STOPWORD_SHARE`` of them (function words make up 30-50 % of running text
in these languages, so a real page clears that bar by far and a list of names
or numbers does not). That needs no model and no extra dependency, costs
microseconds, and can only pick a language we have both a stopword list and a
stemmer for, which is the only choice the ranking needs. With no clear
language, English is used. benchmarks/ranking.py measures the effect on real
pages.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pipelines.chunk_index imports this module's language helpers
    from pipelines.chunk_index import ChunkIndex

__all__ = ["RankedChunk", "RankQuery", "rank_chunks", "rank_indexed", "rank_page", "detect_language", "LANGUAGES", "MIN_STOPWORD_SHARE"]

log = logging.getLogger(__name__)

# ISO 639-1 code -> name of both the bm25s stopword list and the Snowball algorithm (identical for these 12).
LANGUAGES = {
    "en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian", "pt": "portuguese",
    "nl": "dutch", "sv": "swedish", "no": "norwegian", "da": "danish", "ru": "russian", "tr": "turkish",
}
DEFAULT_LANGUAGE = "en"
MIN_STOPWORD_SHARE = 0.12  # share of a page's words that must be stopwords of a language to call it that language
DETECT_CHARS = 5_000  # a few hundred words are plenty to guess a language; more only costs time
_WORD = re.compile(r"(?u)\b\w\w+\b")
_local = threading.local()  # PyStemmer objects keep a cache and are not thread-safe: one per thread


@dataclass(frozen=True)
class RankedChunk:
    index: int  # position in the page
    text: str
    score: float


@cache
def _stopwords(language: str) -> frozenset[str]:
    from bm25s.tokenization import _infer_stopwords  # the lists bm25s itself uses for stopwords=<name>

    return frozenset(_infer_stopwords(LANGUAGES[language]))


@lru_cache(maxsize=1)
def _stopword_languages() -> dict[str, tuple[str, ...]]:
    """Stopword -> the languages (codes, in ``LANGUAGES`` order) whose list has it: one lookup per word."""
    index: dict[str, list[str]] = {}
    for code in LANGUAGES:
        for word in _stopwords(code):
            index.setdefault(word, []).append(code)
    return {word: tuple(codes) for word, codes in index.items()}


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of ``text``'s language among ``LANGUAGES`` by stopword share, or None when unclear."""
    words = _WORD.findall(text[:DETECT_CHARS].lower())
    if len(words) < 5:
        return None
    index = _stopword_languages()
    hits = dict.fromkeys(LANGUAGES, 0)  # ties go to the first language listed
    for word in words:
        for code in index.get(word, ()):
            hits[code] += 1
    best = max(hits, key=hits.__getitem__)
    return best if hits[best] / len(words) >= MIN_STOPWORD_SHARE else None


def _sample(chunks: list[str]) -> str:
    """The first ``DETECT_CHARS`` or so of the page's chunks, for ``detect_language``."""
    taken, size = [], 0
    for chunk in chunks:
        taken.append(chunk)
        size += len(chunk) + 1
        if size >= DETECT_CHARS:
            break
    return " ".join(taken)


def _stemmer(language: str):
    cache = getattr(_local, "stemmers", None)
    if cache is None:
        cache = _local.stemmers = {}
    if language not in cache:
        import Stemmer  # PyStemmer

        cache[language] = Stemmer.Stemmer(LANGUAGES[language])
    return cache[language].stemWords


class RankQuery:
    """A cell's ranking query (question + row context + keywords), tokenized once per page language.

    ``text`` is ``query`` and ``keywords`` joined by spaces; ``tokens(language)`` its
    stopword-free, Snowball-stemmed tokens for an ISO 639-1 code from ``LANGUAGES``,
    computed on first use and kept: a cell judging ten pages in one language tokenizes
    its query once. Not thread-safe to build concurrently (a race only recomputes).
    """

    def __init__(self, query: str, keywords: list[str] | tuple[str, ...] = ()) -> None:
        self.text = " ".join([query, *keywords])
        self._tokens: dict[str, list[str]] = {}

    def tokens(self, language: str) -> list[str]:
        if language not in self._tokens:
            import bm25s  # lazy: pulls numpy; only cells that judge need it

            self._tokens[language] = bm25s.tokenize([self.text], stopwords=LANGUAGES[language], stemmer=_stemmer(language),
                                                    show_progress=False, return_ids=False)[0]
        return self._tokens[language]


def rank_indexed(query: RankQuery, index: ChunkIndex, chunks: list[str], top_k: int) -> list[RankedChunk]:
    """The ``top_k`` of ``chunks`` by BM25 score from their prebuilt ``index``, best first; ties keep page order.

    Only arithmetic: ``index`` holds bm25s's precomputed scores (``pipelines.chunk_index``).
    Query terms count once each, wherever they came from (question or keywords), so a
    word repeated across keywords does not outweigh the rest. Chunks with no query term
    score 0 and are still returned when there is nothing better, so a short page is judged
    whole rather than dropped. Raises ValueError if ``index`` was built for other chunks.
    """
    if index.n_chunks != len(chunks):
        raise ValueError(f"chunk index covers {index.n_chunks} chunks, the page has {len(chunks)}")
    scores = index.scores(index.term_ids(query.tokens(index.language)))
    order = sorted(range(len(chunks)), key=lambda i: (-float(scores[i]), i))[:top_k]
    return [RankedChunk(i, chunks[i], float(scores[i])) for i in order]


def rank_page(query: RankQuery, page, top_k: int) -> list[RankedChunk]:
    """``rank_indexed`` over a page's chunks (``ExtractedPage``, duck-typed), with the index it carries.

    A page extracted without one (an old extract-store entry, another bm25s) gets it built
    here once and kept on the page object (``chunk_index_of``). An empty page ranks to [].
    """
    if not page.chunks:
        return []
    from pipelines.chunk_index import chunk_index_of

    return rank_indexed(query, chunk_index_of(page), page.chunks, top_k)


def rank_chunks(
    query: str, chunks: list[str], top_k: int, *, keywords: list[str] | tuple[str, ...] = (), language: str | None = None
) -> list[RankedChunk]:
    """The ``top_k`` chunks by BM25 score against ``query`` and ``keywords``, best first; ties keep page order.

    One-off form of ``rank_indexed``: indexes ``chunks`` now (``build_chunk_index``).
    ``language`` is an ISO 639-1 code from ``LANGUAGES``; None guesses it from the chunks
    (``detect_language``), falling back to English. Callers that rank the same page for
    several queries should keep its ``ChunkIndex`` (``rank_page``) instead.
    """
    if not chunks:
        return []
    from pipelines.chunk_index import build_chunk_index

    return rank_indexed(RankQuery(query, keywords), build_chunk_index(chunks, language), chunks, top_k)
