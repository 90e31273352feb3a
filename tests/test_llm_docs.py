"""docs/llm-gateway.md cannot drift: every setting and metric the gateway has is documented."""

from __future__ import annotations

import re
from pathlib import Path

from pipelines.llm.config import LLMSettings, ProviderConfig

DOC = (Path(__file__).resolve().parent.parent / "docs" / "llm-gateway.md").read_text(encoding="utf-8")
ACTOR = (Path(__file__).resolve().parent.parent / "actors" / "llm_gateway.py").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    missing = [f"{model.__name__}.{name}" for model in (LLMSettings, ProviderConfig) for name in model.model_fields
               if f"`{name}`" not in DOC]
    assert not missing, f"document these in docs/llm-gateway.md: {missing}"


def test_every_ray_metric_is_documented():
    metrics = re.findall(r'"(trawl_llm_[a-z_]+)"', ACTOR)
    assert metrics and all(m in DOC for m in metrics)
