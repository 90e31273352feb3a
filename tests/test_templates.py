"""Question templates: plain names only, rendered as plain text."""

import pytest

from pipelines.templates import TemplateProblem, render, template_names


def test_names_in_order_of_first_use_without_duplicates():
    assert template_names("Where did {ceo} work before {company}? ({ceo})") == ["ceo", "company"]


def test_literal_braces_are_not_names_and_render_as_single_braces():
    assert template_names("JSON like {{a}} for {company}") == ["company"]
    assert render("JSON like {{a}} for {company}", {"company": "Acme"}) == "JSON like {a} for Acme"


@pytest.mark.parametrize(
    "template, expected",
    [
        ("{company.__class__}", "must be a plain name"),
        ("{company[0]}", "must be a plain name"),
        ("{company!r}", "conversions like '!r'"),
        ("{company:>10}", "format specs like ':>10'"),
        ("{0}", "positional placeholder '{0}'"),
        ("{}", "empty placeholder '{}'"),
        ("{company", "malformed template"),
        ("company}", "malformed template"),
        ("{my company}", "must be a plain name"),
    ],
)
def test_format_tricks_are_rejected(template, expected):
    with pytest.raises(TemplateProblem, match=None) as info:
        template_names(template)
    assert expected in str(info.value)


def test_every_bad_placeholder_is_reported_at_once():
    with pytest.raises(TemplateProblem) as info:
        template_names("{a.b} and {c!s}")
    assert "'{a.b}'" in str(info.value) and "'!s'" in str(info.value)


def test_values_are_inserted_verbatim_never_formatted():
    value = "{company.__class__} {0} %s"
    assert render("CEO: {ceo}", {"ceo": value}) == "CEO: {company.__class__} {0} %s"


def test_missing_value_raises_key_error_with_its_name():
    with pytest.raises(KeyError, match="ceo"):
        render("{ceo}", {})
