"""Typed answers: the value a column's type asks for, or a stated mismatch — never a guess."""

import pytest

from pipelines.answers import coerce


@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("1,200", "integer", 1200),
        ("about 1.2k staff", "integer", 1200),
        ("1 200 employees", "integer", 1200),
        ("2004", "integer", 2004),
        ("$12.5 million", "number", 12_500_000.0),
        ("3.75", "number", 3.75),
        ("Yes, it does", "boolean", True),
        ("no", "boolean", False),
        ("2014-05-03", "date", "2014-05-03"),
        ("May 2014", "date", "2014-05"),
        ("March 3, 2014", "date", "2014-03-03"),
        ("founded in 1998", "date", "1998"),
        ("see https://acme.example/about.", "url", "https://acme.example/about"),
        ("SAP ; Oracle ; Microsoft Dynamics", "list", ["SAP", "Oracle", "Microsoft Dynamics"]),
        ('["a", "b"]', "list", ["a", "b"]),
        ("Berlin", "text", "Berlin"),
    ],
)
def test_coerce_fits_type(text, kind, value):
    assert coerce(text, kind) == (value, None)


@pytest.mark.parametrize("text, kind", [("many", "integer"), ("perhaps", "boolean"), ("soon", "date"), ("acme", "url")])
def test_coerce_reports_mismatch(text, kind):
    value, problem = coerce(text, kind)
    assert value is None and problem.startswith("type_mismatch")
