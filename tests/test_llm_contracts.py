"""trawl against contract servers of every LLM service it supports: what it sends, and a job through each.

The servers (tests/contract_llm.py) enforce each service's documented rules and
answer in its reply shape. A job's cells run through each over the local
world's pages and search (tests/loopback_job.py); the per-rule tests assert the
exact request trawl sent.
"""

from __future__ import annotations

import pytest

from pipelines import prompts
from pipelines.llm.gateway import Gateway
from pipelines.llm.types import LLMRequest
from pipelines.world.truth import COLUMN_TRUTH, load_truth, score_results
from tests.fixtures_contract import ask, judge_request, provider_for, settings
from tests.loopback_job import run_cells

# (id, dialect, served model, provider config overrides, server options)
SERVICES = [
    ("openai-gpt-4.1", "openai", "gpt-4.1-mini", {}, {}),
    ("openai-o4-mini", "openai", "o4-mini", {"reasoning_effort": {"judge": "low", "default": "medium"}}, {}),
    ("openai-gpt-5", "openai", "gpt-5-mini", {"max_output_tokens": 4000}, {}),
    ("openai-o1-mini", "openai", "o1-mini", {}, {"no_system_role": True}),
    ("azure-gpt-5", "azure", "prod-reasoner", {"kind": "azure", "api_version": "2025-04-01-preview", "family": "gpt-5-mini"}, {}),
    ("anthropic", "anthropic", "claude-sonnet-4-5", {"reasoning_effort": "low"}, {}),
    ("gemini", "gemini", "gemini-2.5-flash", {"reasoning_effort": {"judge": "low"}}, {}),
    ("openrouter", "openrouter", "deepseek/deepseek-r1", {}, {}),
    ("deepseek-reasoner", "deepseek", "deepseek-reasoner", {}, {}),
    ("groq-qwen3", "groq", "qwen/qwen3-32b", {}, {"think_tag": "think"}),
    ("mistral-small", "mistral", "mistral-small-latest", {}, {}),
    ("mistral-magistral", "mistral", "magistral-medium-latest", {}, {}),
    ("vllm-gemma", "vllm", "google/gemma-3-27b-it", {}, {"system_error": "System role not supported"}),
    ("vllm-qwq", "vllm", "Qwen/QwQ-32B", {}, {}),
    ("ollama", "ollama", "qwen3:8b", {}, {}),
    ("llamacpp", "llamacpp", "local-gguf", {}, {"think_tag": "thinking"}),
    ("lmstudio", "lmstudio", "deepseek-r1-distill-qwen-7b", {}, {"think_tag": "think"}),
]


# --- a job through each service -------------------------------------------------------------------


@pytest.mark.parametrize("sid,dialect,model,overrides,options", SERVICES, ids=[s[0] for s in SERVICES])
def test_a_job_through_each_service_completes_with_every_cell_done(contract, world, tmp_path, sid, dialect, model,
                                                                    overrides, options):
    server = contract(dialect, model, **options)
    cells, calls = run_cells(world, settings(provider_for(server, **overrides)), str(tmp_path))
    assert {c["status"] for c in cells} == {"done"}, [(c["row_key"], c["column"], c["error"]) for c in cells]
    score = score_results(cells, load_truth(world.ground_truth_path), {c: COLUMN_TRUTH[c] for c in ("ceo", "founded")})
    assert score["accuracy"] >= 0.75, score
    assert server.rejections == []  # trawl sent what the service accepts from the first call on
    assert calls and all(r["error.type"] is None and r["gen_ai.response.finish_reasons"] == "stop" for r in calls)
    assert all(r["gen_ai.usage.input_tokens"] > 0 for r in calls)
    if server.dialect.reasoning_field or options.get("think_tag") or model.startswith("magistral"):
        assert all(r["reasoning_chars"] > 0 for r in calls)  # set apart and measured, never parsed


# --- what trawl sends, rule by rule ----------------------------------------------------------------


