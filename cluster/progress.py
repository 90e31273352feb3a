"""The live progress view of a run and its closing summary (rich)."""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pipelines.coordinator import Progress
from pipelines.status import CellStatus

__all__ = ["ProgressView", "summary_table"]


def _stage_table(p: Progress) -> Table:
    c = p.counters
    elapsed = max(time.time() - p.started, 1e-6)
    finished = sum(p.cells[s] for s in CellStatus if s not in (CellStatus.PENDING, CellStatus.RUNNING)) + p.already_done
    t = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("stage", "progress", "detail"):
        t.add_column(col)
    t.add_row(
        "cells",
        f"{finished}/{p.total_cells}",
        f"[green]{p.cells['done']} done[/] · [red]{p.cells['failed']} failed[/] · [yellow]{p.cells['skipped']} skipped[/]"
        + (f" · {p.cells['budget_exhausted']} over budget" if p.cells["budget_exhausted"] else "")
        + (f" · {p.already_done} from earlier runs" if p.already_done else "")
        + f" · {p.in_flight} in flight",
    )
    t.add_row("search", f"{c['searches']} queries", "")
    pages = c["pages_ok"] + c["pages_skipped"] + c["pages_failed"] + c["pages_blocked"]
    t.add_row(
        "fetch+extract",
        f"{pages} pages",
        f"{c['pages_ok']} ok · {c['pages_skipped']} skipped · {c['pages_failed']} failed · {c['pages_blocked']} blocked"
        f" · {c['page_fan_in']} reused (fan-in) · {pages / elapsed:.1f} pages/s",
    )
    t.add_row("llm", f"{c['llm_calls']} calls", f"{c['tokens']:,} tokens · {c['llm_unparseable']} unparseable replies")
    if c["rules_applied"] or c["python_calls"] or c["python_cache_hits"]:  # rule and python columns (pipelines.tasks)
        t.add_row("rule+python", f"{c['rules_applied'] + c['python_calls'] + c['python_cache_hits']} cells",
                  f"{c['rules_applied']} rules · {c['python_calls']} python calls · {c['python_cache_hits']} cached")
    t.add_row("elapsed", f"{elapsed:.1f} s", "")
    return t


def _sign_in() -> str:
    from cluster.dashboard import token_auth_on

    return " (sign in with the token `ray get-auth-token` prints)" if token_auth_on() else ""


class ProgressView:
    """A rich Live view refreshed from a ``Progress`` object the coordinator updates."""

    def __init__(self, progress: Progress, title: str, console: Console | None = None, dashboard_url: str | None = None):
        self.progress = progress
        self.title = title
        self.console = console or Console(stderr=True)
        self.dashboard_url = dashboard_url
        self._live = Live(console=self.console, refresh_per_second=4, get_renderable=self._render, transient=False)

    def _render(self):
        head = Text.from_markup(f"[bold]{self.title}[/]" + (f"  dashboard: {self.dashboard_url}{_sign_in()}" if self.dashboard_url else ""))
        return Group(head, _stage_table(self.progress))

    def __enter__(self):
        self._live.__enter__()
        return self

    def __exit__(self, *exc):
        return self._live.__exit__(*exc)


def summary_table(p: Progress) -> Table:
    return _stage_table(p)
