"""Does the chunk that holds the answer reach the judge? Chunk ranking before/after on real pages.

Uses ``../shared/realweb`` (300 real pages from trafilatura's public evaluation
set, mostly German and English, each with ``with`` snippets that belong to the
main text); exits with a message if the folder is absent. Each page is
extracted and chunked as trawl does (``extract_page``, 800-character chunks);
pages with fewer than ``--min-chunks`` chunks are left out, because a top-3 of
three chunks cannot miss. For every ``with`` snippet found inside one chunk,
a query is formed and we ask whether a chunk holding the snippet is among the
top ``k`` (``chunks_per_page``, default 3) — i.e. whether the judge would see it.

Queries (none is the snippet itself):
- ``words``: up to 4 content words of the snippet (4+ letters, no stopword of
  any supported language), picked at random (seeded), as written: a control —
  stemming must not lose what exact words find.
- ``inflected``: the same words inflected by plain suffix rules for the page's
  language (English/Romance: add or drop a plural ``s``; German: add or drop
  ``en``/``e``; others: add or drop ``s``) — the way a question's wording differs
  from a page's ("reports" / "report", "Gründer" / "Gründern"). The rules are
  not Snowball's: a stemmer is not guaranteed to undo them.
- ``title``: the page's title as the question (weak: titles name the topic, not
  one passage; the random baseline says how much any order would get).
- ``title+keywords``: the title as the question plus the inflected words as the
  cell's expanded keywords (what an expand step that borrows page vocabulary gives).

Rankers: ``before`` is the ranking as it was (question only, English stopwords,
no stemming; copied below unchanged); ``stopwords`` uses the page
language's stopwords and gets the keywords too, but does not stem; ``after`` is ``pipelines.ranking.rank_chunks`` (page
language's stopwords and Snowball stemmer; keywords where the query has them).
``random`` is the exact expected hit rate of a random top-k.

Cost of ranking off the hot path: for every query, the ranking as the judge
did it before chunks were indexed at extraction (``rank_per_call``, copied
unchanged: language guess, tokenizing and indexing the page, per call) against
``rank_page`` from the page's ``ChunkIndex`` with the cell's query tokenized
(a cell's first page) and already tokenized (its further pages); CPU time by
``time.process_time``, and the count of orderings that differ (must be 0).
Also the CPU of ``build_chunk_index`` per page (paid once, at extraction) and
the index's size pickled (object store) and as gzipped JSON (extract store).

    .venv/bin/python benchmarks/ranking.py            # writes benchmarks/results/ranking.{json,md}
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from dataclasses import dataclass
from math import comb
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import machine_info, markdown_table, write_results  # noqa: E402
from benchmarks.realweb import find_realweb  # noqa: E402
from pipelines.chunk_index import build_chunk_index  # noqa: E402
from pipelines.extract import extract_page  # noqa: E402
from pipelines.ranking import LANGUAGES, RankQuery, _sample, _stemmer, _stopwords, detect_language, rank_chunks, rank_page  # noqa: E402

QUERY_KINDS = ("words", "inflected", "title", "title+keywords")
RANKERS = ("random", "before", "stopwords", "after")
_CONTENT = re.compile(r"(?u)\b[^\W\d_]{4,}\b")


@dataclass
class _Fetched:
    url: str
    body: bytes
    status: str = "ok"
    content_type: str = "text/html"
    charset: str | None = None


def rank_before(query: str, chunks: list[str], top_k: int) -> list[int]:
    """The chunk ranking before this change (pipelines/ranking.py at 409a4b9), kept as the baseline."""
    import bm25s

    corpus = bm25s.tokenize(chunks, stopwords="en", show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    query_tokens = bm25s.tokenize([query], stopwords="en", show_progress=False, return_ids=False)[0]
    known = [t for t in query_tokens if t in corpus.vocab]
    scores = retriever.get_scores(known) if known else [0.0] * len(chunks)
    return sorted(range(len(chunks)), key=lambda i: (-float(scores[i]), i))[:top_k]


def rank_per_call(query: str, chunks: list[str], top_k: int, keywords: list[str]) -> list[int]:
    """``rank_chunks`` before chunks were indexed at extraction (pipelines/ranking.py at f26355a): everything per call."""
    import bm25s

    lang = detect_language(_sample(chunks)) or "en"
    stop, stem = LANGUAGES[lang], _stemmer(lang)
    corpus = bm25s.tokenize(chunks, stopwords=stop, stemmer=stem, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    query_tokens = bm25s.tokenize([" ".join([query, *keywords])], stopwords=stop, stemmer=stem, show_progress=False, return_ids=False)[0]
    known = list(dict.fromkeys(t for t in query_tokens if t in corpus.vocab))
    scores = retriever.get_scores(known) if known else [0.0] * len(chunks)
    return sorted(range(len(chunks)), key=lambda i: (-float(scores[i]), i))[:top_k]


def rank_stopwords_only(query: str, chunks: list[str], top_k: int, language: str) -> list[int]:
    import bm25s

    stop = LANGUAGES[language]
    corpus = bm25s.tokenize(chunks, stopwords=stop, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    query_tokens = bm25s.tokenize([query], stopwords=stop, show_progress=False, return_ids=False)[0]
    known = list(dict.fromkeys(t for t in query_tokens if t in corpus.vocab))
    scores = retriever.get_scores(known) if known else [0.0] * len(chunks)
    return sorted(range(len(chunks)), key=lambda i: (-float(scores[i]), i))[:top_k]


def inflect(word: str, language: str) -> str:
    """A plain suffix change (see the module docstring); never Snowball's own rules."""
    if language == "de":
        if word.endswith("en"):
            return word[:-2]
        if word.endswith("e"):
            return word + "n"
        return word + "en"
    if word.endswith("s") and len(word) > 4:
        return word[:-1]
    return word + "s"


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _random_hit(n: int, gold: int, k: int) -> float:
    """P(a random top-k of n chunks holds at least one of ``gold`` chunks)."""
    k = min(k, n)
    return 1.0 - comb(n - gold, k) / comb(n, k)


