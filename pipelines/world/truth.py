"""Harness-only scoring against the world's ground truth.

Tests and benchmarks call this; the pipeline and the extractive LLM engine
never do (they must not know the answers). Matching is lenient the way a
careful human grader is: case, punctuation, accents and company suffixes are
ignored, numbers are compared by value ("1.2k" == "1,200" == 1200), and a
short answer that contains the whole true value counts ("the RoboArm Pro").
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from pipelines.world.textutil import _MULT, NUMBER_RE, _digits

__all__ = ["load_truth", "score_answer", "score_results", "truth_value", "FIELD_KINDS", "COLUMN_TRUTH"]

# The default job's columns -> ground-truth fields (see pipelines.world.process.DEFAULT_COLUMNS).
COLUMN_TRUTH = {"ceo": "ceo", "founded": "founded", "hq_city": "hq_city", "employees": "employees", "product": "product",
                "funding": "funding", "ceo_previous": "ceo_previous_employer"}

FIELD_KINDS = {
    "ceo": "person", "founded": "year", "hq_city": "text", "employees": "integer", "product": "text",
    "funding": "funding", "funding_round": "text", "funding_amount": "money", "ceo_previous_employer": "text",
}
_SUFFIXES = r"\b(inc|incorporated|ltd|limited|llc|gmbh|ag|corp|corporation|co|company|plc|sa|the)\b"
_ROUND = re.compile(r"\b(series\s+[a-h]|pre-seed|seed)\b", re.I)


def load_truth(path: str | Path) -> dict:
    """The ground truth file, plus ``by_company``: company name -> its facts."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    data["by_company"] = {row["company"]: row for row in data["companies"]}
    return data


def truth_value(facts: dict, field: str):
    if field == "funding":
        return {"round": facts["funding_round"], "amount": facts["funding_amount"]}
    return facts[field]


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^\w\s]", " ", text)
    text = re.sub(_SUFFIXES, " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _numbers(text: str) -> list[float]:
    out = []
    for m in NUMBER_RE.finditer(str(text)):
        try:
            out.append(_digits(m.group(1)) * _MULT.get((m.group(2) or "").lower().rstrip("."), 1.0))
        except ValueError:
            continue
    return out


def _close(a: float, b: float, rel: float) -> bool:
    return abs(a - b) <= max(0.5, rel * abs(b))


def score_answer(column_kind: str, answer_value, truth_value) -> bool:
    """True when ``answer_value`` states ``truth_value``. ``column_kind`` is a kind or a truth field name."""
    kind = FIELD_KINDS.get(column_kind, column_kind)
    if answer_value is None or str(answer_value).strip().lower() in {"", "unknown", "none", "n/a"}:
        return False
    if kind == "year":
        years = re.findall(r"\b(1[6-9]\d\d|20\d\d)\b", str(answer_value))
        return bool(years) and int(years[0]) == int(truth_value)
    if kind in {"integer", "number", "money"}:
        if isinstance(answer_value, (int, float)):
            return _close(float(answer_value), float(truth_value), 0.005)
        nums = _numbers(str(answer_value))
        return bool(nums) and _close(nums[0], float(truth_value), 0.005 if kind != "money" else 0.01)
    if kind == "funding":
        answer = str(answer_value)
        rnd = _ROUND.search(answer)
        if not rnd or _norm(rnd.group(1)) != _norm(truth_value["round"]):
            return False
        amount = truth_value.get("amount")
        money = [n for n in _numbers(answer) if n >= 1000]
        return amount is None or any(_close(n, float(amount), 0.01) for n in money)
    a, t = _norm(answer_value), _norm(truth_value)
    if not a or not t:
        return False
    if a == t:
        return True
    # A short answer wrapping the true value: "the RoboArm Pro", "Anna Berg (CEO)".
    return re.search(rf"\b{re.escape(t)}\b", a) is not None and len(a.split()) <= len(t.split()) + 3


def _cell(value):
    if isinstance(value, dict):
        return value.get("answer", value.get("value"))
    return value


def _pivot(cells: list[dict], key: str) -> list[dict]:
    rows: dict[str, dict] = {}
    for cell in cells:
        row_key = str(cell.get("row_key", cell.get(key)))
        rows.setdefault(row_key, {key: row_key})[cell["column"]] = cell.get("answer")
    return list(rows.values())


def score_results(rows: list[dict], truth: dict, column_map: dict[str, str] | None = None, key: str = "company") -> dict:
    """Accuracy per column and overall for result rows (``{key: ..., column: answer, ...}``).

    ``rows`` may also be long-format cells (``{"row_key", "column", "answer"}``, the ``cells``
    table). ``column_map`` maps a result column to a ground-truth field (default ``COLUMN_TRUTH``);
    a cell may be a plain value or a dict with ``answer``. Rows for unknown entities are ignored.
    Returns ``{"columns": {col: {correct, total, accuracy}}, "overall": {...}, "accuracy", "misses"}``.
    """
    column_map = column_map or COLUMN_TRUTH
    if rows and "column" in rows[0] and "answer" in rows[0]:
        rows = _pivot(rows, key)
    by_company = truth.get("by_company") or {r["company"]: r for r in truth["companies"]}
    columns = {c: {"correct": 0, "total": 0} for c in column_map}
    misses = []
    for row in rows:
        facts = by_company.get(row.get(key))
        if facts is None:
            continue
        for column, field in column_map.items():
            expected = truth_value(facts, field)
            answer = _cell(row.get(column))
            ok = score_answer(field, answer, expected)
            columns[column]["total"] += 1
            columns[column]["correct"] += int(ok)
            if not ok:
                misses.append({key: row.get(key), "column": column, "answer": answer, "truth": expected})
    for stats in columns.values():
        stats["accuracy"] = stats["correct"] / stats["total"] if stats["total"] else 0.0  # type: ignore[assignment]  # a share among the counts
    correct = sum(s["correct"] for s in columns.values())
    total = sum(s["total"] for s in columns.values())
    accuracy = correct / total if total else 0.0
    return {"columns": columns, "overall": {"correct": correct, "total": total, "accuracy": accuracy},
            "accuracy": accuracy, "misses": misses}
