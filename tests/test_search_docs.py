"""docs/real-web.md cannot drift: every YAML snippet validates, every provider kind is documented."""

import re
from pathlib import Path

import pytest
import yaml

from pipelines.llm.config import LLMSettings
from pipelines.search.config import PROVIDER_KINDS, SearchSettings
from pipelines.search.providers import ADAPTERS
from pipelines.spec import parse_job

DOC = Path(__file__).resolve().parents[1] / "docs" / "real-web.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", TEXT, re.S)]


def test_there_are_snippets():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("block", BLOCKS)
def test_every_snippet_validates(block):
    if "columns" in block:
        job = parse_job(block)
        assert job.search.providers and job.llm.providers
        return
    if "search" in block:
        SearchSettings.model_validate(block["search"])
    if "llm" in block:
        LLMSettings.model_validate(block["llm"])


def test_every_provider_kind_and_its_api_are_documented():
    assert set(PROVIDER_KINDS) == set(ADAPTERS)
    for kind, adapter in ADAPTERS.items():
        assert f"kind: {kind}" in TEXT
        if adapter.default_base_url:
            assert adapter.default_base_url.split("//")[1].split("/")[0] in TEXT


def test_every_openai_compatible_server_is_documented():
    for server in ("OpenAI", "Azure OpenAI", "vLLM", "Ollama", "llama.cpp"):
        assert server in TEXT
