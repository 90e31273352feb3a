"""Ranking survives real wording: inflected forms, the page's language, and the cell's keywords."""

import pytest

from pipelines.ranking import detect_language, rank_chunks

DE = [
    "Cookies akzeptieren, um fortzufahren. Impressum und Datenschutz.",
    "Die Firma hat ihren Sitz in Leipzig und beschäftigt rund 1200 Mitarbeiter.",
    "Der Vorstandsvorsitzende des Unternehmens ist seit 2019 Jane Doe.",
    "Unsere Produkte werden in mehr als vierzig Ländern verkauft.",
]
EN = [
    "Accept cookies to continue browsing our website.",
    "The founders started building robots in a garage.",
    "Acme was founding member of the robotics association and employs engineers.",
    "Contact us at info@acme.example or call our office.",
]


@pytest.mark.parametrize("text, code", [
    (" ".join(DE), "de"), (" ".join(EN), "en"),
    ("La société a été fondée en 2004 à Lyon et elle est dirigée par une équipe de dix personnes.", "fr"),
    ("La empresa fue fundada en 2004 y tiene su sede en la ciudad de Madrid con los socios.", "es"),
    ("Acme Robotics GmbH 2004 Leipzig Jane Doe CEO", None),  # names and numbers: no language to guess
    ("", None),
])
def test_language_is_guessed_from_stopwords_or_left_open(text, code):
    assert detect_language(text) == code


def test_inflected_question_words_find_the_chunk_in_the_pages_language():
    # "Vorstandsvorsitzenden" (dative/genitive) in the question, "Vorstandsvorsitzende" on the page
    [best] = rank_chunks("Wer ist der Vorstandsvorsitzenden des Unternehmens?", DE, 1)
    assert best.index == 2 and best.score > 0
    # the German stopwords are dropped ("der", "des"): a stopword-only query matches nothing
    assert all(r.score == 0 for r in rank_chunks("der die das und des", DE, 4))


def test_english_inflections_match_after_stemming():
    [best] = rank_chunks("Which robotics associations did Acme found?", EN, 1)
    assert best.index == 2
    [best] = rank_chunks("who built the robot", EN, 1)  # built/building differ; robot ~ robots by stemming
    assert best.index == 1


def test_keywords_rank_with_the_question():
    question = "Who leads the company?"  # English question, German page: nothing in common
    assert all(r.score == 0 for r in rank_chunks(question, DE, 4))
    [best] = rank_chunks(question, DE, 1, keywords=["Vorstandsvorsitzender Unternehmen"])
    assert best.index == 2 and best.score > 0


def test_a_term_repeated_across_keywords_counts_once():
    once = rank_chunks("robots", EN, 4)
    many = rank_chunks("robots", EN, 4, keywords=["robots", "robot", "robots garage"][:2])
    assert [(r.index, r.score) for r in once] == [(r.index, r.score) for r in many]


def test_explicit_language_overrides_the_guess():
    # with English rules the German stopword "des" is a term and German stemming is off
    assert rank_chunks("Vorstandsvorsitzenden", DE, 1, language="en")[0].score == 0
    assert rank_chunks("Vorstandsvorsitzenden", DE, 1, language="de")[0].index == 2
