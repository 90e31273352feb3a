"""The extractive engine as a pure function: the prompt contract in, parseable, right answers out."""

from __future__ import annotations

import json

import pytest

from pipelines.prompts import PageForJudge, SourceForSummary, expand_messages, judge_messages, parse_judgement, parse_keywords, parse_summary, summarize_messages, with_repair_hint
from pipelines.world.extractive import complete

CTX = {"company": "Acme Robotics", "domain": "acme-robotics.example"}


def _judge(question, url, title, chunks, ctx=CTX):
    return parse_judgement(complete(judge_messages(question, ctx, PageForJudge("P1", url, title, chunks))))


def _answer(question, answer_type, excerpts_by_source, ctx=CTX):
    sources = [SourceForSummary(f"S{i}", url, title, ex) for i, (url, title, ex) in enumerate(excerpts_by_source, 1)]
    return parse_summary(complete(summarize_messages(question, ctx, answer_type, sources)))


def test_expand_writes_count_distinct_queries_naming_the_entity():
    for count in (1, 4, 9):
        queries = parse_keywords(complete(expand_messages("How many employees does Acme Robotics have?", CTX, count)))
        assert len(queries) == count == len({q.lower() for q in queries})
        assert all("Acme Robotics" in q for q in queries)
    person = parse_keywords(complete(expand_messages("Where did Anna Berg work before joining Acme Robotics?",
                                                     {**CTX, "ceo": "Anna Berg"}, 4)))
    assert any("Anna Berg" in q for q in person)


def test_judge_copies_relevant_sentences_verbatim_about_exactly_this_entity():
    chunks = ["Anna Berg has led Acme Robotics as CEO since 2019. The office has a nice view.",
              "Acme Robotix CEO Paul Smith opened a plant. Borealis Analytics named Tom Li as CEO."]
    got = _judge("Who is the CEO of Acme Robotics?", "http://dailybiz-news.example/x", "Funding roundup", chunks)
    assert got == ["Anna Berg has led Acme Robotics as CEO since 2019."]
    # On the company's own site a sentence need not repeat the name.
    own = _judge("In which city is Acme Robotics headquartered?", "http://acme-robotics.example/contact", "Contact",
                 ["Our headquarters are located in Hamburg, Germany. Call us any time."])
    assert own == ["Our headquarters are located in Hamburg, Germany."]
    # The twin's own site says nothing about us, however alike the sentences look.
    twin = _judge("In which city is Acme Robotics headquartered?", "http://acme-robotix.example/about", "About | Acme Robotix",
                  ["Our headquarters are located in Leeds.", "Acme Robotix is headquartered in Leeds."])
    assert twin == []
    assert complete(judge_messages("Who is the CEO of Acme Robotics?", CTX,
                                   PageForJudge("P2", "http://x.example/", "Weather", ["It will rain tomorrow."]))) \
        == "<not_relevant/>"


@pytest.mark.parametrize(("question", "answer_type", "sources", "expected"), [
    ("Who is the CEO of Acme Robotics?", "text", [
        ("http://acme-robotics.example/news/2014/opening", "Acme Robotics opens new site (2014)",
         ["Acme Robotics CEO Karl Weiss announced today that the company has opened a new site."]),
        ("http://acme-robotics.example/about", "About us",
         ["In 2019, Anna Berg succeeded former CEO Karl Weiss, who had led the company since its early years."]),
        ("http://acme-robotics.example/team", "Leadership", ["Anna Berg is the Chief Executive Officer of Acme Robotics."]),
    ], "Anna Berg"),
    ("How many employees does Acme Robotics have?", "integer", [
        ("http://acme-robotics.example/news/2013/x", "News (2013)", ["Acme Robotics now has 300 employees."]),
        ("http://company-directory.example/companies/acme", "Profile", ["Acme Robotics employs about 1.2k people."]),
    ], "1200"),
    ("How many employees does Acme Robotics have?", "integer", [
        ("http://acme-robotics.example/de/ueber-uns", "Über uns", ["Acme Robotics beschäftigt rund 1.200 Mitarbeiter."]),
    ], "1200"),
    ("In what year was Acme Robotics founded?", "integer", [
        ("http://acme-robotics.example/about", "About", ["Acme Robotics was founded in 2009 and is headquartered in Hamburg, Germany.",
                                                         "Anna Berg has led the company as CEO since 2019."]),
    ], "2009"),
    ("In which city is Acme Robotics headquartered?", "text", [
        ("http://dailybiz-news.example/a", "News", ["Acme Robotics, the Hamburg-based maker of robots, raised money."]),
    ], "Hamburg"),
    ("What is the main product of Acme Robotics?", "text", [
        ("http://acme-robotics.example/", "Home", ["Our flagship product, RoboArm Pro, helps teams cut costs."]),
    ], "RoboArm Pro"),
    ("What was the last funding round of Acme Robotics and how much did it raise?", "text", [
        ("http://acme-robotics.example/news/2013/x", "News (2013)", ["Acme Robotics recently closed a Seed round of $2 million."]),
        ("http://dailybiz-news.example/2024/x", "Acme Robotics raises $25.5M", ["Acme Robotics has raised $25.5M in a Series B round."]),
    ], "Series B ($25,500,000)"),
    ("Where did Anna Berg work before joining Acme Robotics?", "text", [
        ("http://acme-robotics.example/team", "Team", ["Before joining Acme Robotics, Anna Berg spent 8 years at Globex Corporation."]),
    ], "Globex Corporation"),
])
def test_summarize_extracts_typed_current_answers(question, answer_type, sources, expected):
    ctx = {**CTX, "ceo": "Anna Berg"} if "Anna Berg" in question else CTX
    summary = _answer(question, answer_type, sources, ctx)
    assert summary.answer == expected
    assert summary.citations and all(c.startswith("S") for c in summary.citations)
    assert 0 < summary.confidence <= 1


def test_summarize_says_unknown_without_evidence_and_skips_similar_names():
    summary = _answer("Who is the CEO of Acme Robotics?", "text",
                      [("http://x.example/", "t", ["Acme Robotix CEO Paul Smith said hello."])])
    assert summary.answer is None and summary.citations == []


def test_json_mode_generic_requests_and_repair_retries():
    messages = expand_messages("Who is the CEO of Acme Robotics?", CTX, 2)
    assert len(json.loads(complete(messages, json_mode=True))["keywords"]) == 2
    assert "trawl-extractive" in complete([{"role": "user", "content": "Hello there"}])
    assert complete([]) and complete([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    retry = with_repair_hint(messages, "garbage")
    assert parse_keywords(complete(retry)) == parse_keywords(complete(messages))


def test_same_request_same_reply():
    messages = expand_messages("In which city is Acme Robotics headquartered?", CTX, 4)
    assert complete(messages) == complete(json.loads(json.dumps(messages)))
