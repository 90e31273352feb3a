"""Typed answer spans: what kind of fact a question asks for, and where it sits in a sentence.

Pure functions over strings. The extractive engine calls ``question_kind`` to
pick an extractor and ``candidates`` to pull scored answer spans out of one
sentence; it aggregates the votes across sources itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.world.textutil import _MULT, NUMBER_RE, ORG_SUFFIXES, _digits

__all__ = ["Candidate", "question_kind", "candidates", "CUES", "format_money", "STALE_RE"]

# Words that signal a kind of fact; the judge expands question terms with them.
CUES: dict[str, tuple[str, ...]] = {
    "ceo": ("ceo", "chief executive", "chief executive officer", "geschäftsführer", "managing director", "leads", "led"),
    "previous_employer": ("before joining", "previously", "prior to", "spent", "years at", "worked at", "came from",
                          "joined from", "former", "career", "background", "before"),
    "year": ("founded", "established", "incorporated", "gegründet", "founding", "set up in"),
    "city": ("headquartered", "headquarters", "based in", "hq", "head office", "sitz", "located"),
    "count": ("employees", "employee", "staff", "people", "workers", "team of", "headcount", "mitarbeiter", "employs"),
    "funding": ("raised", "funding", "series", "round", "investors", "led by", "seed", "finanzierungsrunde"),
    "product": ("flagship", "main product", "product", "platform", "known for", "sells", "makes", "offers", "produkt"),
}

STALE_RE = re.compile(r"\b(former|formerly|then-|ex-|previous|predecessor|stepped down|retired|until \d{4}|was replaced|"
                      r"ehemalige[rn]?|at the time|back then)", re.I)
_PERSON = re.compile(r"\b([A-Z][a-zßà-ÿ'’-]+(?:\s+(?:van|de|von|da|del)\b)?(?:\s+[A-Z][a-zßà-ÿ'’-]+){1,2})\b")
_NOT_NAME = {"The", "Our", "Chief", "Executive", "Officer", "Before", "After", "In", "At", "Since", "Under", "With",
             "Today", "Prior", "Managing", "Director", "Technology", "Financial", "Operating", "Head", "Vice", "President",
             "Founder", "Co", "Series", "January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December", "News", "Press", "About", "Team", "Leadership", "Board",
             "Mr", "Ms", "Der", "Die", "Das", "Sie", "Er", "Seit", "Vor", "Als", "She", "He", "It", "This", "That",
             "According", "When", "Led", "During", "Former", "Then", "New", "Read", "More", "Contact", "Careers", "Join"}
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_ROUND = re.compile(r"\b(Series [A-H]\b(?: extension)?|pre-seed|seed round|Seed round|seed|Seed|growth round|bridge round)", re.I)
_MONEY = re.compile(r"(?:(?:US)?[$€£]|USD\s?|EUR\s?)\s?(\d[\d,.]*)\s*(k|K|m|M|mn|million|bn|billion|Mio\.?)?\b"
                    r"|(\d[\d,.]*)\s*(million|billion|Mio\.?)\s*(?:dollars|USD|euros|EUR|US-Dollar)", re.I)
_CAPSEQ = r"([A-Z][\w&'’.-]*(?:\s+(?:&\s+)?[A-Z0-9][\w&'’.-]*){0,3})"
_PLACE_PATTERNS = [
    re.compile(r"(?:headquartered|based|located|headquarters(?: are| is)?|head office(?: is)?|HQ(?: is)?|offices?)\s+in\s+" + _CAPSEQ),
    re.compile(r"(?:Sitz|Hauptsitz|Firmensitz)\s+(?:in|ist)\s+" + _CAPSEQ),
    re.compile(r"\bfrom (?:its|their) " + _CAPSEQ + r" headquarters"),
    re.compile(_CAPSEQ + r"-based\b"),
]
_EMPLOYER_PATTERNS = [
    re.compile(r"(?:years? at|worked at|working at|was at|previously at|career at|stint at|tenure at|time at|role at|"
               r"came from|joined from|moved from|arrived from|poached from|position at|executive at|leader at)\s+(?:the\s+)?" + _CAPSEQ),
    re.compile(r"(?:previously|formerly|before that|earlier)\s*,?\s+(?:[\w-]+\s+){0,6}?(?:at|with|for)\s+(?:the\s+)?" + _CAPSEQ),
    re.compile(r"\b(?:a )?former\s+" + _CAPSEQ + r"\s+(?:executive|manager|director|engineer|leader|VP|vice president|partner)"),
    re.compile(r"(?:zuvor|vorher)\s+(?:[\w-]+\s+){0,5}?(?:bei)\s+" + _CAPSEQ),
]
_PRODUCT_PATTERNS = [
    re.compile(r"(?:flagship(?: product)?|main product|core product|best-selling product|signature product|"
               r"Hauptprodukt|Flaggschiff)(?: is| ist| remains)?[,:]?\s+(?:the\s+|das\s+|called\s+)?" + _CAPSEQ),
    re.compile(r"(?:best known for|known for|famous for)\s+(?:its|their)\s+(?:\w+\s+){0,2}?" + _CAPSEQ),
    re.compile(r"(?:makes|sells|builds|develops|offers)\s+(?:the\s+)?" + _CAPSEQ + r"(?:,| platform| system| suite)"),
]
_TRAILING_JUNK = re.compile(r"(?:\s+(?:and|in|at|for|the|of|as|where|which|with|since|before|after|to))+$|[.,;:]+$")


@dataclass
class Candidate:
    value: str  # normalised answer text
    score: float
    stale: bool = False


def question_kind(question: str, answer_type: str = "text") -> str:
    q = question.lower()
    if re.search(r"\b(work|worked|employed|career)\b.*\bbefore\b|\bprevious(ly)? (employer|job|company)|before joining", q):
        return "previous_employer"
    if re.search(r"\bfunding\b|\braise[ds]?\b|\binvest", q):
        return "funding"
    if re.search(r"\bwho\b", q) or re.search(r"\b(ceo|chief executive|founder|cto|cfo)\b.*\bname\b", q):
        return "ceo" if re.search(r"\b(ceo|chief executive|leads?|runs?|head)\b", q) else "person"
    if re.search(r"\b(what|which) year\b|\bwhen\b.*\b(founded|established|started|incorporated)\b|\bfounded\b", q) or answer_type == "date":
        return "year"
    if re.search(r"\b(city|headquarter|headquarters|hq|based)\b", q):
        return "city"
    if re.search(r"\bhow many\b|\bnumber of\b|\bheadcount\b", q) or answer_type in {"integer", "number"}:
        return "count"
    if re.search(r"\bproduct\b|\bwhat does .* (sell|make|offer)\b", q):
        return "product"
    return "generic"


def _clean_span(span: str) -> str:
    span = re.split(r"\s+(?:and|in|at|for|where|which|with|since|before|after|to|as|from|until|who)\s+", span)[0]
    while True:
        new = _TRAILING_JUNK.sub("", span).strip()
        if new == span:
            return span
        span = new


def _persons(sentence: str) -> list[tuple[str, int]]:
    out = []
    for m in _PERSON.finditer(sentence):
        words = [w for w in m.group(1).split() if w not in _NOT_NAME]
        if len(words) < 2 or any(w.rstrip("'’s") in ORG_SUFFIXES for w in words):
            continue
        out.append((" ".join(words), m.start()))
    return out


def _near(sentence: str, pos: int, cues: tuple[str, ...]) -> float:
    low = sentence.lower()
    best = 10_000
    for cue in cues:
        for m in re.finditer(re.escape(cue), low):
            best = min(best, abs(m.start() - pos))
    return 2.0 if best <= 40 else 1.0 if best <= 100 else 0.0


def _stale_near(sentence: str, pos: int) -> bool:
    window = sentence[max(0, pos - 40): pos]
    return STALE_RE.search(window) is not None or re.search(r"\bsucceed(?:ed|s)\s+(?:\w+\s+){0,2}$", window) is not None


def format_money(value: float) -> str:
    return f"${int(round(value)):,}"


def _money_values(sentence: str) -> list[float]:
    out = []
    for m in _MONEY.finditer(sentence):
        raw, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        try:
            out.append(_digits(raw) * _MULT.get((unit or "").lower().rstrip("."), 1.0))
        except ValueError:
            continue
    return out


def candidates(kind: str, sentence: str, entity: str, person: str | None = None) -> list[Candidate]:
    """Scored answer spans of ``kind`` in one sentence."""
    sentence_stale = STALE_RE.search(sentence) is not None
    out: list[Candidate] = []
    if kind in {"ceo", "person"}:
        cues = CUES["ceo"] if kind == "ceo" else ("founder", "ceo", "chief", "head", "director", "president")
        for name, pos in _persons(sentence):
            if entity and name.lower() in entity.lower():
                continue
            near = _near(sentence, pos, cues)
            if near == 0:
                continue
            out.append(Candidate(name, near, _stale_near(sentence, pos)))
    elif kind == "previous_employer":
        for pat in _EMPLOYER_PATTERNS:
            for m in pat.finditer(sentence):
                org = _clean_span(m.group(1))
                if org and (not entity or org.lower() not in entity.lower()) and (not person or org not in person):
                    bonus = 1.0 if person and (person in sentence or person.split()[-1] in sentence) else 0.0
                    out.append(Candidate(org, 1.0 + bonus))
    elif kind == "year":
        for m in _YEAR.finditer(sentence):
            near = _near(sentence, m.start(), CUES["year"])
            if near:
                out.append(Candidate(m.group(1), near, False))
    elif kind == "city":
        for pat in _PLACE_PATTERNS:
            for m in pat.finditer(sentence):
                city = _clean_span(m.group(1)).split(",")[0].strip()
                if city and (not entity or city.lower() not in entity.lower()):
                    out.append(Candidate(city, 2.0, sentence_stale))
    elif kind == "count":
        for m in NUMBER_RE.finditer(sentence):
            tail = sentence[m.end(): m.end() + 30].lower()
            head = sentence[max(0, m.start() - 30): m.start()].lower()
            if re.match(r"\s*(?:[a-z-]+\s+){0,2}?(employees|staff|people|workers|mitarbeiter|beschäftigte|team members)", tail) \
                    or re.search(r"(team of|employs|headcount(?: of| is)?|workforce of)\s*(?:about|around|roughly|some|over|nearly|approximately|rund|etwa)?\s*$", head):
                if _YEAR.fullmatch(m.group(1)) and "employ" not in head and not tail.strip().startswith(("employees", "staff", "people")):
                    continue
                value = _digits(m.group(1)) * _MULT.get((m.group(2) or "").lower().rstrip("."), 1.0)
                out.append(Candidate(str(int(round(value))), 2.0, sentence_stale))
    elif kind == "funding":
        rounds = [r.group(1) for r in _ROUND.finditer(sentence)]
        amounts = _money_values(sentence)
        if rounds or amounts:
            rnd = _norm_round(rounds[0]) if rounds else ""
            amt = format_money(amounts[0]) if amounts else ""
            funding = f"{rnd} ({amt})" if rnd and amt else rnd or amt
            out.append(Candidate(funding, 2.0 if rnd and amt else 1.0, sentence_stale))
    elif kind == "product":
        for pat in _PRODUCT_PATTERNS:
            for m in pat.finditer(sentence):
                prod = _clean_span(m.group(1))
                if prod and (not entity or prod.lower() != entity.lower()):
                    out.append(Candidate(prod, 2.0, sentence_stale))
    return out


def _norm_round(raw: str) -> str:
    low = raw.lower()
    if low.startswith("series"):
        return "Series " + raw.split()[1].upper() + (" extension" if "extension" in low else "")
    if "pre-seed" in low:
        return "Pre-seed"
    if "seed" in low:
        return "Seed"
    return raw.strip().capitalize()
