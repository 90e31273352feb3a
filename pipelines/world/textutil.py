"""Small text helpers shared by the extractive engine, the search index and the scorer."""

from __future__ import annotations

import re

__all__ = [
    "STOPWORDS",
    "terms",
    "split_sentences",
    "parse_number",
    "NUMBER_RE",
    "mentions",
    "similar_name_in",
    "ORG_SUFFIXES",
    "org_names",
]

STOPWORDS = frozenset(
    """a an and are as at be been being but by can could did do does doing for from had has have how i if in into is it
    its it's of on or our so than that the their them then there these they this to under up was we were what when where
    which while who whom whose why will with would you your about after before over also not no yes me my he she his her
    any all each more most other some such only own same too very just now s t der die das und ist in ein eine""".split()
)

_WORD = re.compile(r"[a-z0-9äöüß]+(?:['’][a-z]+)?")


def _stem(word: str) -> str:
    word = word.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


_STEMS: dict[str, str] = {}


def terms(text: str) -> list[str]:
    """Lower-cased, lightly stemmed content words (stopwords dropped)."""
    out = []
    stems = _STEMS
    for word in _WORD.findall(text.lower()):
        stem = stems.get(word)
        if stem is None:
            if len(stems) > 500_000:  # indexing an open-ended vocabulary must not grow memory forever
                stems.clear()
            stem = stems[word] = "" if word in STOPWORDS else _stem(word)
        if stem:
            out.append(stem)
    return out


_ABBREV = re.compile(r"\b(?:Inc|Ltd|Corp|Co|Mr|Ms|Mrs|Dr|St|No|vs|approx|ca|z\.B|bzw)\.$")


def split_sentences(text: str) -> list[str]:
    """Sentences, split on terminal punctuation followed by a capital, and on line breaks."""
    out: list[str] = []
    for block in re.split(r"\n+", text):
        block = block.strip()
        if not block:
            continue
        parts = re.split(r"(?<=[.!?])\s+(?=[\"“(]?[A-ZÄÖÜ0-9])", block)
        buf = ""
        for part in parts:
            buf = f"{buf} {part}".strip() if buf else part
            if not _ABBREV.search(buf):
                out.append(buf)
                buf = ""
        if buf:
            out.append(buf)
    return out


# "1,200", "1.200" (German thousands), "1 200", "1.2k", "1.2 thousand", "25 million", "$3.5M", "2,5 Mio."
NUMBER_RE = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:[,. ]\d{3})+|\d+(?:[.,]\d+)?)(?:\s?(k|K|thousand|tausend|m|M|mn|million|millions|Mio\.?|bn|b|B|billion|Mrd\.?))?(?![\w])"
)
_MULT = {
    "k": 1e3, "thousand": 1e3, "tausend": 1e3,
    "m": 1e6, "mn": 1e6, "million": 1e6, "millions": 1e6, "mio": 1e6, "mio.": 1e6,
    "bn": 1e9, "b": 1e9, "billion": 1e9, "mrd": 1e9, "mrd.": 1e9,
}


def _digits(raw: str) -> float:
    if re.fullmatch(r"\d{1,3}(?:[,. ]\d{3})+", raw):
        return float(re.sub(r"[,. ]", "", raw))
    return float(raw.replace(",", "."))


def parse_number(text: str) -> float | None:
    """The first number in ``text`` with its unit multiplier applied, or None."""
    m = NUMBER_RE.search(text)
    if not m:
        return None
    value = _digits(m.group(1))
    unit = (m.group(2) or "").lower()
    return value * _MULT.get(unit, 1.0)


def mentions(text: str, name: str) -> bool:
    """Whole-phrase, case-insensitive mention of ``name``."""
    if not name:
        return False
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.I) is not None


def similar_name_in(text: str, name: str) -> bool:
    """True when ``text`` names a company that shares ``name``'s first word but is not ``name``.

    "Acme Robotix" in a sentence is a different company from "Acme Robotics",
    however alike they look; a sentence about it says nothing about ours.
    """
    words = name.split()
    if len(words) < 2 or len(words[0]) < 3:
        return False
    for m in re.finditer(rf"(?<![\w-]){re.escape(words[0])}\s+([A-Z][\w&-]*)", text):
        if not re.match(rf"{re.escape(name)}(?![\w-])", text[m.start():], re.I):
            return True
    return False


ORG_SUFFIXES = frozenset(
    """Inc Ltd LLC GmbH AG Corp Corporation Company Co Group Holdings Robotics Robotix Analytics Analytica Systems
    Sistems Labs Laboratories Technologies Tech Software Soft Networks Netwerks Energy Energie Logistics Logistix
    Foods Health Healthcare Dynamics Dynamix Materials Biotech Bio Capital Partners Ventures Industries Maritime
    Motors Media Security Solutions Cloud Semiconductors Aerospace Pharma Therapeutics Traders Bank""".split()
)

_ORG_RE = re.compile(r"\b((?:[A-Z][\w&'-]*\s+){1,3}(?:" + "|".join(sorted(ORG_SUFFIXES)) + r"))\b")


def org_names(text: str) -> list[str]:
    """Capitalised names ending in a company-ish word ("Borealis Analytics", "Initech Systems")."""
    out = []
    for m in _ORG_RE.finditer(text):
        name = re.sub(r"^(?:The|In|At|From|For|And|With|By|On|Our)\s+", "", m.group(1).strip())
        out.append(name)
    return out
