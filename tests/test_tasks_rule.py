"""kind: rule — regex, map, template and bands, and their spec errors."""

from __future__ import annotations

import pytest

from pipelines.errors import SpecError
from tests.fakes import FakeServices
from tests.test_tasks_registry import job_of, run

ROW = {"company": "Acme Robotics", "domain": "acme.example", "staff": "about 1,200 people", "country": "Germany"}


def answer_of(rule: dict, type_: str = "text", row: dict = ROW) -> dict:
    services = FakeServices()
    run(job_of({"out": {"kind": "rule", "rule": rule, "type": type_}}, rows=(row,)), services)
    return services.cells()[(row["company"], "out")]


def test_regex_returns_the_capture_group_and_a_miss_says_no_match():
    cell = answer_of({"regex": {"from": "staff", "pattern": r"(\d[\d,]*)", "group": 1}}, "integer")
    assert (cell["answer"], cell["value_json"], cell["question"]) == ("1,200", "1200", "rule regex: staff = about 1,200 people")
    miss = answer_of({"regex": {"from": "company", "pattern": r"\d+"}})
    assert miss["status"] == "failed" and miss["error"].startswith("no_match: ")


def test_map_is_case_insensitive_with_a_default_and_fails_without_one():
    assert answer_of({"map": {"from": "country", "table": {"germany": "DE", "France": "FR"}}})["answer"] == "DE"
    assert answer_of({"map": {"from": "company", "table": {"x": "y"}, "default": "other"}})["answer"] == "other"
    assert answer_of({"map": {"from": "company", "table": {"x": "y"}}})["error"].startswith("no_mapping: ")


def test_template_fills_row_fields_and_upstream_answers():
    services = FakeServices()
    job = job_of({"ceo": {"question": "Who is the CEO of {company}?"},
                  "label": {"kind": "rule", "rule": {"template": "{ceo} ({company})"}}})
    assert job.columns["label"].depends_on == ("ceo",)
    run(job, services)
    assert services.cells()[("Acme Robotics", "label")]["answer"] == "Jane Doe (Acme Robotics)"


@pytest.mark.parametrize(("staff", "band"), [("12", "small"), ("50", "mid"), ("about 1,200 people", "large"), ("1.2k", "large")])
def test_bands_put_a_number_into_its_labelled_band(staff, band):
    rule = {"bands": {"from": "staff", "edges": [50, 1000], "labels": ["small", "mid", "large"]}}
    assert answer_of(rule, row={**ROW, "staff": staff})["answer"] == band


def test_bands_of_a_non_number_fail_with_the_reason():
    rule = {"bands": {"from": "company", "edges": [50], "labels": ["small", "large"]}}
    assert answer_of(rule)["error"].startswith("not_a_number: ")


@pytest.mark.parametrize(("rule", "expected"), [
    (None, "columns.out.rule: required: a mapping with one of regex, map, template, bands"),
    ({}, "columns.out.rule: give exactly one of regex, map, template, bands (got none)"),
    ({"regex": {"from": "company", "pattern": "x"}, "template": "{company}"}, "columns.out.rule: give exactly one of"),
    ({"regex": {"from": "company", "pattern": "("}}, "columns.out.rule.regex.pattern: not a valid regular expression"),
    ({"regex": {"from": "company", "pattern": "(a)", "group": 3}}, "columns.out.rule.regex: group 3 is not in the pattern"),
    ({"regex": {"from": "nope", "pattern": "a"}}, "columns.out.rule.regex.from: unknown name 'nope'"),
    ({"map": {"from": "company", "table": {}}}, "columns.out.rule.map.table:"),
    ({"bands": {"from": "company", "edges": [5, 1], "labels": ["a", "b", "c"]}}, "columns.out.rule.bands: edges must be strictly ascending"),
    ({"bands": {"from": "company", "edges": [5], "labels": ["a", "b", "c"]}}, "columns.out.rule.bands: needs len(edges) + 1 = 2 labels (got 3)"),
    ({"template": "{compnay}"}, "columns.out.rule.template: unknown name 'compnay'"),
    ({"template": "{company.x}"}, "columns.out.rule.template: placeholder '{company.x}' must be a plain name"),
    ({"sql": "x"}, "columns.out.rule.sql: unknown key 'sql' (allowed: regex, map, template, bands)"),
])
def test_rule_spec_errors_name_the_field(rule, expected):
    spec = {"kind": "rule"} if rule is None else {"kind": "rule", "rule": rule}
    with pytest.raises(SpecError) as err:
        job_of({"out": spec})
    shown = [str(p) for p in err.value.problems]
    assert any(s.startswith(expected) for s in shown), shown
    assert not any(s.startswith("columns.out.question") for s in shown)  # a rule's question is optional
