"""``kind: rule``: a deterministic answer from row fields and upstream answers, no LLM and no web.

One built-in per column, written under ``rule:``::

    rule: {regex: {from: funding, pattern: 'Series ([A-H])', group: 1}}   # a capture group of an answer
    rule: {map: {from: hq_city, table: {Munich: DE, Lyon: FR}, default: other}}   # a mapping table
    rule: {template: '{company} ({hq_city})'}                               # a template
    rule: {bands: {from: employees, edges: [50, 250], labels: ['<50', '50-249', '250+']}}  # numeric bands

Regular expressions are Python's ``re`` (https://docs.python.org/3/library/re.html),
searched (not matched) in the input, case-sensitive unless the pattern says ``(?i)``.
A band holds the values ``edges[i-1] <= x < edges[i]``; the input is read as
a number the way ``pipelines.answers.coerce`` reads a ``number`` answer.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from pipelines.answers import coerce
from pipelines.research import CellOutcome, CellTask
from pipelines.settings import Strict
from pipelines.status import CellStatus
from pipelines.tasks.base import KindSpec, TaskServices, failed, spec_of
from pipelines.templates import TemplateProblem, render, template_names

__all__ = ["RuleSpec", "RuleKind", "KIND"]

_MAX_PATTERN = 1000  # a rule pattern is a short expression, not a program


class _Regex(Strict):
    from_: str = Field(..., alias="from", description="Row field or upstream column to search.")
    pattern: str = Field(..., min_length=1, max_length=_MAX_PATTERN, description="Python regular expression.")
    group: int | str = Field(0, description="Capture group to return (number or name); 0 is the whole match.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"not a valid regular expression: {err}") from None
        return value

    @model_validator(mode="after")
    def _group_exists(self) -> _Regex:
        compiled = re.compile(self.pattern)
        ok = self.group in compiled.groupindex if isinstance(self.group, str) else 0 <= self.group <= compiled.groups
        if not ok:
            raise ValueError(f"group {self.group!r} is not in the pattern ({compiled.groups} group(s))")
        return self


class _Map(Strict):
    from_: str = Field(..., alias="from", description="Row field or upstream column to look up.")
    table: dict[str, str] = Field(..., min_length=1, description="Input text -> output text; keys match case-insensitively.")
    default: str | None = Field(None, description="Output for an input not in the table; none fails the cell with 'no_mapping'.")


class _Bands(Strict):
    from_: str = Field(..., alias="from", description="Row field or upstream column holding a number.")
    edges: list[float] = Field(..., min_length=1, description="Ascending band boundaries.")
    labels: list[str] = Field(..., min_length=2, description="One label per band: len(edges) + 1.")

    @model_validator(mode="after")
    def _shape(self) -> _Bands:
        if any(b <= a for a, b in zip(self.edges, self.edges[1:])):
            raise ValueError("edges must be strictly ascending")
        if len(self.labels) != len(self.edges) + 1:
            raise ValueError(f"needs len(edges) + 1 = {len(self.edges) + 1} labels (got {len(self.labels)})")
        return self


class RuleSpec(Strict):
    regex: _Regex | None = Field(None, description="Return a capture group of a regular expression searched in an input.")
    map: _Map | None = Field(None, description="Look an input up in a mapping table.")
    template: str | None = Field(None, min_length=1, description="Fill row fields and upstream answers into a template.")
    bands: _Bands | None = Field(None, description="Put a numeric input into a labelled band.")

    @model_validator(mode="after")
    def _exactly_one(self) -> RuleSpec:
        given = [name for name in ("regex", "map", "template", "bands") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of regex, map, template, bands (got {', '.join(given) or 'none'})")
        return self

    def which(self) -> str:
        return next(n for n in ("regex", "map", "template", "bands") if getattr(self, n) is not None)


class RuleKind:
    name = "rule"
    fields = {"rule": "one built-in: regex, map, template or bands"}
    needs_question = False

    def build(self, spec, path, problems) -> KindSpec | None:
        from pipelines.spec_builders import add_validation_errors

        raw = spec.get("rule")
        if not isinstance(raw, dict):
            problems.add(f"{path}.rule", "required: a mapping with one of regex, map, template, bands", raw)
            return None
        try:
            rule = RuleSpec.model_validate(raw)
        except ValidationError as err:
            add_validation_errors(err, f"{path}.rule", RuleSpec, problems)
            return None
        which = rule.which()
        if rule.template is not None:  # which == "template": exactly one of the four is set
            try:
                names = template_names(rule.template)
            except TemplateProblem as err:
                problems.add(f"{path}.rule.template", str(err))
                return None
            refs = tuple((f"{path}.rule.template", n) for n in names)
            return KindSpec(rule, refs, f"rule template: {rule.template}")
        source = getattr(rule, which).from_
        refs = ((f"{path}.rule.{which}.from", source),)
        return KindSpec(rule, refs, f"rule {which}: {source} = {{{source}}}")

    async def run(self, task: CellTask, services: TaskServices) -> CellOutcome:
        rule: RuleSpec = spec_of(task).config
        which = rule.which()
        services.count("rules_applied")
        try:
            answer = _apply(rule, which, task.context)
        except _RuleMiss as miss:
            return failed(miss.reason, str(miss))
        value, problem = coerce(answer, task.answer_type)
        return CellOutcome(status=CellStatus.DONE, answer=answer, value=value, confidence=1.0, error=problem)


class _RuleMiss(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _input(context: dict[str, str], name: str) -> str:
    if name not in context:
        raise _RuleMiss("no_input", f"input '{name}' has no value")
    return context[name]


def _apply(rule: RuleSpec, which: str, context: dict[str, str]) -> str:
    if rule.template is not None:  # which == "template"
        return render(rule.template, context)
    spec: Any = getattr(rule, which)
    text = _input(context, spec.from_)
    if which == "regex":
        m = re.search(spec.pattern, text)
        if m is None or m.group(spec.group) is None:
            raise _RuleMiss("no_match", f"pattern {spec.pattern!r} did not match {text[:80]!r}")
        return m.group(spec.group)
    if which == "map":
        table = {k.strip().lower(): v for k, v in spec.table.items()}
        hit = table.get(text.strip().lower(), spec.default)
        if hit is None:
            raise _RuleMiss("no_mapping", f"{text[:80]!r} is not in the table and there is no default")
        return hit
    number, problem = coerce(text, "number")
    if problem or not isinstance(number, int | float):  # coerce gives an int or float for "number"
        raise _RuleMiss("not_a_number", f"{text[:80]!r} is not a number")
    return spec.labels[bisect.bisect_right(spec.edges, float(number))]


KIND = RuleKind()
