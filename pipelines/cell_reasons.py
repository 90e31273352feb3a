"""Why a cell found nothing: the message of a cell whose pages gave no excerpt.

A cell that read no page because every page failed to fetch or extract is a
different failure from one whose pages were read and judged irrelevant: the
first is fixed by fetching differently (or rerunning later), the second by
asking differently. ``no_pages_error`` keeps them apart and counts page
reasons by their slug (the part of ``ExtractedPage.reason`` before a colon,
as ``pipelines.fetch.result.reason_slug`` reads it).
"""

from __future__ import annotations

from collections import Counter

from pipelines.errors import TrawlError
from pipelines.extract import ExtractedPage
from pipelines.fetch.result import reason_slug

__all__ = ["unread_reason", "reason_counts", "no_pages_error", "no_results_error"]

MAX_REASONS_SHOWN = 4  # a cell's error stays one readable line


def unread_reason(page: ExtractedPage) -> str:
    """The slug that says why ``page`` gave no text to judge (``no_text`` for an ok page with no chunks)."""
    return reason_slug(page.reason) or ("no_text" if page.ok else page.status)


def reason_counts(reasons: list[str]) -> str:
    """``"http_403 ×3, redirect_loop ×1"``: most frequent first, ties by name; the tail folds into ``…``."""
    counts = sorted(Counter(reasons).items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{slug} ×{n}" for slug, n in counts[:MAX_REASONS_SHOWN])
    return shown + (", …" if len(counts) > MAX_REASONS_SHOWN else "")


def no_pages_error(pages_fetched: int, unread: list[str]) -> str:
    """The ``CellOutcome.error`` of a cell with no relevant page, from the reasons of its unread pages.

    Every page unread -> ``no_readable_pages: N of N page(s) could not be read (http_403 ×3, …)``;
    otherwise ``no_relevant_pages: R page(s) read, none relevant`` plus, when some were unread,
    ``; U of N could not be read (…)``.
    """
    if unread and len(unread) >= pages_fetched:
        return f"no_readable_pages: {len(unread)} of {pages_fetched} page(s) could not be read ({reason_counts(unread)})"
    message = f"no_relevant_pages: {pages_fetched - len(unread)} page(s) read, none relevant"
    if unread:
        message += f"; {len(unread)} of {pages_fetched} could not be read ({reason_counts(unread)})"
    return message


def no_results_error(searches: int, failed: list[TrawlError]) -> str:
    """The ``CellOutcome.error`` of a cell whose searches gave no usable URL.

    When some searches failed (and the rest found nothing), the failure is the
    reason: the failed ones may have hidden the results, and a rerun may find
    them. ``<reason>: N of M search(es) failed, the others found nothing (<first error>)``;
    otherwise ``no_results: search returned no usable URLs``.
    """
    if not failed:
        return "no_results: search returned no usable URLs"
    first = failed[0]
    return f"{first.reason}: {len(failed)} of {searches} search(es) failed, the others found nothing ({first})"
