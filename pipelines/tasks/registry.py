"""The task registry: column kind name -> the object that validates and runs that kind.

The coordinator calls :func:`run_cell` for every cell and the spec builder
asks :func:`get_kind` for a column's kind, so a new kind is one module that
calls :func:`register`; no coordinator or spec code changes.
"""

from __future__ import annotations

import logging

from pipelines.research import CellOutcome, CellTask
from pipelines.status import CellStatus
from pipelines.tasks.base import TaskKind, TaskServices

__all__ = ["register", "unregister", "get_kind", "kind_names", "run_cell", "DEFAULT_KIND"]

logger = logging.getLogger(__name__)

DEFAULT_KIND = "research"
_KINDS: dict[str, TaskKind] = {}


def register(kind: TaskKind) -> TaskKind:
    """Add (or replace) a kind under ``kind.name``; returns it, so it can decorate a module-level object."""
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        logger.info("task kind %r replaced by %r", kind.name, kind)
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (tests register throw-away kinds)."""
    _KINDS.pop(name, None)


def get_kind(name: str) -> TaskKind | None:
    return _KINDS.get(name)


def kind_names() -> list[str]:
    return list(_KINDS)


async def run_cell(task: CellTask, services: TaskServices) -> CellOutcome:
    """Answer one cell with its column's kind. An unknown kind fails the cell (the spec check should have caught it)."""
    kind = _KINDS.get(task.kind)
    if kind is None:
        return CellOutcome(status=CellStatus.FAILED, error=f"unknown_kind: no task kind {task.kind!r} is registered")
    return await kind.run(task, services)
