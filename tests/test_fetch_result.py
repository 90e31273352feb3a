"""FetchResult: the pages-table record and the mapping of outcomes onto trawl's error tree."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone

import pytest

from pipelines.errors import RetryableError
from pipelines.fetch import FetchResult
from pipelines.store.schemas import PAGE_STATUSES, SCHEMAS


@pytest.mark.parametrize(
    "status,reason,error_type,retryable",
    [
        ("blocked", "blocked_address: 10.0.0.1 (private)", "BlockedError", False),
        ("blocked", "robots_disallowed", "BlockedError", False),
        ("skipped", "too_large: over 5 bytes", "ContentError", False),
        ("failed", "timeout", "TimeoutError_", True),
        ("failed", "http_429", "RateLimitedError", True),
        ("failed", "http_503", "UnavailableError", True),
        ("failed", "connect_error: a.test:80 ConnectionRefusedError", "UnavailableError", True),
        ("failed", "http_404", "BadRequestError", False),
        ("failed", "redirect_loop: http://a.test/", "PermanentError", False),
    ],
)
def test_outcomes_map_onto_the_error_tree(status, reason, error_type, retryable):
    err = FetchResult(url="http://a.test/", final_url="http://a.test/", status=status, reason=reason).to_error()
    assert type(err).__name__ == error_type and err.reason == reason.split(":")[0]
    assert isinstance(err, RetryableError) is retryable
    assert pickle.loads(pickle.dumps(err)).reason == err.reason
    assert FetchResult(url="u", final_url="u", status="ok").to_error() is None


def test_page_record_fits_the_pages_schema():
    r = FetchResult(url="http://a.test/", final_url="http://a.test/x", status="ok", http_status=200, content_type="text/html",
                    body=b"<html>", bytes=6, fetch_ms=1.5, fetched_at=datetime.now(timezone.utc), fetcher="trawl.fetcher[0]")
    record = r.page_record("job1")
    assert set(record) <= set(SCHEMAS["pages"].names)
    assert record["status"] in PAGE_STATUSES and "body" not in record
    assert r.without_body().body is None and r.body == b"<html>"
    assert r.reason_slug is None and FetchResult(url="u", final_url="u", status="blocked", reason="robots_disallowed").reason_slug == "robots_disallowed"
