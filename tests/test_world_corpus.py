"""The generated corpus: deterministic, full of the hard cases it promises, and cheap at 10,000 companies."""

from __future__ import annotations

import json
import time

import pytest

from pipelines.world.corpus import FACT_FIELDS, Corpus
from pipelines.world.html_render import render_html
from pipelines.world.index import SearchIndex, world_documents
from pipelines.world.pages import site_pages


def _all_text(corpus: Corpus, host: str) -> str:
    return "\n".join(build().text() for path, build in site_pages(corpus, host).items())


def test_same_seed_same_world_other_seed_other_world():
    a, b, c = Corpus(7, 20), Corpus(7, 20), Corpus(8, 20)
    assert a.ground_truth() == b.ground_truth() != c.ground_truth()
    # Company i does not depend on how many companies were generated after it.
    assert Corpus(7, 5).ground_truth()["companies"] == a.ground_truth()["companies"][:5]
    host = a.companies[3].host
    assert render_html(site_pages(a, host)["/about"](), "/about") == render_html(site_pages(b, host)["/about"](), "/about")


def test_ground_truth_has_every_planted_fact(tmp_path):
    corpus = Corpus(7, 5)
    corpus.write_ground_truth(str(tmp_path / "gt.json"))
    data = json.loads((tmp_path / "gt.json").read_text())
    assert len(data["companies"]) == 5 and len({r["company"] for r in data["companies"]}) == 5
    for row in data["companies"]:
        assert set(FACT_FIELDS) <= set(row) and row["domain"].endswith(".example")
        assert isinstance(row["founded"], int) and isinstance(row["employees"], int) and isinstance(row["funding_amount"], int)
        assert row["funding_round"].startswith("Series")


def test_hard_cases_are_present_even_in_a_five_company_world():
    corpus = Corpus(7, 5)
    news = _all_text(corpus, "dailybiz-news.example")
    directory = _all_text(corpus, "company-directory.example")
    assert {f for c in corpus.companies for f in c.third_party_only} >= {"funding_round", "ceo_previous_employer", "employees"}
    assert sum(c.twin is not None for c in corpus.companies) >= 2
    for c in corpus.companies:
        own = _all_text(corpus, c.host)
        assert c.former_ceo in own and c.ceo in own  # the former CEO is on an old news page
        assert "Über uns" in own and "gegründet" in own  # a German page
        if "funding_round" in c.third_party_only:
            assert c.funding_round not in own and c.funding_round in news
        if "ceo_previous_employer" in c.third_party_only:
            assert c.ceo_previous_employer not in own and c.ceo_previous_employer in directory
        if c.twin:
            twin = _all_text(corpus, c.twin.host)
            assert c.twin.name in twin and c.name not in twin and c.twin.ceo != c.ceo
            assert c.twin.name in news and c.twin.name in directory
    formats = " ".join(_all_text(corpus, c.host) for c in corpus.companies) + directory
    assert "k staff" in formats or "k people" in formats  # "about 1.2k staff"
    assert "a team of roughly" in formats and "Mitarbeiter" in formats
    print_pages = [p for c in corpus.companies for p in site_pages(corpus, c.host) if p.endswith("/print")]
    assert print_pages  # near-duplicate print versions of the funding news


@pytest.mark.slow
def test_ten_thousand_companies_generate_and_index():
    started = time.perf_counter()
    corpus = Corpus(7, 10_000)
    generated = time.perf_counter() - started
    index = SearchIndex(world_documents(corpus, 8780))
    total = time.perf_counter() - started
    print(f"10,000 companies: generated in {generated:.1f}s, {len(index):,} pages rendered and indexed in {total:.1f}s")
    assert len(index) > 100_000
    last = corpus.companies[-1]
    hits = index.search(f"Who is the CEO of {last.name}?", 10)
    assert any(last.host in h.url for h in hits[:3])
    assert total < 300
