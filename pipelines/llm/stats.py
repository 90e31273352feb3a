"""``trawl llm-stats``: per provider and model, from the ``llm_calls`` Parquet files, with DuckDB.

Latency percentiles are over successful upstream attempts (cache hits take no
time upstream and failures have their own column); the cache hit rate is
cache hits over all records (attempts + hits) of that provider and model.
``cost_usd`` is NULL (``None``) when any call of that provider and model had
no known price (``unpriced_calls``): a partial sum would look like the bill.
``cached_input_tokens`` and ``reasoning_tokens`` are NULL when the provider
never reported them.
"""

from __future__ import annotations

import os

import duckdb

from pipelines.errors import StoreError
from pipelines.store.catalog import table_sql
from pipelines.store.filesystem import is_uri
from pipelines.store.reader import read_table

__all__ = ["llm_call_stats", "recorded_stage_averages"]

_SUMMARY = """
SELECT
    "gen_ai.provider.name" AS provider,
    "gen_ai.request.model" AS model,
    count(*) AS calls,
    count(*) FILTER (WHERE NOT cache_hit) AS upstream_calls,
    count(*) FILTER (WHERE "error.type" IS NOT NULL) AS failures,
    count(*) FILTER (WHERE fallback_from IS NOT NULL AND NOT cache_hit) AS fallback_calls,
    quantile_cont("gen_ai.client.operation.duration", 0.5) FILTER (WHERE NOT cache_hit AND "error.type" IS NULL) AS p50_s,
    quantile_cont("gen_ai.client.operation.duration", 0.95) FILTER (WHERE NOT cache_hit AND "error.type" IS NULL) AS p95_s,
    coalesce(sum("gen_ai.usage.input_tokens"), 0) AS input_tokens,
    coalesce(sum("gen_ai.usage.output_tokens"), 0) AS output_tokens,
    sum("gen_ai.usage.cache_read.input_tokens") AS cached_input_tokens,
    sum("gen_ai.usage.reasoning.output_tokens") AS reasoning_tokens,
    count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_calls,
    CASE WHEN count(*) FILTER (WHERE cost_usd IS NULL) = 0 THEN coalesce(sum(cost_usd), 0) END AS cost_usd,
    count(*) FILTER (WHERE cache_hit) / count(*) AS cache_hit_rate
FROM calls {where}
GROUP BY ALL
ORDER BY provider, model
"""

_FAILURES = """
SELECT "gen_ai.provider.name", "gen_ai.request.model", "error.type", count(*)
FROM calls {where} {conj} "error.type" IS NOT NULL
GROUP BY ALL
ORDER BY 4 DESC, 3
"""


def llm_call_stats(output_dir: str | os.PathLike[str], job_id: str | None = None) -> list[dict]:
    """One dict per (provider, model): calls, upstream_calls, failures, failures_by_type, fallback_calls,
    p50_s, p95_s, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, unpriced_calls, cost_usd,
    cache_hit_rate. ``job_id`` limits it to one job."""
    remote = is_uri(str(output_dir))
    if not remote and not os.path.isdir(output_dir):
        raise StoreError(f"no output folder {output_dir}")
    con = duckdb.connect()
    try:
        if remote:  # s3://... : read through pyarrow, no DuckDB httpfs needed
            con.register("calls", read_table(str(output_dir), "llm_calls"))
        else:
            con.execute(f"CREATE TEMP VIEW calls AS {table_sql(output_dir, 'llm_calls')}")
        where, params = ("WHERE job_id = ?", [job_id]) if job_id else ("", [])
        cursor = con.execute(_SUMMARY.format(where=where), params)
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values)) for values in cursor.fetchall()]
        failures: dict[tuple[str, str], dict[str, int]] = {}
        conj = "AND" if where else "WHERE"
        for provider, model, etype, n in con.execute(_FAILURES.format(where=where, conj=conj), params).fetchall():
            failures.setdefault((provider, model), {})[etype] = n
    except duckdb.Error as exc:
        raise StoreError(f"cannot read llm_calls in {output_dir}: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    for row in rows:
        row["failures_by_type"] = failures.get((row["provider"], row["model"]), {})
    return rows


_STAGE_AVERAGES = """
SELECT
    stage,
    count(*) AS calls,
    count(DISTINCT (row_key, "column")) AS cells,
    count(*) FILTER (WHERE NOT cache_hit AND "error.type" IS NULL) AS answered,
    avg("gen_ai.usage.input_tokens") FILTER (WHERE NOT cache_hit AND "error.type" IS NULL) AS input_tokens,
    avg("gen_ai.usage.output_tokens") FILTER (WHERE NOT cache_hit AND "error.type" IS NULL) AS output_tokens,
    avg(coalesce("gen_ai.usage.cache_read.input_tokens", 0)) FILTER (WHERE NOT cache_hit AND "error.type" IS NULL) AS cached,
    avg(coalesce("gen_ai.usage.reasoning.output_tokens", 0)) FILTER (WHERE NOT cache_hit AND "error.type" IS NULL) AS reasoning
FROM calls {where}
GROUP BY stage
"""


def recorded_stage_averages(output_dir: str | os.PathLike[str], job_id: str | None = None) -> tuple[dict, str | None]:
    """Per stage, a ``pipelines.llm.estimate.StageRecord`` from the recorded ``llm_calls``, and the job they came from.

    Calls per cell count every record (attempts, retries and cache hits: a fresh run asks them all); token
    averages are over successful upstream calls. ``job_id``'s records when there are any, else every job's
    (the second value is then ``None``). A stage with no successful upstream call is left out. A missing
    output folder gives ``({}, None)``.
    """
    from pipelines.llm.estimate import StageRecord

    if not is_uri(str(output_dir)) and not os.path.isdir(output_dir):
        return {}, None
    con = duckdb.connect()
    try:
        if is_uri(str(output_dir)):
            con.register("calls", read_table(str(output_dir), "llm_calls"))
        else:
            con.execute(f"CREATE TEMP VIEW calls AS {table_sql(output_dir, 'llm_calls')}")
        rows, used = [], None
        if job_id:
            rows, used = con.execute(_STAGE_AVERAGES.format(where="WHERE job_id = ?"), [job_id]).fetchall(), job_id
        if not rows:
            rows, used = con.execute(_STAGE_AVERAGES.format(where="")).fetchall(), None
    except duckdb.Error as exc:
        raise StoreError(f"cannot read llm_calls in {output_dir}: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    out = {
        stage: StageRecord(calls / cells, float(inp), float(outp), float(cached or 0), float(reasoning or 0), calls)
        for stage, calls, cells, answered, inp, outp, cached, reasoning in rows
        if answered and cells
    }
    return out, used
