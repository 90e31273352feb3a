"""Request shaping and reply reading as plain functions: the family table, overrides, body, adaptation, replies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines import prompts
from pipelines.errors import BadRequestError
from pipelines.llm.adapt import adaptation_for, describe
from pipelines.llm.canonical import request_body, request_hash, shape_messages
from pipelines.llm.capabilities import Capabilities, capabilities_for, family_row
from pipelines.llm.config import ProviderConfig
from pipelines.llm.replies import read_message, split_reasoning
from pipelines.llm.types import LLMRequest


def cfg(model: str, **kw) -> ProviderConfig:
    return ProviderConfig(name="p", base_url="http://127.0.0.1:1/v1", model=model, **kw)


MESSAGES = [{"role": "system", "content": "SYS"}, {"role": "user", "content": "<task>judge</task> hi"}]


@pytest.mark.parametrize("model,token_limit,temperature,role", [
    ("gpt-4o-mini", "max_tokens", True, "system"),
    ("gpt-4.1", "max_tokens", True, "system"),
    ("o1", "max_completion_tokens", False, "developer"),
    ("o1-mini-2024-09-12", "max_completion_tokens", False, "none"),
    ("o3-mini", "max_completion_tokens", False, "developer"),
    ("o4-mini", "max_completion_tokens", False, "developer"),
    ("gpt-5", "max_completion_tokens", False, "developer"),
    ("gpt-5-nano", "max_completion_tokens", False, "developer"),
    ("gpt-5-chat-latest", "max_completion_tokens", True, "developer"),
    ("openai/gpt-5-mini", "max_completion_tokens", False, "developer"),  # OpenRouter id
    ("claude-sonnet-4-5", "max_tokens", True, "system"),
    ("deepseek-reasoner", "max_tokens", False, "system"),
    ("google/gemma-3-27b-it", "max_tokens", True, "none"),
    ("llama3.1:8b", "max_tokens", True, "system"),
])
def test_the_family_table(model, token_limit, temperature, role):
    caps = capabilities_for(cfg(model))
    assert (caps.token_limit, caps.temperature, caps.system_role) == (token_limit, temperature, role)
    assert family_row(model)[2].startswith("https://")  # every row cites its document


def test_overrides_family_and_shorthands_win_over_the_table():
    assert capabilities_for(cfg("prod-deployment", family="o3")).token_limit == "max_completion_tokens"
    over = capabilities_for(cfg("o3", capabilities={"token_limit": "none", "system_role": "system"}))
    assert over.token_limit == "none" and over.system_role == "system" and over.temperature is False
    assert capabilities_for(cfg("llama3", json_schema=True)).structured_output == "json_schema"
    assert capabilities_for(cfg("gpt-4o", json_schema=False)).structured_output == "none"
    assert capabilities_for(cfg("llama3", stop_sequences=False)).stop is False
    with pytest.raises(ValidationError):
        cfg("x", capabilities={"token_limit": "max_output"})
    with pytest.raises(ValidationError, match="api_version"):
        cfg("x", kind="azure")


def test_the_body_follows_the_capabilities_and_the_hash_follows_the_body():
    req = LLMRequest(stage="judge", messages=MESSAGES, stop=["</x>"], response_schema=prompts.JUDGE_SCHEMA)
    o3 = request_body(cfg("o3", reasoning_effort={"judge": "low", "default": "high"}), req)
    assert set(o3) == {"model", "messages", "max_completion_tokens", "reasoning_effort", "response_format"}
    assert o3["reasoning_effort"] == "low" and o3["messages"][0]["role"] == "developer"
    llama = request_body(cfg("llama3", reasoning_effort="high"), req)
    assert set(llama) == {"model", "messages", "max_tokens", "temperature", "stop"}
    json_mode = request_body(cfg("llama3", capabilities={"structured_output": "json_object"}), req)
    assert json_mode["response_format"] == {"type": "json_object"} and "JSON schema" in json_mode["messages"][-1]["content"]
    assert req.messages[-1]["content"] == "<task>judge</task> hi"  # the caller's messages are not changed
    learned = request_body(cfg("llama3"), req, {"temperature": False})
    assert "temperature" not in learned and request_hash(learned, "v") != request_hash(llama, "v")


def test_system_text_is_folded_into_the_first_user_message():
    assert shape_messages(MESSAGES, "none") == [{"role": "user", "content": "SYS\n\n<task>judge</task> hi"}]
    assert shape_messages(MESSAGES, "developer")[0] == {"role": "developer", "content": "SYS"}
    assert shape_messages([{"role": "system", "content": "S"}], "none") == [{"role": "user", "content": "S"}]


def _bad(message: str, param: str = "", reason: str = "http_400") -> BadRequestError:
    err = BadRequestError(message, reason=reason)
    err.param = param
    return err


@pytest.mark.parametrize("message,param,change", [
    ("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
     "max_tokens", {"token_limit": "max_completion_tokens"}),
    ("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
     "", {"token_limit": "max_completion_tokens"}),
    ("Unsupported value: 'temperature' does not support 0.0 with this model. Only the default (1) value is supported.",
     "temperature", {"temperature": False}),
    ("Unsupported parameter: 'stop' is not supported with this model.", "stop", {"stop": False}),
    ("System role not supported", "", {"system_role": "none"}),
    ("Unsupported value: 'messages[0].role' does not support 'developer' with this model.", "messages[0].role",
     {"system_role": "none"}),
    ("Invalid value: 'developer'. Supported values are: 'system', 'assistant', 'user', 'function', and 'tool'.",
     "messages[0].role", {"system_role": "none"}),
    ("Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.", "response_format",
     {"structured_output": "none"}),
    ("Extra inputs are not permitted: ['max_completion_tokens']", "max_completion_tokens", {"token_limit": "max_tokens"}),
    ("Unrecognized request argument supplied: reasoning_effort", "", {"reasoning_effort": False}),
])
def test_a_400_naming_an_unsupported_parameter_becomes_one_change(message, param, change):
    caps = Capabilities("max_completion_tokens" if change.get("token_limit") == "max_tokens" else "max_tokens",
                        True, True, True, "developer" if "developer" in message else "system", True, "json_schema")
    assert adaptation_for(_bad(message, param), caps) == change
    assert adaptation_for(_bad(message, param), caps.merged(change)) is None  # the same error never adapts twice


@pytest.mark.parametrize("message,reason", [
    ("This model's maximum context length is 8192 tokens.", "context_length"),
    ("Invalid 'messages[1].content': string too long.", "http_400"),
    ("gpt-9 is not a valid model ID", "http_400"),
    ("max_tokens is too large: 100000. This model supports at most 16384 completion tokens.", "http_400"),
    ("Unsupported parameter: 'max_tokens'", "http_401"),
])
def test_other_400s_are_not_adapted(message, reason):
    assert adaptation_for(_bad(message, reason=reason), Capabilities()) is None


def test_adaptations_are_described_stably():
    assert describe({"token_limit": "max_completion_tokens", "temperature": False}) == \
        "temperature=off;token_limit=max_completion_tokens"


@pytest.mark.parametrize("content,answer", [
    ("<think>I will write <not_relevant/></think>\n<excerpts><excerpt>A</excerpt></excerpts>", "<excerpts><excerpt>A</excerpt></excerpts>"),
    ("<THINKING>x</THINKING><answer>B</answer>", "<answer>B</answer>"),
    ("<reasoning>x</reasoning> <thought>y</thought>C", "C"),
    ("reasoning opened by the template</think>\nD", "D"),
    ("<think>never closed, cut off", ""),
    ("no reasoning here", "no reasoning here"),
])
def test_reasoning_blocks_are_split_off(content, answer):
    assert split_reasoning(content)[0] == answer


def test_reasoning_fields_content_parts_and_refusals_are_read():
    r = read_message({"content": "E", "reasoning_content": "xyz"}, "stop")
    assert (r.text, r.reasoning_chars, r.refusal) == ("E", 3, None)
    assert read_message({"content": None, "reasoning": "abcd"}, "length").reasoning_chars == 4
    parts = read_message({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
                                      {"type": "text", "text": "F"}]}, "stop")
    assert (parts.text, parts.reasoning_chars) == ("F", 3)
    assert read_message({"content": None, "refusal": "no"}, "stop").refusal == "no"
    assert read_message({"content": [{"type": "refusal", "refusal": "nope"}]}, "stop").refusal == "nope"
    assert "content_filter" in read_message({"content": ""}, "content_filter").refusal
    with pytest.raises(TypeError):
        read_message({"content": 5}, "stop")
