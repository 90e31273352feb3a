"""Arrow schemas of every output table, and the key that makes appends idempotent.

A record is a plain ``dict`` whose keys are the schema's field names; missing
optional fields are written as null. ``KEYS[table]`` lists the fields that
identify a row: writing a record whose key already exists replaces the old
row instead of adding a second one (see ``pipelines.store.writer``).

LLM call records use the OpenTelemetry GenAI semantic-convention names
(``gen_ai.provider.name`` ...) as column names, so in SQL they are quoted:
``SELECT "gen_ai.request.model", avg("gen_ai.client.operation.duration") FROM llm_calls``.
"""

from __future__ import annotations

import pyarrow as pa

from pipelines.status import CellStatus, PageStatus

__all__ = ["SCHEMAS", "KEYS", "TABLES", "CELL_STATUSES", "PAGE_STATUSES"]

CELL_STATUSES = tuple(CellStatus)
PAGE_STATUSES = tuple(PageStatus)

_ts = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    "jobs": pa.schema(
        [
            ("job_id", pa.string()),
            ("name", pa.string()),
            ("status", pa.string()),  # one of JobStatus
            ("spec_yaml", pa.string()),  # the spec as given; holds env var NAMES, never keys
            ("spec_path", pa.string()),
            ("key_field", pa.string()),
            ("columns_json", pa.string()),  # [{"name", "type", "kind", "depends_on"}...] in spec order
            ("rows", pa.int64()),
            ("cells", pa.int64()),
            ("created_at", _ts),
            ("updated_at", _ts),
            ("trawl_version", pa.string()),
        ]
    ),
    "cells": pa.schema(
        [
            ("job_id", pa.string()),
            ("row_key", pa.string()),
            ("column", pa.string()),
            ("status", pa.string()),  # one of CELL_STATUSES
            ("answer", pa.string()),  # the answer text as written by the summarizer
            ("value_json", pa.string()),  # the typed value, JSON-encoded (null when unknown)
            ("answer_type", pa.string()),
            ("confidence", pa.float64()),
            ("citations", pa.list_(pa.string())),  # URLs, each one fetched for this cell
            ("dropped_citations", pa.int64()),  # citations that pointed elsewhere and were removed
            ("reason", pa.string()),  # slug: no_results, judge_failed, upstream_failed, timeout... (pipelines.reasons)
            ("message", pa.string()),  # what happened, for a person; null when the slug says it all
            ("question", pa.string()),  # the rendered question
            ("keywords", pa.int64()),
            ("search_results", pa.int64()),
            ("pages_fetched", pa.int64()),
            ("pages_relevant", pa.int64()),
            ("llm_calls", pa.int64()),
            ("input_tokens", pa.int64()),
            ("output_tokens", pa.int64()),
            ("cost_usd", pa.float64()),
            ("started_at", _ts),
            ("finished_at", _ts),
            ("duration_s", pa.float64()),
            ("run_id", pa.string()),  # which run (first run, resume, rerun) produced this row
            ("worker", pa.string()),  # where it was researched: "driver" or "research[<i>]@<node id, 12 hex>"
        ]
    ),
    "keywords": pa.schema(
        [
            ("job_id", pa.string()),
            ("row_key", pa.string()),
            ("column", pa.string()),
            ("position", pa.int64()),
            ("keyword", pa.string()),
        ]
    ),
    "search_results": pa.schema(
        [
            ("job_id", pa.string()),
            ("row_key", pa.string()),
            ("column", pa.string()),
            ("keyword", pa.string()),
            ("rank", pa.int64()),
            ("url", pa.string()),  # the URL fetched: as the provider gave it, tracking parameters removed (pipelines.urls.fetch_url)
            ("title", pa.string()),
            ("snippet", pa.string()),
            ("provider", pa.string()),
            ("score", pa.float64()),
            ("selected", pa.bool_()),  # kept after dedup, domain filters and the per-cell page cap
        ]
    ),
    "pages": pa.schema(
        [
            ("job_id", pa.string()),
            ("url", pa.string()),  # the URL fetched (pipelines.urls.fetch_url), the key
            ("final_url", pa.string()),  # after redirects
            ("status", pa.string()),  # one of PAGE_STATUSES
            ("reason", pa.string()),  # why skipped/failed/blocked
            ("http_status", pa.int64()),
            ("content_type", pa.string()),
            ("encoding", pa.string()),  # the body's encoding, e.g. cp1252 (pipelines/fetch/decode.py)
            ("encoding_source", pa.string()),  # bom | http | meta | detected | detected_over_http | detected_over_meta | default
            ("canonical_url", pa.string()),  # <link rel=canonical>
            ("bytes", pa.int64()),
            ("fetch_ms", pa.float64()),
            ("from_page_store", pa.bool_()),
            ("title", pa.string()),
            ("text_chars", pa.int64()),
            ("chunks", pa.int64()),
            ("text", pa.string()),  # extracted main text
            ("fetched_at", _ts),
            ("fetcher", pa.string()),  # e.g. trawl.fetcher[2]
            ("node_id", pa.string()),  # Ray node that ran the extraction
        ]
    ),
    "excerpts": pa.schema(
        [
            ("job_id", pa.string()),
            ("row_key", pa.string()),
            ("column", pa.string()),
            ("url", pa.string()),
            ("position", pa.int64()),  # 0.. within (cell, url); a not-relevant page has one row, relevant=false
            ("relevant", pa.bool_()),
            ("text", pa.string()),
            ("chunk_score", pa.float64()),  # best BM25 score among the chunks shown to the judge
            ("pdf_page", pa.int64()),  # 1-based PDF page the excerpt was quoted from (cited as url#page=N); null otherwise
        ]
    ),
    "llm_calls": pa.schema(
        [
            ("call_id", pa.string()),
            ("job_id", pa.string()),
            ("row_key", pa.string()),
            ("column", pa.string()),
            ("stage", pa.string()),  # expand | judge | summarize
            ("attempt", pa.int64()),  # 1.. across providers for one logical call
            ("gen_ai.operation.name", pa.string()),  # "chat"
            ("gen_ai.provider.name", pa.string()),
            ("gen_ai.request.model", pa.string()),
            ("gen_ai.response.model", pa.string()),
            ("gen_ai.usage.input_tokens", pa.int64()),
            ("gen_ai.usage.output_tokens", pa.int64()),
            # parts of the two totals above, null when the provider did not report them (OTel GenAI names)
            ("gen_ai.usage.cache_read.input_tokens", pa.int64()),
            ("gen_ai.usage.cache_creation.input_tokens", pa.int64()),
            ("gen_ai.usage.reasoning.output_tokens", pa.int64()),
            ("gen_ai.client.operation.duration", pa.float64()),  # seconds
            ("error.type", pa.string()),  # null on success
            ("error_message", pa.string()),
            ("fallback_from", pa.string()),  # provider tried before this one, if any
            ("cache_hit", pa.bool_()),
            ("cost_usd", pa.float64()),  # null when no price is known for the model (pipelines.llm.prices)
            ("request_hash", pa.string()),  # SHA-256 of the canonical request
            ("prompt_version", pa.string()),
            ("started_at", _ts),
            ("gen_ai.response.finish_reasons", pa.string()),  # the attempt's finish_reason (stop, length, ...)
            ("reasoning_chars", pa.int64()),  # size of the reasoning set apart from the answer
            ("request_adaptations", pa.string()),  # what a 400 taught us to change, e.g. token_limit=max_completion_tokens
        ]
    ),
    "search_calls": pa.schema(
        [
            ("call_id", pa.string()),
            ("job_id", pa.string()),
            ("row_key", pa.string()),
            ("column", pa.string()),
            ("provider", pa.string()),
            ("query", pa.string()),
            ("attempt", pa.int64()),
            ("results", pa.int64()),
            ("duration_s", pa.float64()),
            ("error.type", pa.string()),
            ("error_message", pa.string()),
            ("fallback_from", pa.string()),
            ("cache_hit", pa.bool_()),
            ("started_at", _ts),
        ]
    ),
}

KEYS: dict[str, tuple[str, ...]] = {
    "jobs": ("job_id",),
    "cells": ("job_id", "row_key", "column"),
    "keywords": ("job_id", "row_key", "column", "position"),
    "search_results": ("job_id", "row_key", "column", "keyword", "rank"),
    "pages": ("job_id", "url"),
    "excerpts": ("job_id", "row_key", "column", "url", "position"),
    "llm_calls": ("job_id", "call_id"),
    "search_calls": ("job_id", "call_id"),
}

TABLES = tuple(SCHEMAS)
