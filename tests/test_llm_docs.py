"""docs/llm-gateway.md cannot drift: every setting and metric the gateway has is documented."""

from __future__ import annotations

from pathlib import Path

from pipelines.llm.config import LLMSettings, ProviderConfig

DOC = (Path(__file__).resolve().parent.parent / "docs" / "llm-gateway.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    missing = [f"{model.__name__}.{name}" for model in (LLMSettings, ProviderConfig) for name in model.model_fields
               if f"`{name}`" not in DOC]
    assert not missing, f"document these in docs/llm-gateway.md: {missing}"


def test_every_ray_metric_is_documented():
    from actors.metrics import EXPORTED, PREFIX

    metrics = [PREFIX + name for name in EXPORTED if name.startswith("trawl_llm_")]  # as exported
    assert metrics and all(f"`{m}" in DOC for m in metrics)
