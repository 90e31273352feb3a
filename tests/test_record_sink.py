"""BatchedRecordSink: the one way records reach the writer (driver and both gateways), without a Ray cluster.

The writer handle is a stand-in whose ``append_many.remote`` returns an
awaitable, as an ObjectRef is; the sink's batching rule is RecordBatcher's
(tests/test_record_batcher.py).
"""

from __future__ import annotations

import asyncio

from actors.writer import BatchedRecordSink


class _Writer:
    def __init__(self, fail: bool = False):
        self.batches: list = []
        self.fail = fail
        writer = self

        class append_many:  # noqa: N801 - mirrors the actor method's name
            @staticmethod
            def remote(batch):
                writer.batches.append(batch)

                async def ack():
                    if writer.fail:
                        raise OSError("disk full")

                return ack()

        self.append_many = append_many


def test_a_quiet_tail_reaches_the_writer_within_the_linger():
    writer = _Writer()
    seen = []

    async def main():
        sink = BatchedRecordSink(writer, "llm_calls", seen.append, max_records=100, linger_s=0.05)
        sink([{"call_id": "a"}])
        assert writer.batches == []  # buffered: neither full nor old
        await asyncio.sleep(0.2)  # no further record and no flush: the timer sends it
        sent_by_timer = list(writer.batches)
        await sink.flush()
        return sent_by_timer

    assert asyncio.run(main()) == [[("llm_calls", [{"call_id": "a"}])]]
    assert writer.batches == [[("llm_calls", [{"call_id": "a"}])]]
    assert seen == [{"call_id": "a"}]  # observed at once, whatever the batching


def test_a_full_batch_goes_at_once_and_flush_sends_the_rest_and_waits():
    writer = _Writer()

    async def main():
        sink = BatchedRecordSink(writer, max_records=2, linger_s=60)
        sink.record("pages", [{"u": 1}, {"u": 2}])
        sink.record("cells", [{"c": 1}])
        assert len(writer.batches) == 1
        return await sink.flush()

    assert asyncio.run(main()) == []
    assert writer.batches == [[("pages", [{"u": 1}, {"u": 2}])], [("cells", [{"c": 1}])]]


def test_flush_reports_appends_the_writer_refused(caplog):
    async def main():
        sink = BatchedRecordSink(_Writer(fail=True), max_records=1, linger_s=60)
        sink.record("cells", [{"c": 1}])
        return await sink.flush()

    failed = asyncio.run(main())
    assert len(failed) == 1 and isinstance(failed[0], OSError)
    assert "record appends failed" in caplog.text
