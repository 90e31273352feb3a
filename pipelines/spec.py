"""Job specs: a YAML table of entities (rows) x research questions (columns).

Parsing has two steps, like Dagu: the YAML becomes a raw mapping (size and
alias-bomb guarded, duplicate keys reported), then one builder per field
(``pipelines.spec_builders``) checks it and collects *every* problem, each
with a field path and the offending value::

    columns.ceo_previous.question: unknown name 'ce0' (known: company, domain, ceo, founded)

If anything is wrong, :class:`~pipelines.errors.SpecError` carries the full
list; otherwise the result is a validated, picklable :class:`Job`.

Paths: ``rows_from`` is relative to the spec file's folder (the data travels
with the spec); ``output`` is relative to the working directory of the
command that runs the job, like any CLI output path.

``job_id`` is ``<slug(name)>-<10 hex>``, a hash of what determines the
answers: name, key, the rows' *content*, columns, research, llm, search and
fetch settings, and what a column kind says decides its answers besides the
spec (a ``python`` column's function version, ``pipelines.tasks``). ``run``,
``budget`` and ``output`` are left out, so resuming with more concurrency or a
bigger budget finds the same job again.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.errors import SpecError
from pipelines.llm.config import LLMSettings
from pipelines.search.config import SearchSettings
from pipelines.settings import BudgetSettings, FetchSettings, ResearchSettings, RunSettings
from pipelines.spec_builders import COLUMN_TYPES, Problems, build_columns, build_key, build_name, build_rows, build_settings, row_fields
from pipelines.spec_yaml import MAX_SPEC_BYTES, load_yaml_text
from pipelines.templates import render

__all__ = ["Job", "Column", "COLUMN_TYPES", "DEFAULT_OUTPUT", "load_job", "parse_job", "slugify"]

DEFAULT_OUTPUT = "./trawl-data"
TOP_LEVEL_KEYS = ("name", "key", "rows", "rows_from", "columns", "research", "llm", "search", "fetch", "budget", "run", "output")
_NOT_HASHED = ("run", "budget", "output")


@dataclass(frozen=True)
class Column:
    """One research question. ``depends_on`` holds upstream columns only (declared and inferred), in spec order."""

    name: str
    question: str
    type: str = "text"
    depends_on: tuple[str, ...] = ()
    instructions: str = ""
    research: ResearchSettings = field(default_factory=ResearchSettings)
    kind: str = "research"  # a task kind of pipelines.tasks
    task: Any = None  # the kind's validated settings (pipelines.tasks.base.KindSpec)
    sources: Any = None  # research only: the column's source policy (pipelines.tasks.sources.SourcePolicy)


@dataclass
class Job:
    """A validated job. Build it with :func:`load_job` or :func:`parse_job`, not by hand."""

    name: str
    key: str
    rows: list[dict[str, str]]
    columns: dict[str, Column]
    research: ResearchSettings
    llm: LLMSettings
    search: SearchSettings
    fetch: FetchSettings
    budget: BudgetSettings
    run: RunSettings
    output: str
    job_id: str
    spec_yaml: str = ""
    spec_path: str = ""

    def row_keys(self) -> list[str]:
        return [row[self.key] for row in self.rows]

    def row(self, row_key: str) -> dict[str, str]:
        """The row whose key is ``row_key`` (KeyError if none)."""
        index = self.__dict__.get("_row_index")
        if index is None:
            index = self.__dict__["_row_index"] = {row[self.key]: i for i, row in enumerate(self.rows)}
        return self.rows[index[row_key]]

    def render_question(self, column_name: str, row: dict[str, str], answers: dict[str, str]) -> str:
        """The column's question with row fields and upstream answers filled in as plain text."""
        column = self.columns[column_name]
        try:
            return render(column.question, {**row, **answers})
        except KeyError as err:
            raise ValueError(f"question of column '{column_name}' needs {err.args[0]!r}, which was not given") from None

    def columns_json(self) -> str:
        """The jobs table's ``columns_json``: name, type, kind and upstream columns of each column, in spec order."""
        return json.dumps([{"name": c.name, "type": c.type, "kind": c.kind, "depends_on": list(c.depends_on)} for c in self.columns.values()])


