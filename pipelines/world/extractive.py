"""The local world's LLM: a deterministic, extractive engine.

``complete(messages)`` is a pure function of the chat messages. It reads the
tags of trawl's prompt contract (``pipelines.prompts``): ``<task>`` expand,
judge, summarize or transform (``pipelines.world.transform``), ``<question>``, ``<context>``, ``<count>``, ``<page>`` /
``<chunk>``, ``<sources>`` / ``<source id=..>`` / ``<excerpt>``, ``<type>``, and
answers in the reply format those prompts ask for. It never sees the corpus
generator or its ground truth: everything it knows is in the request, which is
what makes it an honest stand-in for a real model. Requests without the tags
get a short generic reply instead of an error.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pipelines.world.spans import CUES, candidates, question_kind
from pipelines.world.textutil import mentions, org_names, similar_name_in, split_sentences, terms
from pipelines.world.transform import parse_choices, transform

__all__ = ["MODEL_NAME", "Request", "parse_request", "complete", "expand", "judge", "summarize"]

MODEL_NAME = "trawl-extractive"
# Like a real model's training cutoff: a fixed "now" keeps the engine a pure function of the request.
REFERENCE_YEAR = 2025

_GENERIC = ("I am trawl-extractive, a deterministic extractive engine. I answer requests written in trawl's "
            "tagged prompt format (<task>expand|judge|summarize</task>) from the text they contain.")
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")


@dataclass
class Source:
    source_id: str
    url: str
    title: str
    texts: list[str]


@dataclass
class Request:
    task: str
    question: str = ""
    context: dict[str, str] = field(default_factory=dict)
    count: int = 4
    answer_type: str = "text"
    page: Source | None = None
    sources: list[Source] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)

    @property
    def entity(self) -> str:
        for key in ("company", "name", "entity", "organization", "product"):
            if self.context.get(key):
                return self.context[key]
        for value in self.context.values():
            if value and not _is_host(value):
                return value
        m = re.search(r"\b(?:of|does|did|is|at)\s+([A-Z][\w&-]*(?:\s+[A-Z][\w&-]*)*)", self.question)
        return m.group(1) if m else ""

    @property
    def domain(self) -> str:
        for key in ("domain", "website", "url", "host"):
            if self.context.get(key):
                return _host(self.context[key])
        return next((_host(v) for v in self.context.values() if _is_host(v)), "")

    @property
    def person(self) -> str | None:
        """The person the question is about: a name-like context value that the question mentions."""
        for key, value in self.context.items():
            if value == self.entity or key in {"company", "name", "entity"} or _is_host(value):
                continue
            if re.fullmatch(r"[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){1,2}", value) and value in self.question:
                return value
        return None


def _is_host(value: str) -> bool:
    return bool(re.fullmatch(r"(?:https?://)?[\w.-]+\.[a-z]{2,}(?::\d+)?/?\S*", value.strip(), re.I)) and " " not in value.strip()


def _host(value: str) -> str:
    value = value.strip()
    return (urlsplit(value).hostname or "") if "://" in value else value.split("/")[0].split(":")[0].lower()


def _tag(text: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}\b[^>]*>(.*?)</{tag}>", text, re.S | re.I)
    return html.unescape(m.group(1).strip()) if m else None


def _attrs(raw: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in re.findall(r'(\w+)="([^"]*)"', raw)}


def parse_request(messages: list[dict]) -> Request | None:
    """The tagged task in the most recent user message that has one (repairs repeat an earlier one)."""
    for msg in reversed(messages):
        content = msg.get("content")
        if isinstance(content, list):  # content parts
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        if msg.get("role") != "user" or not isinstance(content, str) or "<task>" not in content:
            continue
        req = Request(task=(_tag(content, "task") or "").lower(), question=_tag(content, "question") or "")
        ctx = _tag(content, "context") or ""
        for line in ctx.splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                req.context[key.strip()] = value.strip()
        if (count := _tag(content, "count")) and count.strip().isdigit():
            req.count = max(1, min(50, int(count)))
        req.answer_type = (_tag(content, "type") or "text").strip().lower()
        req.choices = parse_choices(content)
        if m := re.search(r"<page\b([^>]*)>(.*?)</page>", content, re.S):
            a = _attrs(m.group(1))
            chunks = [html.unescape(c) for c in re.findall(r"<chunk>(.*?)</chunk>", m.group(2), re.S)]
            req.page = Source(a.get("id", ""), a.get("url", ""), a.get("title", ""), chunks)
        for m in re.finditer(r"<source\b([^>]*)>(.*?)</source>", content, re.S):
            a = _attrs(m.group(1))
            excerpts = [html.unescape(e.strip()) for e in re.findall(r"<excerpt>(.*?)</excerpt>", m.group(2), re.S)]
            req.sources.append(Source(a.get("id", ""), a.get("url", ""), a.get("title", ""), excerpts))
        return req
    return None


# --- expand ------------------------------------------------------------------

_SYNONYMS = {
    "ceo": "chief executive officer leadership team",
    "previous_employer": "career background previously worked",
    "year": "history founded year established",
    "city": "headquarters location office address",
    "count": "employees staff team size",
    "funding": "funding round raised investors",
    "product": "flagship product platform",
    "person": "leadership team management",
    "generic": "overview profile",
}


def expand(req: Request) -> list[str]:
    entity = req.entity
    kind = question_kind(req.question, req.answer_type)
    ent_terms = set(terms(entity))
    key = " ".join(t for t in terms(req.question) if t not in ent_terms and t not in {"company", "name"})
    person = req.person if kind == "previous_employer" else None
    subject = f"{person} {entity}" if person else entity
    raw = [
        re.sub(r"[?!.]+$", "", req.question),
        f"{subject} {key}",
        f"{subject} {_SYNONYMS[kind]}",
        f"{entity} news {key}",
        f"{entity} about company",
        f"{entity} press release",
        f"{entity} company profile directory",
    ]
    out: list[str] = []
    for q in raw:
        q = re.sub(r"\s+", " ", q).strip()
        if q and entity.lower() not in q.lower():
            q = f"{entity} {q}"
        if q and q.lower() not in {o.lower() for o in out}:
            out.append(q)
    i = 2
    while len(out) < req.count:
        out.append(f"{entity} {key} {i}".strip())
        i += 1
    return out[: req.count]


# --- judge -------------------------------------------------------------------

def _page_is_entitys(req: Request, page: Source) -> bool:
    host = _host(page.url) if page.url else ""
    if req.domain and host and (host == req.domain or host.endswith("." + req.domain)):
        return True
    return bool(req.entity) and mentions(page.title, req.entity) and not similar_name_in(page.title, req.entity)


def _about_entity(sentence: str, req: Request, own_page: bool) -> bool:
    entity = req.entity
    if not entity:
        return True
    if similar_name_in(sentence, entity):
        return False
    if mentions(sentence, entity):
        return True
    others = [o for o in org_names(sentence) if not mentions(o, entity) and not mentions(entity, o)]
    if own_page:
        # On the entity's own site a sentence about someone else names them first ("Borealis Analytics
        # named ..."); a previous employer mentioned later in the sentence is fine.
        return not any(sentence.strip().startswith(o) for o in others)
    return False


def _relevance(sentence: str, q_terms: set[str], kind: str) -> float:
    s_terms = set(terms(sentence))
    low = sentence.lower()
    score = float(len(q_terms & s_terms))
    score += sum(1.0 for cue in CUES.get(kind, ()) if re.search(rf"\b{re.escape(cue)}\b", low))
    return score


def judge(req: Request) -> list[str]:
    page = req.page
    if page is None:
        return []
    kind = question_kind(req.question, req.answer_type)
    own = _page_is_entitys(req, page)
    ent_terms = set(terms(req.entity))
    q_terms = {t for t in terms(req.question) if t not in ent_terms and t not in {"company", "main", "last"}}
    if req.person:
        q_terms -= set(terms(req.person))
    scored = []
    for chunk in page.texts:
        for sentence in split_sentences(chunk):
            if len(sentence) < 12 or not _about_entity(sentence, req, own):
                continue
            if kind == "previous_employer" and req.person and not (
                req.person in sentence or req.person.split()[-1] in sentence or re.search(r"\b(she|he|they)\b", sentence, re.I)
            ):
                continue
            rel = _relevance(sentence, q_terms, kind)
            if kind != "generic" and not candidates(kind, sentence, req.entity, req.person):
                continue
            if rel >= 1:
                scored.append((rel, sentence))
    scored.sort(key=lambda p: -p[0])
    seen, out = set(), []
    for _, sentence in scored:
        if sentence not in seen:
            seen.add(sentence)
            out.append(sentence)
    return out[:5]


# --- summarize -----------------------------------------------------------------

def _source_year(src: Source) -> int | None:
    years = [int(y) for y in _YEAR.findall(f"{src.url} {src.title}")]
    return max(years) if years else None


def summarize(req: Request) -> tuple[str | None, list[str], float]:
    kind = question_kind(req.question, req.answer_type)
    entity, person = req.entity, req.person
    years = [y for s in req.sources if (y := _source_year(s))]
    newest = max(years) if years else None
    votes: dict[str, float] = {}
    cites: dict[str, list[str]] = {}
    display: dict[str, str] = {}
    for src in req.sources:
        year = _source_year(src)
        old = year is not None and (year < REFERENCE_YEAR - 3 or (newest is not None and year < newest - 1))
        for excerpt in src.texts:
            for sentence in split_sentences(excerpt) or [excerpt]:
                if entity and similar_name_in(sentence, entity):
                    continue
                if kind == "generic":
                    found = [(sentence, float(len(set(terms(req.question)) & set(terms(sentence)))), False)]
                else:
                    found = [(c.value, c.score, c.stale) for c in candidates(kind, sentence, entity, person)]
                for value, score, stale in found:
                    if kind == "funding":
                        score += _round_rank(value) + (0.5 if year else 0)
                    weight = score * (0.2 if stale else 1.0) * (0.3 if old else 1.0)
                    key = value.lower()
                    votes[key] = votes.get(key, 0.0) + weight
                    display.setdefault(key, value)
                    if src.source_id not in cites.setdefault(key, []):
                        cites[key].append(src.source_id)
    if not votes or max(votes.values()) <= 0:
        return None, [], 0.0
    best = max(votes, key=lambda k: (votes[k], -len(k) if kind == "generic" else len(k)))
    total = sum(votes.values())
    confidence = round(min(0.99, 0.4 + 0.6 * votes[best] / total), 2)
    return _typed(display[best], req.answer_type), cites[best], confidence


def _round_rank(value: str) -> float:
    m = re.match(r"Series ([A-H])", value)
    bonus = 0.5 if "(" in value else 0.0
    if m:
        return (ord(m.group(1)) - ord("A") + 1) * 0.5 + bonus
    return bonus


def _typed(value: str, answer_type: str) -> str:
    if answer_type in {"integer", "number"}:
        digits = re.search(r"\d[\d,]*", value)
        return digits.group(0).replace(",", "") if digits else value
    if answer_type == "boolean":
        return "no" if re.search(r"\b(not|no|never)\b", value, re.I) else "yes"
    if answer_type == "text" and len(value) > 300:
        return value[:297] + "..."
    return value


# --- entry point -------------------------------------------------------------------

def complete(messages: list[dict], json_mode: bool = False) -> str:
    """The assistant reply for ``messages``: a pure function of the messages alone."""
    req = parse_request(messages)
    if req is None:
        return json.dumps({"answer": _GENERIC}) if json_mode else _GENERIC
    if req.task == "expand":
        queries = expand(req)
        if json_mode:
            return json.dumps({"keywords": queries})
        return "<keywords>\n" + "\n".join(f"<k>{html.escape(q, quote=False)}</k>" for q in queries) + "\n</keywords>"
    if req.task == "judge":
        excerpts = judge(req)
        if json_mode:
            return json.dumps({"relevant": bool(excerpts), "excerpts": excerpts})
        if not excerpts:
            return "<not_relevant/>"
        return "<excerpts>\n" + "\n".join(f"<excerpt>{html.escape(e, quote=False)}</excerpt>" for e in excerpts) + "\n</excerpts>"
    if req.task == "summarize":
        answer, cites, confidence = summarize(req)
        if json_mode:
            return json.dumps({"answer": answer, "citations": cites, "confidence": confidence})
        shown = html.escape(answer, quote=False) if answer is not None else "unknown"
        return f"<answer>{shown}</answer>\n<citations>{' '.join(cites)}</citations>\n<confidence>{confidence}</confidence>"
    if req.task == "transform":
        answer, confidence = transform(req.question, req.context, req.answer_type, req.choices, req.entity)
        answer = _typed(answer, req.answer_type) if answer is not None else None
        if json_mode:
            return json.dumps({"answer": answer, "confidence": confidence})
        shown = html.escape(answer, quote=False) if answer is not None else "unknown"
        return f"<answer>{shown}</answer>\n<confidence>{confidence}</confidence>"
    return _GENERIC
