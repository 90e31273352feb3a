"""The outcome convention: a reason slug and a human message, in separate columns.

Code that records a failure writes one string, ``"<reason_slug>: <message>"``
(``CellOutcome.error``, ``TrawlError`` texts); the ``cells`` table stores it
split, as ``reason`` and ``message`` (like ``pages.reason`` and the
``error.type`` of ``llm_calls``), so SQL can group by ``reason``. The split
happens once, when the record is written (``pipelines.research.cell_record``).

A slug is lower-case ``[a-z][a-z0-9_]*`` before the first ``": "``. A text
that does not start with one keeps all of it as the message, under the
reason ``unspecified`` (never silently dropped).
"""

from __future__ import annotations

import re

__all__ = ["UNSPECIFIED", "ERROR_SQL", "split_reason", "join_reason", "split_error_field", "error_column"]

UNSPECIFIED = "unspecified"
_SLUG = re.compile(r"[a-z][a-z0-9_]*")


def split_reason(error: str | None) -> tuple[str | None, str | None]:
    """``"no_results: search returned nothing"`` -> ``("no_results", "search returned nothing")``.

    ``None`` -> ``(None, None)``; a bare slug ``"timeout"`` -> ``("timeout", None)``;
    text without a slug -> ``("unspecified", text)``.
    """
    if error is None:
        return None, None
    slug, sep, message = error.partition(": ")
    slug = slug.strip()
    if _SLUG.fullmatch(slug):
        return slug, (message.strip() or None) if sep else None
    return UNSPECIFIED, error


def join_reason(reason: str | None, message: str | None) -> str | None:
    """The inverse of ``split_reason``: ``"<reason>: <message>"``, ``"<reason>"``, or ``None``."""
    if reason is None:
        return message
    return f"{reason}: {message}" if message else reason


def split_error_field(record: dict) -> dict:
    """A ``cells`` record that still carries ``error`` ("<slug>: <message>") gets ``reason``/``message`` instead.

    Lets code written before the split (``{"error": "timeout: ..."}``) keep writing cells; an explicit
    ``reason`` wins over the one parsed from ``error``.
    """
    if "error" not in record:
        return record
    out = dict(record)
    reason, message = split_reason(out.pop("error"))
    out.setdefault("reason", reason)
    out.setdefault("message", message)
    return out


def error_column(reasons: list[str | None], messages: list[str | None]) -> list[str | None]:
    """The compatibility ``error`` column of ``cells``: ``join_reason`` row by row."""
    return [join_reason(r, m) for r, m in zip(reasons, messages)]


# The same rule in SQL, for the DuckDB ``cells`` view.
ERROR_SQL = "CASE WHEN reason IS NULL THEN message WHEN message IS NULL THEN reason ELSE reason || ': ' || message END"