def _cases(manifest: list[dict], realweb: Path, min_chunks: int, seed: int):
    """(page index, language, title, chunks, snippet, gold chunk indices, content words) for each usable snippet."""
    all_stop = frozenset().union(*(_stopwords(code) for code in LANGUAGES))
    for i, entry in enumerate(manifest):
        body = (realweb / entry["file"]).read_bytes()
        page = extract_page(_Fetched(entry["url"], body))
        if not page.ok or len(page.chunks) < min_chunks:
            continue
        language = detect_language(" ".join(page.chunks)) or "en"
        norm_chunks = [_norm(c) for c in page.chunks]
        rng = random.Random(seed * 1000 + i)
        for snippet in entry.get("with") or []:
            gold = [j for j, c in enumerate(norm_chunks) if _norm(snippet) in c]
            words = [w for w in dict.fromkeys(_CONTENT.findall(snippet)) if w.casefold() not in all_stop]
            if not gold or len(words) < 2:
                continue
            picked = rng.sample(words, min(4, len(words)))
            yield i, language, page, gold, picked


def measure(manifest: list[dict], realweb: Path, k: int, min_chunks: int, seed: int) -> dict:
    hits = {(q, r): 0 for q in QUERY_KINDS for r in RANKERS}
    by_lang: dict[str, dict] = {}
    n_cases, pages, ms = 0, set(), {r: 0.0 for r in RANKERS[1:]}
    cost = _Cost()
    for i, language, page, gold, words in _cases(manifest, realweb, min_chunks, seed):
        title, chunks = page.title or "", page.chunks
        n_cases += 1
        if i not in pages:
            cost.index(page)
        pages.add(i)
        inflected = [inflect(w, language) for w in words]
        queries = {"words": (" ".join(words), []), "inflected": (" ".join(inflected), []),
                   "title": (title, []), "title+keywords": (title, [" ".join(inflected)])}
        lang_row = by_lang.setdefault(language, {"cases": 0, **{f"{q}/{r}": 0.0 for q in QUERY_KINDS for r in RANKERS}})
        lang_row["cases"] += 1
        for kind, (question, keywords) in queries.items():
            rand = _random_hit(len(chunks), len(gold), k)
            t0 = time.perf_counter()
            before = rank_before(question, chunks, k)  # the old ranker saw the question only
            t1 = time.perf_counter()
            stop_only = rank_stopwords_only(" ".join([question, *keywords]), chunks, k, language)
            t2 = time.perf_counter()
            after = [r.index for r in rank_chunks(question, chunks, k, keywords=keywords)]
            t3 = time.perf_counter()
            ms["before"] += (t1 - t0) * 1000
            ms["stopwords"] += (t2 - t1) * 1000
            ms["after"] += (t3 - t2) * 1000
            cost.rank(page, question, keywords, k, after)
            results = {"random": rand, "before": float(bool(set(before) & set(gold))),
                       "stopwords": float(bool(set(stop_only) & set(gold))), "after": float(bool(set(after) & set(gold)))}
            for ranker, value in results.items():
                hits[(kind, ranker)] += value
                lang_row[f"{kind}/{ranker}"] += value
    table = {kind: {r: round(hits[(kind, r)] / max(n_cases, 1), 3) for r in RANKERS} for kind in QUERY_KINDS}
    langs = {lang: {"cases": row["cases"], **{key: round(v / row["cases"], 3) for key, v in row.items() if key != "cases"}}
             for lang, row in sorted(by_lang.items(), key=lambda kv: -kv[1]["cases"])}
    calls = max(n_cases * len(QUERY_KINDS), 1)
    return {"k": k, "min_chunks": min_chunks, "seed": seed, "pages": len(pages), "cases": n_cases, "hit_at_k": table,
            "by_language": langs, "ms_per_ranking": {r: round(v / calls, 3) for r, v in ms.items()}, "cost": cost.summary()}


