"""ExtractBatcher's batch sizes: the ready pages of one pass spread evenly over the CPUs, full batches under load."""

from __future__ import annotations

import asyncio

import pytest

from actors import extract


@pytest.mark.parametrize("ready, busy, cpus, expected", [
    (13, 1, 2, [7, 6]),  # a row's first pages with one CPU busy: two even halves, not 13 on one CPU
    (40, 0, 8, [5] * 8),  # spread over every CPU
    (100, 0, 2, [16, 16, 16, 16]),  # under load: full batches, up to 2 per CPU in flight
])
def test_one_pass_spreads_ready_pages_evenly(monkeypatch, ready, busy, cpus, expected):
    sizes: list[int] = []

    class _Task:
        def options(self, **_):
            return self

        def remote(self, chunk_chars, pdf, *refs):
            sizes.append(len(refs))
            return object()

    async def _no_finish(self, ref, futures):
        return None

    monkeypatch.setattr(extract, "extract_batch", _Task())
    monkeypatch.setattr(extract.ExtractBatcher, "_finish", _no_finish)
    monkeypatch.setattr(extract.ray, "cluster_resources", lambda: {"CPU": cpus})

    async def main():
        batcher = extract.ExtractBatcher(job_id="t", chunk_chars=800, warm_up=False)
        batcher._batches = busy
        batcher._ready = [(object(), None, 0.0) for _ in range(ready)]  # ready long ago: the linger is over
        batcher._dispatch()
        await asyncio.sleep(0)

    asyncio.run(main())
    assert sizes == expected
