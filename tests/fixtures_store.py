"""A small output folder with one finished job, for store, query and CLI tests."""

import datetime as dt
import json

import pytest

from pipelines.store.writer import StoreWriter

COLUMNS = [
    {"name": "ceo", "type": "text", "depends_on": []},
    {"name": "founded", "type": "integer", "depends_on": []},
    {"name": "revenue_musd", "type": "number", "depends_on": []},
    {"name": "public", "type": "boolean", "depends_on": []},
    {"name": "founded_on", "type": "date", "depends_on": []},
    {"name": "products", "type": "list", "depends_on": []},
    {"name": "site", "type": "url", "depends_on": ["ceo"]},
]


def job_record(job_id="demo-abc", name="demo companies", created=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), status="done"):
    return {
        "job_id": job_id, "name": name, "status": status, "key_field": "company", "spec_yaml": "name: demo",
        "columns_json": json.dumps(COLUMNS), "rows": 2, "cells": 14, "created_at": created, "updated_at": created,
    }


def cell(row, column, value, status="done", job_id="demo-abc", **extra):
    return {
        "job_id": job_id, "row_key": row, "column": column, "status": status,
        "answer": None if value is None else str(value), "value_json": None if value is None else json.dumps(value),
        **extra,
    }


ACME = {"ceo": "Ada Park", "founded": 1999, "revenue_musd": 12.5, "public": True, "founded_on": "1999-03-04",
        "products": ["arms", "grippers"], "site": "https://acme.example/"}


def write_demo(output_dir):
    """Acme: every cell done. Beta: ceo failed, site skipped, founded_on only a year."""
    with StoreWriter(output_dir) as w:
        w.append("jobs", [job_record(status="running")])
        w.append("cells", [cell("Acme Robotics", c, v) for c, v in ACME.items()])
        w.append("cells", [
            cell("Beta Foods", "ceo", None, status="failed", error="timeout: no answer"),
            cell("Beta Foods", "site", None, status="skipped", error="upstream_failed: upstream ceo failed: timeout"),
            cell("Beta Foods", "founded", 2004),
            cell("Beta Foods", "founded_on", "2004"),
            cell("Beta Foods", "public", False),
        ])
        w.append("jobs", [job_record(status="done")])
    return output_dir


@pytest.fixture
def demo_output(tmp_path):
    return write_demo(tmp_path / "trawl-data")