class _Cost:
    """CPU (time.process_time) of ranking per call vs from the page's index, and what the index costs a page."""

    def __init__(self) -> None:
        self.calls = self.pages = self.differ = 0
        self.cpu = {"per_call": 0.0, "indexed_cold": 0.0, "indexed_warm": 0.0, "index_at_extraction": 0.0}
        self.bytes = {"page_pickle": 0, "index_pickle": 0, "index_json_gzip": 0}

    def index(self, page) -> None:
        import gzip
        import pickle

        t0 = time.process_time()
        page.chunk_index = build_chunk_index(page.chunks)  # what extract_page does once per page
        self.cpu["index_at_extraction"] += time.process_time() - t0
        self.pages += 1
        index = page.chunk_index
        self.bytes["index_pickle"] += len(pickle.dumps(index))
        page.chunk_index = None
        self.bytes["page_pickle"] += len(pickle.dumps(page))
        page.chunk_index = index
        self.bytes["index_json_gzip"] += len(gzip.compress(json.dumps(index.to_json()).encode()))

    def rank(self, page, question: str, keywords: list[str], k: int, after: list[int]) -> None:
        t0 = time.process_time()
        per_call = rank_per_call(question, page.chunks, k, keywords)  # as the judge ranked before: once per (cell, page)
        t1 = time.process_time()
        query = RankQuery(question, keywords)  # a cell's first page: its query is tokenized here
        cold = [r.index for r in rank_page(query, page, k)]
        t2 = time.process_time()
        warm = [r.index for r in rank_page(query, page, k)]  # a cell's further pages in the same language: scoring only
        t3 = time.process_time()
        self.calls += 1
        self.differ += not (per_call == cold == warm == after)
        for key, dt in (("per_call", t1 - t0), ("indexed_cold", t2 - t1), ("indexed_warm", t3 - t2)):
            self.cpu[key] += dt

    def summary(self) -> dict:
        per = {"per_call": self.calls, "indexed_cold": self.calls, "indexed_warm": self.calls, "index_at_extraction": self.pages}
        return {"rankings": self.calls, "pages": self.pages, "orderings_differing": self.differ,
                "cpu_ms": {key: round(v * 1000 / max(per[key], 1), 3) for key, v in self.cpu.items()},
                "bytes_per_page": {key: round(v / max(self.pages, 1)) for key, v in self.bytes.items()}}


def _markdown(data: dict) -> str:
    k = data["k"]
    rows = [[kind, *(f"{data['hit_at_k'][kind][r]:.3f}" for r in RANKERS)] for kind in QUERY_KINDS]
    out = [f"Chunk holding a `with` snippet in the top {k} ({data['cases']} snippets on {data['pages']} real pages "
           f"with at least {data['min_chunks']} chunks):", "", markdown_table(["query", *RANKERS], rows), ""]
    lang_rows = [[lang, row["cases"], *(f"{row[f'{q}/before']:.3f} → {row[f'{q}/after']:.3f}" for q in QUERY_KINDS)]
                 for lang, row in data["by_language"].items()]
    out += ["By detected page language (before → after):", "",
            markdown_table(["language", "snippets", *QUERY_KINDS], lang_rows), "",
            "ms per ranking: " + ", ".join(f"{r} {v}" for r, v in data["ms_per_ranking"].items()), ""]
    cost = data["cost"]
    cpu, size = cost["cpu_ms"], cost["bytes_per_page"]
    out += [f"Ranking at judge time, CPU ms per call ({cost['rankings']} rankings, {cost['pages']} pages; "
            f"orderings that differ from the per-call ranking: {cost['orderings_differing']}):", "",
            markdown_table(["per call (before)", "from index, query tokenized", "from index, query already tokenized"],
                           [[cpu["per_call"], cpu["indexed_cold"], cpu["indexed_warm"]]]), "",
            f"Index at extraction: {cpu['index_at_extraction']} ms CPU per page; {size['index_pickle']} bytes pickled "
            f"(page without it {size['page_pickle']}), {size['index_json_gzip']} bytes as gzipped JSON in the extract store."]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=3, help="top-k chunks the judge sees (chunks_per_page)")
    parser.add_argument("--min-chunks", type=int, default=5, help="leave out pages with fewer chunks")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages of the manifest")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--realweb", type=Path, default=None, help="the realweb folder (default: shared/realweb above the repo)")
    parser.add_argument("--results-dir", default=None)
    args = parser.parse_args(argv)
    realweb = args.realweb or find_realweb()
    if realweb is None or not (realweb / "manifest.json").is_file():
        sys.exit(f"realweb not found at {realweb} (expected ../shared/realweb relative to the repo root, or --realweb); "
                 "nothing measured")
    manifest = json.loads((realweb / "manifest.json").read_text())[: args.limit]
    data = {"machine": machine_info(), "realweb": str(realweb), **measure(manifest, realweb, args.k, args.min_chunks, args.seed)}
    write_results("ranking", data, _markdown(data), args.results_dir)
    print(_markdown(data))
    return data


if __name__ == "__main__":
    main()
