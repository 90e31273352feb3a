"""The ``kind`` and ``sources`` fields of a column (part of step two of spec parsing).

The kind's own keys are checked by the kind itself (``pipelines.tasks``), so
adding a kind changes nothing here. Problems are reported with their field
path, all at once, like every other builder::

    columns.industry.kind: unknown kind 'lm' (known: research, llm, page, rule, python)
    columns.band.rule.bands: needs len(edges) + 1 = 3 labels (got 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

__all__ = ["ColumnKind", "build_kind"]


@dataclass(frozen=True)
class ColumnKind:
    """A column's validated kind: its name, its ``KindSpec`` and its source policy (research only)."""

    name: str = "research"
    spec: Any = None  # pipelines.tasks.base.KindSpec
    sources: Any = None  # pipelines.tasks.sources.SourcePolicy
    fields: tuple[str, ...] = ()
    default_question: str | None = None
    question_optional: bool = False
    refs: tuple[tuple[str, str], ...] = field(default=())


def build_kind(spec: dict, path: str, problems) -> ColumnKind:
    """Check ``kind``, the kind's own keys and ``sources`` of one column; add every problem to ``problems``."""
    from pipelines import tasks  # the registry imports the research pipeline; only needed once specs are parsed
    from pipelines.spec_builders import add_validation_errors

    name = spec.get("kind", tasks.DEFAULT_KIND)
    kind = tasks.get_kind(name) if isinstance(name, str) else None
    if kind is None:
        problems.add(f"{path}.kind", f"unknown kind {name!r} (known: {', '.join(tasks.kind_names())})")
        return ColumnKind(fields=_all_fields(tasks))
    sources = None
    raw_sources = spec.get("sources")
    if raw_sources is not None:
        if name != "research":
            problems.add(f"{path}.sources", f"only research columns search the web; {name} columns have no sources")
        elif not isinstance(raw_sources, dict):
            problems.add(f"{path}.sources", "must be a mapping of source policy settings", raw_sources)
        else:
            try:
                sources = tasks.SourcePolicy.model_validate(raw_sources)
            except ValidationError as err:
                add_validation_errors(err, f"{path}.sources", tasks.SourcePolicy, problems)
    built = kind.build(spec, path, problems)
    return ColumnKind(name=name, spec=built, sources=sources, fields=tuple(kind.fields),
                      default_question=built.question if built is not None and not kind.needs_question else None,
                      refs=built.refs if built is not None else (), question_optional=not kind.needs_question)


def _all_fields(tasks) -> tuple[str, ...]:
    """With the kind unknown, every kind's keys are allowed, so only the kind itself is reported."""
    return tuple(dict.fromkeys(f for n in tasks.kind_names() for f in tasks.get_kind(n).fields))