def test_openai_reasoning_models_get_max_completion_tokens_no_sampling_and_a_developer_message(contract, tmp_path):
    server = contract("openai", "o4-mini")
    cfg = provider_for(server, reasoning_effort={"judge": "low", "default": "high"}, max_output_tokens=5000)
    [result] = ask(Gateway(settings(cfg), cache_dir=str(tmp_path)), judge_request(stop=["</excerpts>"]))
    assert not isinstance(result, Exception), result
    [sent] = server.requests
    assert server.headers[0]["Authorization"] == "Bearer contract-key-0000"
    assert sent["max_completion_tokens"] == 5000 and "max_tokens" not in sent
    assert "temperature" not in sent and "top_p" not in sent and "stop" not in sent
    assert [m["role"] for m in sent["messages"]] == ["developer", "user"]
    assert sent["reasoning_effort"] == "low"  # the judge's own setting
    fmt = sent["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == set(schema["properties"])
    assert prompts.parse_judgement(result.text) == ["Jane Doe is the CEO of Acme Robotics."]  # the JSON reply is read


def test_classic_chat_models_get_max_tokens_temperature_and_a_system_message(contract, tmp_path):
    server = contract("openai", "gpt-4.1-mini")
    [result] = ask(Gateway(settings(provider_for(server, reasoning_effort="high")), cache_dir=str(tmp_path)),
                   judge_request(stop=["</excerpts>"]))
    assert not isinstance(result, Exception), result
    [sent] = server.requests
    assert sent["stop"] == ["</excerpts>"]
    assert sent["max_tokens"] == 1024 and sent["temperature"] == 0.0 and "reasoning_effort" not in sent
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert result.text.startswith("{") and prompts.parse_judgement(result.text) == ["Jane Doe is the CEO of Acme Robotics."]


def test_a_model_without_a_system_role_gets_the_instructions_in_the_first_user_message(contract, tmp_path):
    server = contract("openai", "o1-mini", no_system_role=True)
    [result] = ask(Gateway(settings(provider_for(server)), cache_dir=str(tmp_path)), judge_request())
    assert not isinstance(result, Exception), result
    [sent] = server.requests
    assert [m["role"] for m in sent["messages"]] == ["user"]
    assert sent["messages"][0]["content"].startswith(prompts.SYSTEM) and "<task>judge</task>" in sent["messages"][0]["content"]
    assert "response_format" not in sent and "reasoning_effort" not in sent


def test_azure_gets_the_deployment_path_api_version_and_api_key_header(contract, tmp_path):
    server = contract("azure", "prod-reasoner")
    cfg = provider_for(server, kind="azure", api_version="2025-04-01-preview", family="gpt-5-mini")
    [result] = ask(Gateway(settings(cfg), cache_dir=str(tmp_path)), judge_request())
    assert not isinstance(result, Exception), result
    assert server.queries == [{"api-version": "2025-04-01-preview"}]
    assert server.headers[0]["api-key"] == "contract-key-0000"
    assert "max_completion_tokens" in server.requests[0] and "temperature" not in server.requests[0]  # the family's rules


def test_anthropic_and_services_that_ignore_fields_are_not_sent_them(contract, tmp_path):
    server = contract("anthropic", "claude-sonnet-4-5")
    [result] = ask(Gateway(settings(provider_for(server, reasoning_effort="high")), cache_dir=str(tmp_path)), judge_request())
    assert not isinstance(result, Exception), result
    assert set(server.requests[0]) == {"model", "messages", "temperature", "max_tokens"}


def test_gemini_gets_reasoning_effort_per_stage_and_a_json_schema(contract, tmp_path):
    server = contract("gemini", "gemini-2.5-flash")
    cfg = provider_for(server, reasoning_effort={"judge": "low", "summarize": "high"})
    expand = LLMRequest(stage="expand", messages=prompts.expand_messages("Who is the CEO of Acme?", {"company": "Acme"}, 2))
    results = ask(Gateway(settings(cfg), cache_dir=str(tmp_path)), judge_request(), expand)
    assert not any(isinstance(r, Exception) for r in results), results
    assert server.requests[0]["reasoning_effort"] == "low" and server.requests[0]["response_format"]["type"] == "json_schema"
    assert "reasoning_effort" not in server.requests[1] and "response_format" not in server.requests[1]


@pytest.mark.parametrize("dialect,model,options", [
    ("deepseek", "deepseek-reasoner", {}),  # reasoning_content
    ("openrouter", "deepseek/deepseek-r1", {}),  # reasoning
    ("groq", "qwen/qwen3-32b", {"think_tag": "think"}),
    ("llamacpp", "local-gguf", {"think_tag": "thinking"}),
    ("lmstudio", "local-model", {"think_tag": "reasoning"}),
    ("mistral", "magistral-medium-latest", {}),  # content parts: thinking + text
])
def test_reasoning_is_set_apart_and_measured_in_every_shape(contract, tmp_path, dialect, model, options):
    server = contract(dialect, model, **options)
    records: list[dict] = []
    [result] = ask(Gateway(settings(provider_for(server)), record_sink=records.extend, cache_dir=str(tmp_path)), judge_request())
    assert not isinstance(result, Exception), result
    assert "chunk" not in result.text  # no reasoning words in the answer
    assert prompts.parse_judgement(result.text) == ["Jane Doe is the CEO of Acme Robotics."]
    assert records[0]["reasoning_chars"] > 100 and records[0]["gen_ai.response.finish_reasons"] == "stop"


def test_deepseek_reasoner_is_not_sent_sampling_parameters_it_ignores(contract, tmp_path):
    server = contract("deepseek", "deepseek-reasoner")
    ask(Gateway(settings(provider_for(server)), cache_dir=str(tmp_path)), judge_request())
    assert "temperature" not in server.requests[0] and server.requests[0]["max_tokens"] == 1024
