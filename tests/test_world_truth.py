"""The harness-only scorer: lenient like a careful grader, strict about the facts."""

from __future__ import annotations

import pytest

from pipelines.world.truth import COLUMN_TRUTH, load_truth, score_answer, score_results


@pytest.mark.parametrize(("kind", "answer", "truth", "ok"), [
    ("ceo", "Anna Berg", "Anna Berg", True),
    ("ceo", "anna berg.", "Anna Berg", True),
    ("ceo", "Anna Berg (CEO)", "Anna Berg", True),
    ("ceo", "Karl Weiss", "Anna Berg", False),
    ("ceo", None, "Anna Berg", False),
    ("ceo", "unknown", "Anna Berg", False),
    ("founded", "2009", 2009, True),
    ("founded", "Founded in 2009.", 2009, True),
    ("founded", "2010", 2009, False),
    ("employees", "1,200", 1200, True),
    ("employees", "about 1.2k staff", 1200, True),
    ("employees", "1.200", 1200, True),
    ("employees", 1200, 1200, True),
    ("employees", "300", 1200, False),
    ("hq_city", "Hamburg, Germany", "Hamburg", True),
    ("hq_city", "Munich", "Hamburg", False),
    ("ceo_previous_employer", "Globex Corp.", "Globex Corporation", True),
    ("ceo_previous_employer", "Initech Inc", "Initech", True),
    ("product", "the RoboArm Pro", "RoboArm Pro", True),
    ("product", "RoboArm", "RoboArm Pro", False),
    ("funding", "Series B ($25,500,000)", {"round": "Series B", "amount": 25_500_000}, True),
    ("funding", "Series B, $25.5M", {"round": "Series B", "amount": 25_500_000}, True),
    ("funding", "Series A ($25,500,000)", {"round": "Series B", "amount": 25_500_000}, False),
    ("funding", "Series B ($3,000,000)", {"round": "Series B", "amount": 25_500_000}, False),
])
def test_score_answer(kind, answer, truth, ok):
    assert score_answer(kind, answer, truth) is ok


def test_score_results_wide_and_long_rows(tmp_path):
    from pipelines.world.corpus import Corpus

    corpus = Corpus(7, 2)
    corpus.write_ground_truth(str(tmp_path / "gt.json"))
    truth = load_truth(tmp_path / "gt.json")
    a, b = corpus.companies
    wide = [{"company": a.name, "ceo": a.ceo, "founded": str(a.founded), "hq_city": a.hq_city, "employees": a.employees,
             "product": a.product, "funding": f"{a.funding_round} (${a.funding_amount:,})", "ceo_previous": a.ceo_previous_employer},
            {"company": b.name, "ceo": {"answer": b.former_ceo}}]
    report = score_results(wide, truth, COLUMN_TRUTH)
    assert report["columns"]["ceo"] == {"correct": 1, "total": 2, "accuracy": 0.5}
    assert report["overall"]["correct"] == 7 and report["overall"]["total"] == 14
    assert {m["column"] for m in report["misses"] if m["company"] == b.name} == set(COLUMN_TRUTH)
    long = [{"row_key": a.name, "column": "ceo", "answer": a.ceo}, {"row_key": b.name, "column": "ceo", "answer": "x"}]
    assert score_results(long, truth, {"ceo": "ceo"})["accuracy"] == 0.5
