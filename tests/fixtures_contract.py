"""Contract-server fixtures: ``contract(dialect, model, **options)`` starts one (tests/contract_llm.py), stopped after.

Also the helpers the contract tests share: a provider config pointing at a server, settings, one judge request.
"""

from __future__ import annotations

import asyncio

import pytest

from pipelines import prompts
from pipelines.llm.config import LLMSettings, ProviderConfig
from pipelines.llm.gateway import Gateway
from pipelines.llm.types import CallContext, LLMRequest
from tests.contract_llm import ContractServer

KEY_ENV = "TRAWL_CONTRACT_KEY"

KEYED = {"openai", "azure", "anthropic", "gemini", "openrouter", "deepseek", "groq", "mistral"}


@pytest.fixture
def contract(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "contract-key-0000")
    servers = []

    def start(dialect: str, model: str, **options) -> ContractServer:
        server = ContractServer(dialect, model=model, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def provider_for(server: ContractServer, **overrides) -> ProviderConfig:
    keyed = server.dialect.name in KEYED
    return ProviderConfig(name=overrides.pop("name", server.dialect.name), base_url=server.base_url, model=server.model,
                          api_key_env=KEY_ENV if keyed else None, timeout_s=10, **overrides)


def settings(*providers: ProviderConfig, **overrides) -> LLMSettings:
    return LLMSettings(providers=list(providers), **{"backoff_base_s": 0.01, "max_wait_s": 0.1, **overrides})


def ask(gateway: Gateway, *requests: LLMRequest) -> list:
    async def go():
        try:
            return [await _safe(gateway.complete(r)) for r in requests]
        finally:
            await gateway.aclose()

    return asyncio.run(go())


async def _safe(coro):
    try:
        return await coro
    except Exception as exc:  # noqa: BLE001 - the test looks at the error
        return exc


def judge_request(row: str = "r1", stop: list[str] | None = None) -> LLMRequest:
    page = prompts.PageForJudge("P", "http://acme.example/about", "About", ["Jane Doe is the CEO of Acme Robotics."])
    return LLMRequest(stage="judge", messages=prompts.judge_messages("Who is the CEO of Acme Robotics?",
                                                                      {"company": "Acme Robotics"}, page),
                      context=CallContext("j", row, "ceo"), prompt_version=prompts.PROMPT_VERSION,
                      response_schema=prompts.JUDGE_SCHEMA, stop=stop)
