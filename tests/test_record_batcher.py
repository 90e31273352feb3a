"""RecordBatcher: records leave in batches, by count or by age, never lost and never sent twice."""

from __future__ import annotations

import pytest

from pipelines.record_batcher import RecordBatcher


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_batch_is_due_at_max_records_across_tables_in_first_seen_order():
    b = RecordBatcher(max_records=3, linger_s=10, clock=_Clock())
    assert b.add("pages", [{"u": 1}]) is None
    assert b.add("cells", [{"c": 1}]) is None
    batch = b.add("pages", [{"u": 2}])
    assert batch == [("pages", [{"u": 1}, {"u": 2}]), ("cells", [{"c": 1}])]
    assert b.pending == 0 and b.take() == []


def test_a_quiet_buffer_is_due_after_the_linger_and_says_how_long_it_may_wait():
    clock = _Clock()
    b = RecordBatcher(max_records=100, linger_s=0.5, clock=clock)
    assert b.add("pages", [{"u": 1}]) is None
    clock.now += 0.2
    assert b.seconds_until_due() == pytest.approx(0.3) and not b.due()
    clock.now += 0.3
    assert b.add("pages", [{"u": 2}]) == [("pages", [{"u": 1}, {"u": 2}])]
    assert b.seconds_until_due() == pytest.approx(0.5)  # the linger restarts at each release


def test_nothing_is_released_for_an_empty_add_and_bad_bounds_are_refused():
    clock = _Clock()
    b = RecordBatcher(max_records=1, linger_s=0, clock=clock)
    assert b.add("pages", []) is None
    assert b.buffered("pages") == []
    with pytest.raises(ValueError):
        RecordBatcher(max_records=0, linger_s=1)
