"""The cell DAG: which (row, column) cells can run now.

Columns form a small DAG (``ceo_previous`` needs ``ceo``); every row repeats
it, so a job of R rows and C columns has R*C cells whose edges only ever run
inside one row. Cells are numbered ``row * C + column`` and their state lives
in flat arrays, so building, draining and failing a 10,000 x 20 job costs
O(cells + edges) with small constants: no per-cell objects, no scans.

Order: cells unlocked by a finished upstream cell go out before untouched root
cells, so entities finish one after another instead of all at the very end.

A failed cell makes every transitive dependent in its row ``skipped``, with
the reason ``upstream <column> failed: <reason>`` naming the root cause.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from pipelines.status import CellStatus

__all__ = ["Cell", "CellDAG", "plan_summary"]

Cell = tuple[str, str]  # (row_key, column)

_PENDING, _READY, _RUNNING, _DONE, _FAILED, _SKIPPED = range(6)
_NAMES = (CellStatus.PENDING, "ready", CellStatus.RUNNING, CellStatus.DONE, CellStatus.FAILED, CellStatus.SKIPPED)
_TERMINAL_IN = {CellStatus.DONE: _DONE, CellStatus.FAILED: _FAILED, CellStatus.SKIPPED: _SKIPPED}


class CellDAG:
    """Cell scheduling state for one job. Not thread-safe; one coordinator drives it."""

    def __init__(self, columns: Mapping[str, Iterable[str]], row_keys: list[str]) -> None:
        self._cols = list(columns)
        self._col_index = {c: i for i, c in enumerate(self._cols)}
        self._deps = [tuple(self._col_index[d] for d in columns[c]) for c in self._cols]
        self._dependents: list[list[int]] = [[] for _ in self._cols]
        for i, deps in enumerate(self._deps):
            for d in deps:
                self._dependents[d].append(i)
        self._n_cols = len(self._cols)
        self._rows = list(row_keys)
        self._row_index = {r: i for i, r in enumerate(self._rows)}
        if len(self._row_index) != len(self._rows):
            raise ValueError("row keys must be unique")
        self._depth = _depth(self._deps)
        self._reset()

    def _reset(self) -> None:
        n_cols, n_rows = len(self._cols), len(self._rows)
        self._state = bytearray(n_cols * n_rows)
        self._waiting = [len(d) for d in self._deps] * n_rows  # unfinished upstream cells
        self._counts = [0] * len(_NAMES)
        self._counts[_PENDING] = n_cols * n_rows
        self._unlocked: deque[int] = deque()
        roots = [c for c, deps in enumerate(self._deps) if not deps]
        self._roots: deque[int] = deque(r * n_cols + c for r in range(n_rows) for c in roots)
        for cell in self._roots:
            self._set(cell, _READY)

    def _set(self, cell: int, state: int) -> None:
        self._counts[self._state[cell]] -= 1
        self._counts[state] += 1
        self._state[cell] = state

    def _id(self, cell: Cell) -> int:
        try:
            return self._row_index[cell[0]] * self._n_cols + self._col_index[cell[1]]
        except KeyError:
            raise KeyError(f"unknown cell {cell!r}") from None

    def _cell(self, cid: int) -> Cell:
        row, col = divmod(cid, len(self._cols))
        return (self._rows[row], self._cols[col])

    def take_ready(self, limit: int | None = None) -> list[Cell]:
        """Cells whose upstream cells are all done, each handed out once; at most ``limit``."""
        out: list[Cell] = []
        state, rows, cols, n_cols = self._state, self._rows, self._cols, len(self._cols)
        want = len(state) if limit is None else limit
        for queue in (self._unlocked, self._roots):
            while queue and len(out) < want:
                cid = queue.popleft()
                if state[cid] != _READY:  # failed/skipped/restored while queued
                    continue
                state[cid] = _RUNNING
                row, col = divmod(cid, n_cols)
                out.append((rows[row], cols[col]))
        self._counts[_READY] -= len(out)
        self._counts[_RUNNING] += len(out)
        return out

    def mark_done(self, cell: Cell) -> None:
        """Record a finished cell; dependents it completes become ready for take_ready."""
        try:
            row, col = self._row_index[cell[0]], self._col_index[cell[1]]
        except KeyError:
            raise KeyError(f"unknown cell {cell!r}") from None
        n_cols = self._n_cols
        cid = row * n_cols + col
        state, counts = self._state, self._counts
        old = state[cid]
        if old >= _DONE:
            return
        counts[old] -= 1
        counts[_DONE] += 1
        state[cid] = _DONE
        dependents = self._dependents[col]
        if not dependents:
            return
        base, waiting = cid - col, self._waiting
        for dep in dependents:
            target = base + dep
            waiting[target] -= 1
            if waiting[target] == 0 and state[target] == _PENDING:
                state[target] = _READY
                counts[_PENDING] -= 1
                counts[_READY] += 1
                self._unlocked.append(target)

    def _unlock(self, cid: int) -> None:
        n_cols = self._n_cols
        base = cid - cid % n_cols
        waiting, state = self._waiting, self._state
        for dep in self._dependents[cid % n_cols]:
            target = base + dep
            waiting[target] -= 1
            if waiting[target] == 0 and state[target] == _PENDING:
                self._set(target, _READY)
                self._unlocked.append(target)

    def mark_failed(self, cell: Cell, reason: str) -> list[tuple[Cell, str]]:
        """Record a failed cell; returns every transitively skipped dependent with its reason."""
        cid = self._id(cell)
        if self._state[cid] in (_DONE, _FAILED, _SKIPPED):
            return []
        self._set(cid, _FAILED)
        return self._skip_dependents(cid, f"upstream {cell[1]} failed: {reason}")

    def _skip_dependents(self, cid: int, reason: str) -> list[tuple[Cell, str]]:
        n_cols = len(self._cols)
        base = cid - cid % n_cols
        skipped: list[tuple[Cell, str]] = []
        stack = [cid % n_cols]
        while stack:
            for dep in self._dependents[stack.pop()]:
                target = base + dep
                if self._state[target] in (_PENDING, _READY):
                    self._set(target, _SKIPPED)
                    skipped.append((self._cell(target), reason))
                    stack.append(dep)
        return skipped

    def restore(self, statuses: Mapping[Cell, str]) -> list[tuple[Cell, str]]:
        """Resume: done/failed/skipped cells keep that state, everything else is pending again.

        Call before take_ready. Returns dependents of restored failed cells that were not yet
        recorded as skipped (so the caller can record them); unknown cells are ignored.
        """
        self._reset()
        n_cols = len(self._cols)
        terminal: list[tuple[int, int]] = []
        for cell, status in statuses.items():
            state = _TERMINAL_IN.get(CellStatus(status)) if status in _TERMINAL_IN else None
            row = self._row_index.get(cell[0])
            col = self._col_index.get(cell[1])
            if state is not None and row is not None and col is not None:
                cid = row * n_cols + col
                self._set(cid, state)
                terminal.append((cid, state))
        for cid, state in terminal:
            if state == _DONE:
                self._unlock(cid)
        skipped: list[tuple[Cell, str]] = []
        for cid, state in terminal:
            if state == _FAILED:
                skipped += self._skip_dependents(cid, f"upstream {self._cols[cid % n_cols]} failed (earlier run)")
        return skipped

    def status(self, cell: Cell) -> str:
        return _NAMES[self._state[self._id(cell)]]

    def counts(self) -> dict[str, int]:
        """Cells per state: pending (waiting on upstream), ready, running, done, failed, skipped; plus total."""
        out = dict(zip(_NAMES, self._counts))
        out["total"] = len(self._state)
        return out

    def depth(self) -> int:
        """Columns on the longest dependency chain (1 when no column depends on another, 0 for no columns)."""
        return self._depth

    def is_finished(self) -> bool:
        c = self._counts
        return c[_PENDING] == 0 and c[_READY] == 0 and c[_RUNNING] == 0


def _depth(deps: list[tuple[int, ...]]) -> int:
    level: dict[int, int] = {}

    def visit(c: int, seen: frozenset[int]) -> int:
        if c in level:
            return level[c]
        if c in seen:
            raise ValueError("column dependencies contain a cycle")
        level[c] = 1 + max((visit(d, seen | {c}) for d in deps[c]), default=0)
        return level[c]

    return max((visit(c, frozenset()) for c in range(len(deps))), default=0)


def plan_summary(job: Any) -> dict[str, int]:
    """What a job will do at most: the numbers ``trawl validate`` prints.

    ``planned_fanout`` is the design brief's figure: cells x keywords x results per keyword,
    using each column's own research settings.
    """
    rows = len(job.rows)
    columns = list(job.columns.values())
    searched = [c for c in columns if getattr(c, "kind", "research") == "research"]  # other kinds do not search
    keywords = sum(rows * c.research.keywords_per_cell for c in searched)
    fanout = sum(rows * c.research.keywords_per_cell * c.research.results_per_keyword for c in searched)
    pages = sum(rows * c.research.max_pages_per_cell for c in searched)
    pages += sum(rows * len(c.task.config) for c in columns if getattr(c, "kind", "") == "page")
    depth = _depth([tuple(list(job.columns).index(d) for d in c.depends_on) for c in columns])
    return {
        "rows": rows,
        "columns": len(columns),
        "cells": rows * len(columns),
        "depth": depth,
        "keywords": keywords,
        "planned_fanout": fanout,
        "max_pages": pages,
    }
