"""A page's chunks as a BM25 index, built once at extraction and scored cheaply at judge time.

Each page is its own BM25 corpus (IDF over the page's chunks), so everything
that depends on the page alone is computed once, where the page is
extracted: the language guess, stopword removal and Snowball stemming of
every chunk, and bm25s's eager score matrix. bm25s precomputes, at index
time, the BM25 score of every (term, chunk) pair and keeps it as a sparse
CSC matrix (``BM25.build_index_from_ids``; Lucene variant, k1=1.5, b=0.75,
float32 — https://github.com/xhluca/bm25s, bm25s/__init__.py and
bm25s/scoring.py); scoring a query is then only summing the columns of its
terms (``BM25.get_scores_from_ids``). ``ChunkIndex`` keeps exactly those
arrays plus the vocabulary, so a ranking from it is bit-for-bit the ranking
bm25s gives when it indexes the chunks itself (tests/test_chunk_index.py).

The index travels with the ``ExtractedPage`` through the object store and
into the extract store, so it is kept compact: scores as float32 bytes, chunk
numbers and column starts as uint16 bytes (uint32 past 65,535), the vocabulary as one
newline-joined string (token ids are line numbers). A page without an index
(extracted before, by another path, or by an older bm25s/PyStemmer) gets one
lazily, once per page object: ``chunk_index_of``.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import metadata

__all__ = ["ChunkIndex", "build_chunk_index", "chunk_index_of", "index_version"]

logger = logging.getLogger(__name__)

_SCORE_DTYPE = "float32"  # bm25s.BM25's default dtype: what its score matrix holds


@cache
def index_version() -> str:
    """What an index depends on besides the chunks: our layout, bm25s (tokenizer, stopwords, scoring) and PyStemmer."""
    return f"trawl-chunk-index-3/bm25s-{metadata.version('bm25s')}/PyStemmer-{metadata.version('PyStemmer')}"


@dataclass(frozen=True)
class ChunkIndex:
    """bm25s's eager BM25 index of one page's chunks, in a compact picklable form.

    ``language`` the ISO 639-1 code the chunks were tokenized for; ``n_chunks`` how many
    chunks and ``n_chars`` their total length in characters (what ``fits`` checks); ``terms`` the stemmed vocabulary joined by "\\n" (a term's id is its line);
    ``data`` float32 scores, ``indices`` chunk numbers and ``indptr`` column starts (both
    ``int_dtype``): the CSC matrix (chunks x terms) of ``bm25s.BM25().scores``;
    ``version`` is ``index_version()`` at build time. bm25s numbers terms in set order,
    which differs between processes (string hashing): two indexes of the same chunks
    rank alike but need not be equal byte for byte.
    """

    language: str
    n_chunks: int
    n_chars: int
    terms: str
    data: bytes
    indices: bytes
    indptr: bytes
    int_dtype: str
    version: str

    def fits(self, chunks: list[str]) -> bool:
        """True when this index can rank ``chunks``: same count and length, built by the bm25s/PyStemmer installed now."""
        return self.n_chunks == len(chunks) and self.n_chars == sum(map(len, chunks)) and self.version == index_version()

    def term_ids(self, query_tokens: list[str]) -> list[int]:
        """Ids of the query's tokens that occur on the page, each once, in query order."""
        vocab = _vocab(self.terms)
        return [vocab[t] for t in dict.fromkeys(query_tokens) if t in vocab]

    def scores(self, term_ids: list[int]):
        """BM25 score of every chunk (float32 numpy array, length ``n_chunks``) for the given term ids."""
        import bm25s
        import numpy as np

        if not term_ids:
            return np.zeros(self.n_chunks, dtype=_SCORE_DTYPE)
        retriever = bm25s.BM25()  # the attributes BM25.index/BM25.load set; scoring stays bm25s's own
        retriever.scores = {
            "data": np.frombuffer(self.data, dtype=_SCORE_DTYPE), "indices": np.frombuffer(self.indices, dtype=self.int_dtype),
            "indptr": np.frombuffer(self.indptr, dtype=self.int_dtype), "num_docs": self.n_chunks,
        }
        retriever.nonoccurrence_array = None  # only BM25L/BM25+ use one
        return retriever.get_scores_from_ids(term_ids)

    def to_json(self) -> dict:
        """A JSON-safe dict (bytes as base64) for the extract store; ``from_json`` reads it back."""
        return {"language": self.language, "n_chunks": self.n_chunks, "n_chars": self.n_chars, "terms": self.terms, "int_dtype": self.int_dtype,
                "version": self.version, **{k: base64.b64encode(getattr(self, k)).decode("ascii") for k in ("data", "indices", "indptr")}}

    @classmethod
    def from_json(cls, entry: dict | None) -> ChunkIndex | None:
        """The index ``to_json`` wrote, or None (absent, malformed, or built by another bm25s/PyStemmer)."""
        if not entry or entry.get("version") != index_version():
            return None
        try:
            return cls(language=str(entry["language"]), n_chunks=int(entry["n_chunks"]), n_chars=int(entry["n_chars"]), terms=str(entry["terms"]),
                       int_dtype=str(entry["int_dtype"]), version=str(entry["version"]),
                       **{k: base64.b64decode(entry[k], validate=True) for k in ("data", "indices", "indptr")})
        except (KeyError, TypeError, ValueError) as exc:
            logger.debug("stored chunk index unreadable, rebuilt when needed: %r", exc)
            return None


@lru_cache(maxsize=64)
def _vocab(terms: str) -> dict[str, int]:
    return {term: i for i, term in enumerate(terms.split("\n"))} if terms else {}


def build_chunk_index(chunks: list[str], language: str | None = None) -> ChunkIndex:
    """Tokenize ``chunks`` for their language and build bm25s's index of them; the CPU cost ranking used to pay per call.

    ``language`` is an ISO 639-1 code from ``pipelines.ranking.LANGUAGES``; None (or
    an unknown code) guesses it from the chunks (``detect_language``), falling back to
    English. ``chunks`` must be non-empty.
    """
    import bm25s
    import numpy as np

    from pipelines.ranking import DEFAULT_LANGUAGE, LANGUAGES, _sample, _stemmer, detect_language

    lang = language if language in LANGUAGES else (detect_language(_sample(chunks)) or DEFAULT_LANGUAGE)
    corpus = bm25s.tokenize(chunks, stopwords=LANGUAGES[lang], stemmer=_stemmer(lang), show_progress=False)
    by_id = sorted(corpus.vocab.items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):  # bm25s numbers its vocabulary 0..n-1; the layout relies on it
        raise ValueError("bm25s.tokenize returned non-contiguous token ids")
    if not by_id:  # no chunk has a token (e.g. only 1-letter words): nothing can match; bm25s would divide 0 by 0
        return ChunkIndex(language=lang, n_chunks=len(chunks), n_chars=sum(map(len, chunks)), terms="", data=b"", indices=b"",
                          indptr=np.zeros(1, dtype="uint16").tobytes(), int_dtype="uint16", version=index_version())
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    s = retriever.scores
    int_dtype = "uint16" if max(len(chunks), len(s["data"])) <= np.iinfo(np.uint16).max else "uint32"
    return ChunkIndex(
        language=lang, n_chunks=len(chunks), n_chars=sum(map(len, chunks)), terms="\n".join(t for t, _ in by_id),
        data=np.asarray(s["data"], dtype=_SCORE_DTYPE).tobytes(), indices=np.asarray(s["indices"]).astype(int_dtype).tobytes(),
        indptr=np.asarray(s["indptr"]).astype(int_dtype).tobytes(), int_dtype=int_dtype, version=index_version(),
    )


def chunk_index_of(page) -> ChunkIndex:
    """``page.chunk_index`` if it fits ``page.chunks``, else one built now and kept on the page object (duck-typed page)."""
    index = page.chunk_index
    if index is None or not index.fits(page.chunks):
        index = page.chunk_index = build_chunk_index(page.chunks)
    return index
