"""docs/llm-providers.md cannot drift: every table cell is what the code sends, every snippet works on its contract server."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import yaml

from pipelines.llm.capabilities import capabilities_for
from pipelines.llm.config import LLMSettings
from pipelines.llm.gateway import Gateway
from tests.contract_llm import ContractServer
from tests.fixtures_contract import judge_request

DOC = (Path(__file__).resolve().parent.parent / "docs" / "llm-providers.md").read_text(encoding="utf-8")
SNIPPETS = dict(re.findall(r"^#### `([\w-]+)`\n```yaml\n(.*?)```", DOC, re.S | re.M))
ROWS = {cells[0].strip("`"): cells for line in DOC.splitlines() if line.startswith("| `")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]}
# the contract server each section's snippet is sent to, and how that model behaves there
SERVERS = {"openai": ("openai", {}), "openai-reasoning": ("openai", {}), "openai-gpt5": ("openai", {}),
           "openai-o1-mini": ("openai", {"no_system_role": True}), "azure": ("azure", {}),
           "anthropic": ("anthropic", {}), "gemini": ("gemini", {}), "openrouter": ("openrouter", {}),
           "deepseek": ("deepseek", {}), "groq": ("groq", {"think_tag": "think"}), "mistral": ("mistral", {}),
           "vllm": ("vllm", {"system_error": "System role not supported"}), "ollama": ("ollama", {}),
           "llamacpp": ("llamacpp", {}), "lmstudio": ("lmstudio", {"think_tag": "think"})}


def _provider(section: str):
    return LLMSettings(**yaml.safe_load(SNIPPETS[section])["llm"]).providers[0]


def test_every_row_has_a_snippet_and_a_contract_server():
    assert set(ROWS) == set(SNIPPETS) == set(SERVERS)


@pytest.mark.parametrize("section", sorted(SERVERS))
def test_each_table_row_is_what_the_code_sends(section):
    _, model, cap, temperature, system, effort, replies, _ = ROWS[section]
    cfg = _provider(section)
    caps = capabilities_for(cfg)
    assert model.split(" ")[0] == cfg.model
    assert cap == caps.token_limit
    assert temperature == ("sent" if caps.temperature else "not sent")
    assert system.split(" ")[0] == caps.system_role
    assert effort == ("sent" if caps.reasoning_effort else "not sent")
    assert replies == ("tags" if caps.structured_output == "none" else caps.structured_output)


@pytest.mark.parametrize("section", sorted(SERVERS))
def test_each_snippet_works_against_its_contract_server(section, monkeypatch, tmp_path):
    dialect, options = SERVERS[section]
    cfg = _provider(section)
    server = ContractServer(dialect, model=cfg.model, **options).start()
    try:
        if cfg.api_key_env:
            monkeypatch.setenv(cfg.api_key_env, server.api_key)
        base = f"http://127.0.0.1:{server.port}" if dialect == "azure" else server.base_url
        settings = LLMSettings(providers=[cfg.model_copy(update={"base_url": base})], backoff_base_s=0.01)
        gateway = Gateway(settings, cache_dir=str(tmp_path))

        async def go():
            try:
                return await gateway.complete(judge_request())
            finally:
                await gateway.aclose()

        result = asyncio.run(go())
        assert result.text and server.rejections == []
    finally:
        server.stop()
