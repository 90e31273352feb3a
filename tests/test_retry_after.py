"""One Retry-After reader for fetchers, search providers and LLM providers (RFC 9110 §10.2.3, openai's retry-after-ms)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from pipelines.retry_after import parse_retry_after, retry_after_from_headers

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_delta_seconds_and_http_dates():
    assert parse_retry_after("7") == 7.0 and parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=30), usegmt=True), now=NOW.timestamp()) == 30.0
    assert parse_retry_after(format_datetime(NOW - timedelta(seconds=30), usegmt=True), now=NOW.timestamp()) == 0.0
    assert parse_retry_after("-3") == 0.0


def test_absent_or_unreadable_is_none():
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after("") is None


def test_milliseconds_header_wins_as_in_the_openai_sdk():
    assert retry_after_from_headers({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_from_headers({"retry-after-ms": "x", "retry-after": "9"}) == 9.0
    assert retry_after_from_headers({}) is None
