"""docs/real-web.md keeps up with the PDF and render settings: every fetch snippet validates, every field is named."""

import re
from pathlib import Path

import pytest
import yaml

from pipelines.settings import FetchSettings, PdfSettings, RenderSettings

TEXT = (Path(__file__).resolve().parents[1] / "docs" / "real-web.md").read_text(encoding="utf-8")
FETCH_BLOCKS = [b["fetch"] for b in (yaml.safe_load(s) for s in re.findall(r"```yaml\n(.*?)```", TEXT, re.S)) if "fetch" in b]


@pytest.mark.parametrize("block", FETCH_BLOCKS)
def test_every_fetch_snippet_validates(block):
    FetchSettings.model_validate(block)


@pytest.mark.parametrize("model,key", [(PdfSettings, "pdf"), (RenderSettings, "render")])
def test_every_setting_is_documented_with_its_default(model, key):
    snippet = next(b[key] for b in FETCH_BLOCKS if key in b)
    for name, field in model.model_fields.items():
        assert name in snippet, f"fetch.{key}.{name} is not in docs/real-web.md"
        assert snippet[name] == field.default, f"docs/real-web.md shows fetch.{key}.{name}: {snippet[name]}, default is {field.default}"
