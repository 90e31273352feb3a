"""Named states and stages, spelled once: cell, job and page statuses, and the stages of a cell.

Each is a ``StrEnum``, so a member *is* its string: it compares equal to
``"done"``, hashes like it, is written to Parquet and JSON as ``"done"`` and
pickles across Ray. Code on other branches that still writes the plain
strings keeps working; new code names the member.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

__all__ = [
    "CellStatus", "JobStatus", "PageStatus", "Stage", "LLMStageName", "LLM_STAGES",
    "FINISHED", "RERUN_ON_FAILED",
]


class CellStatus(StrEnum):
    """Status of a cell in the ``cells`` table and in ``CellOutcome.status``."""

    PENDING = "pending"  # never written yet (only reported by readers: planned minus recorded)
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # an upstream cell failed; the reason names it
    BUDGET_EXHAUSTED = "budget_exhausted"  # not started (or stopped) because the job budget ran out; resumable


# Cells a resume keeps as they are; budget_exhausted is not among them, so a resume with more budget runs them.
FINISHED: frozenset[CellStatus] = frozenset({CellStatus.DONE, CellStatus.FAILED, CellStatus.SKIPPED})
# Cells `trawl rerun --failed` picks.
RERUN_ON_FAILED: frozenset[CellStatus] = frozenset({CellStatus.FAILED, CellStatus.BUDGET_EXHAUSTED})


class JobStatus(StrEnum):
    """Status of a job in the ``jobs`` table (the newest row per job wins)."""

    RUNNING = "running"
    DONE = "done"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


class PageStatus(StrEnum):
    """Outcome of a fetched URL in the ``pages`` table (``reason`` says why when not ok)."""

    OK = "ok"
    SKIPPED = "skipped"  # fetched, but nothing usable (not HTML/PDF, empty, no main text)
    FAILED = "failed"  # network, HTTP or internal error
    BLOCKED = "blocked"  # refused by robots.txt or the address guard


class Stage(StrEnum):
    """Stages of the cell workflow, as named in LLM requests, metrics (``stage`` tag) and chains."""

    EXPAND = "expand"
    SEARCH = "search"
    PAGE = "page"  # fetch + extract of one URL, seen by the coordinator
    EXTRACT = "extract"
    JUDGE = "judge"
    SUMMARIZE = "summarize"
    TRANSFORM = "transform"  # the llm column kind's one call (pipelines.tasks.llm_kind)


# The stages that call the LLM. A Literal for pydantic fields (its errors list the plain names);
# checked against Stage at import, so the two cannot drift.
LLMStageName = Literal["expand", "judge", "summarize", "transform"]
LLM_STAGES: tuple[Stage, ...] = tuple(Stage(name) for name in get_args(LLMStageName))
