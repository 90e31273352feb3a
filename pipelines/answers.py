"""Turn the summarizer's answer text into the value the column's type asks for.

Rules, not an LLM: "1,200", "about 1.2k" and "1200 employees" are all 1200.
A value that does not fit the type is reported, not guessed: ``coerce``
returns ``(None, problem)`` and the cell keeps the text with the problem noted.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime

__all__ = ["coerce", "ANSWER_TYPES"]

ANSWER_TYPES = ("text", "integer", "number", "boolean", "date", "url", "list")

_NUM = re.compile(r"(?<![\w.])(-?\d{1,3}(?:[,\u202f\u00a0 ]\d{3})+|-?\d+(?:\.\d+)?)\s*(k|m|bn|b|thousand|million|billion)?\b", re.I)
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
_TRUE = {"yes", "true", "y", "1", "ja", "oui"}
_FALSE = {"no", "false", "n", "0", "nein", "non"}
_MONTH_FORMATS = ("%B %d, %Y", "%d %B %Y", "%B %Y", "%b %d, %Y", "%d %b %Y", "%b %Y", "%d.%m.%Y", "%m/%d/%Y")


def _number(text: str) -> float | None:
    m = _NUM.search(text.replace("$", " ").replace("€", " "))
    if not m:
        return None
    raw = re.sub(r"[,\u202f\u00a0 ]", "", m.group(1))
    value = float(raw)
    if m.group(2):
        value *= _SCALE[m.group(2).lower()]
    return value


def _date(text: str) -> str | None:
    s = text.strip().rstrip(".")
    m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", s)
    if m:
        try:
            if m.group(3):
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
            if m.group(2):
                return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}" if 1 <= int(m.group(2)) <= 12 else None
            return m.group(1)
        except ValueError:
            return None
    for fmt in _MONTH_FORMATS:
        try:
            parsed = datetime.strptime(s, fmt)
        except ValueError:
            continue
        return parsed.strftime("%Y-%m") if "%d" not in fmt else parsed.date().isoformat()
    year = re.search(r"\b(1[5-9]\d{2}|20\d{2})\b", s)
    return year.group(1) if year else None


def _list(text: str) -> list[str]:
    s = text.strip()
    if s.startswith("["):
        try:
            data = json.loads(s)
            if isinstance(data, list):
                return [str(x).strip() for x in data if str(x).strip()]
        except json.JSONDecodeError:
            pass
    parts = re.split(r"\s*;\s*|\n+|\s*\|\s*", s)
    if len(parts) == 1:
        parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", s)
    return [p.strip(" -•*") for p in parts if p.strip(" -•*")]


def coerce(answer: str, answer_type: str) -> tuple[object | None, str | None]:
    """``(value, None)`` when the answer fits the type, else ``(None, problem)``."""
    text = answer.strip()
    if answer_type == "text":
        return text, None
    if answer_type in ("integer", "number"):
        value = _number(text)
        if value is None:
            return None, f"type_mismatch: {answer_type} expected, got {text[:80]!r}"
        if answer_type == "integer":
            return int(round(value)), None
        return value, None
    if answer_type == "boolean":
        word = re.sub(r"[^\w]", "", text.split()[0].lower()) if text.split() else ""
        if word in _TRUE:
            return True, None
        if word in _FALSE:
            return False, None
        return None, f"type_mismatch: yes/no expected, got {text[:80]!r}"
    if answer_type == "date":
        day = _date(text)
        return (day, None) if day else (None, f"type_mismatch: date expected, got {text[:80]!r}")
    if answer_type == "url":
        m = re.search(r"https?://[^\s<>\"']+", text)
        return (m.group(0).rstrip(".,)"), None) if m else (None, f"type_mismatch: URL expected, got {text[:80]!r}")
    if answer_type == "list":
        items = _list(text)
        return (items, None) if items else (None, "type_mismatch: empty list")
    return text, None
