"""One builder per field of a job spec (step two of parsing).

Each builder takes the raw value from YAML, appends every problem it finds to
a shared :class:`Problems` list (with a field path and the offending value)
and returns the best value it can, so later builders still run and the user
sees every problem at once. ``pipelines.spec`` composes them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pipelines.errors import SpecProblem
from pipelines.rows import RowsFileError, cell_text, read_rows
from pipelines.settings import ResearchSettings
from pipelines.spec_kinds import ColumnKind, build_kind
from pipelines.templates import NAME_RE, TemplateProblem, template_names

__all__ = ["Problems", "COLUMN_TYPES", "RawColumn", "build_name", "build_rows", "build_key", "build_settings", "build_columns", "find_cycles"]

COLUMN_TYPES = ("text", "integer", "number", "boolean", "date", "url", "list")
COLUMN_KEYS = ("question", "type", "depends_on", "instructions", "research", "kind", "sources")  # plus each kind's own
_SHOWN_PER_KIND = 5  # row-level problems of one kind listed before "... and N more"
M = TypeVar("M", bound=BaseModel)


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Problems(list):
    """Every problem found so far, in the order found."""

    def add(self, path: str, message: str, value: Any = ...) -> None:
        self.append(SpecProblem(path, message if value is ... else f"{message} (got {show(value)})"))


def build_name(raw: Any, problems: Problems) -> str:
    if raw is None:
        problems.add("name", "required: a short name for the job, e.g. 'demo-companies'")
        return "job"
    if not isinstance(raw, str) or not raw.strip():
        problems.add("name", "must be a non-empty string", raw)
        return "job"
    if len(raw) > 100 or not any(ch.isalnum() for ch in raw):
        problems.add("name", "must be at most 100 characters with at least one letter or digit", raw)
    return raw.strip()


def build_rows(raw: Mapping[str, Any], base_dir: Path | None, problems: Problems) -> tuple[list[dict[str, str]], str]:
    """Rows from ``rows`` or ``rows_from``; returns (rows, path prefix for row problems)."""
    has_rows, has_file = raw.get("rows") is not None, raw.get("rows_from") is not None
    if has_rows and has_file:
        problems.add("rows", "give either 'rows' or 'rows_from', not both")
        return [], "rows"
    if has_file:
        return _rows_from_file(raw["rows_from"], base_dir, problems), "rows_from"
    if not has_rows:
        problems.add("rows", "required: an inline list of mappings ('rows') or a CSV/Parquet file ('rows_from')")
        return [], "rows"
    value = raw["rows"]
    if not isinstance(value, list) or not value:
        problems.add("rows", "must be a non-empty list of mappings", value)
        return [], "rows"
    rows: list[dict[str, str]] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not item:
            problems.add(f"rows[{i}]", "must be a mapping of field -> value", item)
            continue
        row: dict[str, str] = {}
        for field, cell in item.items():
            if not isinstance(field, str) or not field:
                problems.add(f"rows[{i}]", "field names must be non-empty strings", field)
            elif isinstance(cell, (dict, list, set, tuple)):
                problems.add(f"rows[{i}].{field}", "must be a single value (text, number, boolean or date)", cell)
            else:
                row[field] = cell_text(cell).strip()
        rows.append(row)
    return rows, "rows"


def _rows_from_file(value: Any, base_dir: Path | None, problems: Problems) -> list[dict[str, str]]:
    if not isinstance(value, str) or not value.strip():
        problems.add("rows_from", "must be a path to a .csv or .parquet file", value)
        return []
    path = Path(os.path.expanduser(value))
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    try:
        return read_rows(path)
    except RowsFileError as err:
        problems.add("rows_from", str(err))
        return []


def build_key(raw: Any, rows: list[dict[str, str]], rows_path: str, problems: Problems) -> str:
    """The key field: present, non-empty and unique in every row."""
    if raw is None:
        problems.add("key", "required: the row field that identifies a row, e.g. 'company'")
        return ""
    if not isinstance(raw, str) or not raw:
        problems.add("key", "must be the name of a row field", raw)
        return ""
    if rows and not any(raw in row for row in rows):
        problems.add("key", f"no row has the field '{raw}' (fields: {', '.join(row_fields(rows))})")
        return raw
    missing, empty, dupes = [], [], []
    first_seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        if raw not in row:
            missing.append(i)
        elif not row[raw]:
            empty.append(i)
        elif row[raw] in first_seen:
            dupes.append((i, row[raw], first_seen[row[raw]]))
        else:
            first_seen[row[raw]] = i
    _report_some(problems, [(f"{rows_path}[{i}]", f"missing key field '{raw}'") for i in missing])
    _report_some(problems, [(f"{rows_path}[{i}].{raw}", "empty key") for i in empty])
    _report_some(problems, [(f"{rows_path}[{i}].{raw}", f"duplicate key {show(v)} (first at {rows_path}[{j}])") for i, v, j in dupes])
    return raw


def _report_some(problems: Problems, found: list[tuple[str, str]]) -> None:
    for path, message in found[:_SHOWN_PER_KIND]:
        problems.add(path, message)
    if len(found) > _SHOWN_PER_KIND:
        problems.add(found[_SHOWN_PER_KIND][0], f"... and {len(found) - _SHOWN_PER_KIND} more rows like this")


def row_fields(rows: list[dict[str, str]]) -> list[str]:
    """Union of row fields in order of first appearance."""
    return list(dict.fromkeys(field for row in rows for field in row))


def build_settings(raw: Any, field: str, model: type[M], problems: Problems) -> M:
    """Validate one settings section with its pydantic model, mapping errors to spec paths."""
    if raw is None:
        return model()
    if not isinstance(raw, dict):
        problems.add(field, "must be a mapping", raw)
        return model()
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        add_validation_errors(err, field, model, problems)
        return model()


def add_validation_errors(err: ValidationError, prefix: str, model: type[BaseModel], problems: Problems) -> None:
    for e in err.errors(include_url=False):
        loc = e.get("loc", ())
        path = prefix
        for part in loc:
            path = f"{path}[{part}]" if isinstance(part, int) else (f"{path}.{part}" if path else str(part))
        if e.get("type") == "extra_forbidden":
            allowed = f" (allowed: {', '.join(model.model_fields)})" if len(loc) == 1 else ""
            problems.add(path, f"unknown key '{loc[-1]}'{allowed}")
        elif not loc and prefix and e.get("msg", "").removeprefix("Value error, ").startswith(f"{prefix}."):
            # a model-level check that already names each field: "fetch.resolve['x']: ...; fetch.allow_hosts[0]: ..."
            for item in e["msg"].removeprefix("Value error, ").split("; "):
                where, _, what = item.partition(": ")
                problems.add(where, what or item)
        else:
            problems.add(path, e.get("msg", "invalid value").removeprefix("Value error, "), e.get("input"))


class RawColumn:
    """A column after field-level checks, before dependencies are resolved."""

    def __init__(self, name: str, question: str, type_: str, declared: list[str], names: list[str], instructions: str, research: ResearchSettings,
                 kind: ColumnKind | None = None):
        self.name, self.question, self.type, self.instructions, self.research = name, question, type_, instructions, research
        self.declared, self.names = declared, names  # depends_on as written; names used by the template
        self.depends_on: tuple[str, ...] = ()
        self.kind = kind or ColumnKind()


def build_columns(raw: Any, fields: list[str], rows: list[dict[str, str]], rows_path: str, research: ResearchSettings, problems: Problems) -> dict[str, RawColumn]:
    if raw is None:
        problems.add("columns", "required: a mapping of column name -> {question: ...}")
        return {}
    if not isinstance(raw, dict) or not raw:
        problems.add("columns", "must be a non-empty mapping of column name -> {question: ...}", raw)
        return {}
    columns: dict[str, RawColumn] = {}
    for name, spec in raw.items():
        column = _build_column(name, spec, fields, research, problems)
        if column is not None:
            columns[column.name] = column
    _resolve_names(columns, fields, rows, rows_path, problems)
    for cycle in find_cycles({n: c.depends_on for n, c in columns.items()}):
        problems.add(f"columns.{cycle[0]}.depends_on", f"dependency cycle: {' -> '.join(cycle)}")
    return columns


def _build_column(name: Any, spec: Any, fields: list[str], research: ResearchSettings, problems: Problems) -> RawColumn | None:
    path = f"columns.{name}"
    ok = True
    if isinstance(name, bool):
        problems.add(path, "YAML reads unquoted on/off/yes/no/true/false as booleans; quote the column name", name)
        ok = False
    elif not isinstance(name, str) or not NAME_RE.match(name):
        problems.add(path, "column names must be identifiers (letters, digits, '_'; not starting with a digit)", name)
        ok = False
    elif name in fields:
        problems.add(path, f"column name clashes with row field '{name}'")
        ok = False
    if isinstance(spec, str):
        spec = {"question": spec}
    if not isinstance(spec, dict):
        problems.add(path, "must be a mapping with at least 'question'", spec)
        return None
    kind = build_kind(spec, path, problems)
    allowed = COLUMN_KEYS + tuple(kind.fields)
    for key in spec:
        if key not in allowed:
            problems.add(f"{path}.{key}", f"unknown key '{key}' (allowed: {', '.join(allowed)})")
    question, names = spec.get("question"), []
    if question is None and kind.question_optional:
        # the kind's own question shows its inputs (already in kind.refs); "" only when its keys are wrong (reported)
        question = kind.default_question or ""
    elif not isinstance(question, str) or not question.strip():
        problems.add(f"{path}.question", "required: a non-empty question template", question)
        question = ""
    else:
        try:
            names = template_names(question)
        except TemplateProblem as err:
            problems.add(f"{path}.question", str(err))
    type_ = spec.get("type", "text")
    if type_ not in COLUMN_TYPES:
        problems.add(f"{path}.type", f"must be one of {', '.join(COLUMN_TYPES)}", type_)
        type_ = "text"
    declared = spec.get("depends_on") or []
    if isinstance(declared, str):
        declared = [declared]
    if not isinstance(declared, list) or not all(isinstance(d, str) for d in declared):
        problems.add(f"{path}.depends_on", "must be a list of column names", spec.get("depends_on"))
        declared = []
    instructions = spec.get("instructions") or ""
    if not isinstance(instructions, str):
        problems.add(f"{path}.instructions", "must be text", instructions)
        instructions = ""
    overrides = spec.get("research") or {}
    column_research = research
    if not isinstance(overrides, dict):
        problems.add(f"{path}.research", "must be a mapping of research settings", overrides)
    elif overrides:
        try:
            ResearchSettings.model_validate(overrides)  # errors point at the override, not the job defaults
            column_research = ResearchSettings.model_validate({**research.model_dump(), **overrides})
        except ValidationError as err:
            add_validation_errors(err, f"{path}.research", ResearchSettings, problems)
    if not ok:
        return None
    return RawColumn(name, question.strip(), type_, declared, names, instructions.strip(), column_research, kind)


def _resolve_names(columns: dict[str, RawColumn], fields: list[str], rows: list[dict[str, str]], rows_path: str, problems: Problems) -> None:
    """Check every template name and declared dependency; fill ``depends_on`` (spec order)."""
    order = list(columns)
    field_users: dict[str, str] = {}
    for name, column in columns.items():
        known = fields + [c for c in order if c != name]
        deps: set[str] = set()
        for ref in column.names:
            if ref == name:
                problems.add(f"columns.{name}.question", f"refers to its own column '{{{name}}}'")
            elif ref in columns:
                deps.add(ref)
            elif ref in fields:
                field_users.setdefault(ref, f"columns.{name}.question")
            else:
                problems.add(f"columns.{name}.question", f"unknown name '{ref}' (known: {', '.join(known)})")
        for where, ref in column.kind.refs:  # names a kind's own fields use (rule inputs, URL templates...)
            if ref == name:
                problems.add(where, f"refers to its own column '{ref}'")
            elif ref in columns:
                deps.add(ref)
            elif ref in fields:
                field_users.setdefault(ref, where)
            else:
                problems.add(where, f"unknown name '{ref}' (known: {', '.join(known)})")
        for i, ref in enumerate(column.declared):
            where = f"columns.{name}.depends_on[{i}]"
            if ref == name:
                problems.add(where, f"column '{name}' cannot depend on itself")
            elif ref in columns:
                deps.add(ref)
            elif ref in fields:
                problems.add(where, f"'{ref}' is a row field; depends_on lists columns only")
            else:
                problems.add(where, f"unknown column '{ref}' (columns: {', '.join(c for c in order if c != name)})")
        column.depends_on = tuple(c for c in order if c in deps)
    for field, user in field_users.items():
        missing = [i for i, row in enumerate(rows) if field not in row]
        _report_some(problems, [(f"{rows_path}[{i}]", f"missing field '{field}' (used by {user})") for i in missing])


def find_cycles(graph: Mapping[str, tuple[str, ...]]) -> list[list[str]]:
    """Each dependency cycle once, as [a, b, ..., a], found by iterative DFS."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    cycles: list[list[str]] = []
    for start in graph:
        if state.get(start):
            continue
        path: list[str] = [start]
        stack = [iter(graph[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif not state.get(nxt) and nxt in graph:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(graph[nxt]))
    return cycles
