"""``kind: research`` (the default): expand -> search -> fetch -> extract -> judge -> summarize.

The workflow itself is :func:`pipelines.research.research_cell`; this module
only plugs it into the registry. Its per-column source policy (``sources:``)
is applied when the coordinator builds the cell (``pipelines.tasks.sources``).
"""

from __future__ import annotations

from pipelines.research import CellOutcome, CellTask, research_cell
from pipelines.tasks.base import KindSpec, TaskServices

__all__ = ["ResearchKind", "KIND"]


class ResearchKind:
    name = "research"
    fields: dict[str, str] = {}
    needs_question = True

    def build(self, spec, path, problems) -> KindSpec:
        return KindSpec()

    async def run(self, task: CellTask, services: TaskServices) -> CellOutcome:
        return await research_cell(task, services)


KIND = ResearchKind()
