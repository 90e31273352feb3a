"""The metric names the docs give are the ones trawl exports (Ray's ``ray_`` prefix included), with their labels."""

from __future__ import annotations

import re
from pathlib import Path

from actors.metrics import EXPORTED, PREFIX

ROOT = Path(__file__).resolve().parent.parent
_NAME = re.compile(r"\b(?:ray_)?trawl_[a-z_]+(?:_total|_seconds|_in_flight)\b")


def _names_in(path: Path) -> set[str]:
    return set(_NAME.findall(path.read_text(encoding="utf-8")))


def test_docs_name_only_exported_metrics_with_the_ray_prefix():
    exported = {PREFIX + name for name in EXPORTED}
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        names = _names_in(doc)
        assert names <= exported, (doc.name, sorted(names - exported))


def test_the_monitoring_table_lists_every_metric_with_its_labels():
    text = (ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(ray_trawl_\w+)` \| \w+ \| (.*?) \|", text, re.M)}
    assert set(rows) == {PREFIX + name for name in EXPORTED}
    for name, keys in EXPORTED.items():
        assert re.findall(r"`(\w+)`", rows[PREFIX + name]) == list(keys), name
