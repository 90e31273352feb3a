"""The protocol every column kind implements, and what a kind hands the spec builder.

A kind is one module with one object that has a ``name``, the extra column
keys it accepts (``fields``), a ``build`` step (the second step of spec
parsing for its own keys; it appends every problem it finds) and an async
``run`` that turns one :class:`~pipelines.research.CellTask` into one
:class:`~pipelines.research.CellOutcome`. ``run`` never raises for a
per-cell failure: it returns ``CellOutcome(status=CellStatus.FAILED,
error="<reason_slug>: <message>")``; the coordinator turns a stray exception
into ``internal: ...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipelines.research import CellOutcome, CellTask, Services
from pipelines.status import CellStatus

__all__ = ["TaskKind", "KindSpec", "TaskServices", "failed", "spec_of"]


@dataclass(frozen=True)
class KindSpec:
    """What a kind's ``build`` returns for one column (frozen and picklable: it travels in every ``CellTask``).

    ``config``: the kind's own validated settings. ``refs``: ``(spec path, name)`` for every row field or
    column the kind's fields use (they become dependencies, and unknown names are reported at that path).
    ``question``: a default question template (kinds whose question is optional show their inputs with it).
    ``identity``: what besides the spec text decides the answers (a python function's version); hashed
    into the job id, so a new version is a new job and no stale answer is resumed.
    """

    config: Any = None
    refs: tuple[tuple[str, str], ...] = ()
    question: str | None = None
    identity: Mapping[str, str] = field(default_factory=dict)


class TaskServices(Services, Protocol):
    """``Services`` plus running a registered Python function (in a Ray task on the cluster).

    ``run_python(target, version, kwargs)`` returns the function's value or raises
    :class:`~pipelines.errors.TrawlError` (reason ``python_error`` for an exception in the function).
    """

    python_cache: Any  # a pipelines.tasks.python_cache.PythonResultCache, or None for no caching

    async def run_python(self, target: str, version: str, kwargs: dict[str, str]) -> Any: ...


class TaskKind(Protocol):
    name: str  # the column's `kind:` value
    fields: Mapping[str, str]  # extra column key -> one-line description (listed in spec errors)
    needs_question: bool  # False: `question` is optional and defaults to KindSpec.question

    def build(self, spec: Mapping[str, Any], path: str, problems) -> KindSpec | None:
        """Check the kind's own keys of one column (``path`` is ``columns.<name>``); add every problem."""

    async def run(self, task: CellTask, services: TaskServices) -> CellOutcome:
        """Answer one cell; failures are returned as outcomes, never raised."""


def spec_of(task: CellTask) -> KindSpec:
    """``task.spec``: set for every column whose kind has its own keys (the spec builder ran ``build``).

    Raises ``ValueError`` when it is missing (a ``CellTask`` made by hand without it); the coordinator records
    that as an ``internal: ...`` failure of the cell.
    """
    if task.spec is None:
        raise ValueError(f"column {task.column!r} (kind {task.kind!r}) has no built spec")
    return task.spec


def failed(reason: str, message: str, **counts: Any) -> CellOutcome:
    """The outcome of a failed cell, in the ``<reason_slug>: <message>`` convention."""
    return CellOutcome(status=CellStatus.FAILED, error=f"{reason}: {message}", **counts)
