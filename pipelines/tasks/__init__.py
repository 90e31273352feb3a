"""Column kinds: the task registry and the built-in kinds.

Each kind is one module implementing :class:`~pipelines.tasks.base.TaskKind`
and registered here: ``research`` (the default web research), ``llm`` (a
prompt over the row, the ``transform`` stage), ``page`` (read given URLs),
``rule`` (regex, map, template, bands) and ``python`` (a registered
function, run in a Ray task). See docs/task-kinds.md.
"""

from __future__ import annotations

from pipelines.tasks import llm_kind, page_kind, python_kind, research_kind, rule_kind
from pipelines.tasks.base import KindSpec, TaskKind, TaskServices
from pipelines.tasks.registry import DEFAULT_KIND, get_kind, kind_names, register, run_cell, unregister
from pipelines.tasks.sources import SourcePolicy, effective_sources

__all__ = ["KindSpec", "TaskKind", "TaskServices", "DEFAULT_KIND", "get_kind", "kind_names", "register", "run_cell",
           "unregister", "SourcePolicy", "effective_sources"]

for _module in (research_kind, llm_kind, page_kind, rule_kind, python_kind):
    register(_module.KIND)