def _in_file_order(problems: list, raw: dict) -> list:
    """Sort problems by where they are in the spec: top-level key, then column or row; stable otherwise."""
    top = {str(k): i for i, k in enumerate(raw)}
    columns = {str(k): i for i, k in enumerate(raw.get("columns") or {})} if isinstance(raw.get("columns"), dict) else {}

    def position(problem) -> tuple[int, int]:
        head, _, rest = problem.path.partition(".")
        head, _, index = head.partition("[")
        if not problem.path:
            return (-1, 0)
        second = 0
        if head == "columns" and rest:
            second = columns.get(rest.split(".")[0].split("[")[0], len(columns))
        elif index:
            second = int(index.split("]")[0]) if index.split("]")[0].isdigit() else 0
        return (top.get(head, len(top)), second)

    return sorted(problems, key=position)


def slugify(name: str, max_len: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "job"


def load_job(path: str | Path) -> Job:
    """Read and validate a job spec file. Raises SpecError listing every problem."""
    p = Path(path)
    source = str(path)
    too_big = SpecError([f"spec is larger than {MAX_SPEC_BYTES // (1024 * 1024)} MB"], source=source)
    try:
        if p.stat().st_size > MAX_SPEC_BYTES:
            raise too_big
        # Read no more than the cap: /dev/zero or a pipe reports size 0 and would never end.
        with open(p, "rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
        if len(raw) > MAX_SPEC_BYTES:
            raise too_big
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise SpecError([f"file not found: {p}"], source=source) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError([f"cannot read spec: {err}"], source=source) from None
    data, problems = load_yaml_text(text)
    if data is None:
        raise SpecError(problems, source=source)
    return _parse(data, p.resolve().parent, source, text, str(p.resolve()), problems)


def parse_job(mapping: Any, base_dir: str | Path | None = None, source: str = "") -> Job:
    """Validate an already-loaded spec mapping. ``base_dir`` anchors ``rows_from`` (default: CWD)."""
    return _parse(mapping, Path(base_dir) if base_dir is not None else None, source, None, "", Problems())


def _parse(raw: Any, base_dir: Path | None, source: str, text: str | None, spec_path: str, found: list) -> Job:
    problems = Problems(found)
    if not isinstance(raw, dict):
        problems.add("", "a job spec must be a mapping with name, key, rows and columns", raw)
        raise SpecError(problems, source=source)
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            problems.add(str(key), f"unknown key '{key}' (allowed: {', '.join(TOP_LEVEL_KEYS)})")
    name = build_name(raw.get("name"), problems)
    rows, rows_path = build_rows(raw, base_dir, problems)
    key = build_key(raw.get("key"), rows, rows_path, problems)
    research = build_settings(raw.get("research"), "research", ResearchSettings, problems)
    llm_raw = raw.get("llm")
    llm = build_settings({"profile": llm_raw} if isinstance(llm_raw, str) else llm_raw, "llm", LLMSettings, problems)
    search = build_settings(raw.get("search"), "search", SearchSettings, problems)
    fetch = build_settings(raw.get("fetch"), "fetch", FetchSettings, problems)
    budget = build_settings(raw.get("budget"), "budget", BudgetSettings, problems)
    run = build_settings(raw.get("run"), "run", RunSettings, problems)
    output = raw.get("output", DEFAULT_OUTPUT)
    if not isinstance(output, str) or not output.strip():
        problems.add("output", "must be a folder path", output)
        output = DEFAULT_OUTPUT
    raw_columns = build_columns(raw.get("columns"), row_fields(rows), rows, rows_path, research, problems)
    if problems:
        raise SpecError(_in_file_order(problems, raw), source=source)
    columns = {
        n: Column(n, c.question, c.type, c.depends_on, c.instructions, c.research, c.kind.name, c.kind.spec, c.kind.sources)
        for n, c in raw_columns.items()
    }
    hashed = {k: v for k, v in raw.items() if k not in _NOT_HASHED and k not in ("rows", "rows_from")}
    hashed["rows"] = rows
    identities = {n: dict(c.task.identity) for n, c in columns.items() if c.task is not None and c.task.identity}
    if identities:  # e.g. a python function's version: a new version is a new job (absent otherwise: ids stay as they were)
        hashed["task_identities"] = identities
    digest = hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()[:10]
    if text is None:
        import yaml

        text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    return Job(
        name=name,
        key=key,
        rows=rows,
        columns=columns,
        research=research,
        llm=llm,
        search=search,
        fetch=fetch,
        budget=budget,
        run=run,
        output=output.strip(),
        job_id=f"{slugify(name)}-{digest}",
        spec_yaml=text,
        spec_path=spec_path,
    )
