"""Contract servers for the LLM services trawl supports: one aiohttp app per dialect, on loopback.

Each dialect ENFORCES what its service documents for chat.completions
requests (every rule cites its document next to it) and answers in that
service's reply shape, usage details included. The answer text comes from the
local world's extractive engine (``pipelines.world.extractive.complete``), which
reads only the request, so a job through a contract server completes with the
world's pages and search.

    server = ContractServer("openai", model="gpt-5-mini").start()
    server.base_url        # what a ProviderConfig points at (Azure: the resource endpoint)
    server.requests        # every body received, in order; server.rejections: (rule, body) per 4xx sent
    server.stop()

``behaviour`` tweaks the reply for the cases trawl must survive: ``think`` (a
``<think>`` block, or another tag, before the reply), ``finish_length`` for a
stage, ``refuse`` for a stage.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from pipelines.world.extractive import complete
from tests.loopback_server import serve_on_loopback, stop_serving

__all__ = ["ContractServer", "DIALECTS", "Dialect"]

Rule = Callable[[web.Request, dict, "ContractServer"], "tuple[int, dict] | None"]

# Reasoning that quotes the reply formats, as real reasoning does: parsed as the answer, it would read as
# "not relevant" or "unknown" (the think-tags case in ../shared/cases).
REASONING_TEXT = ("Let me look at each chunk and decide which sentences name the fact asked for. The rules say that when "
                  "nothing helps I answer with just <not_relevant/>, and if the sources do not say I must write "
                  "<answer>unknown</answer><citations></citations>. ") * 2


def _error(status: int, message: str, *, param: str | None = None, code: str | None = None,
           kind: str = "invalid_request_error") -> tuple[int, dict]:
    # OpenAI's error envelope (https://platform.openai.com/docs/guides/error-codes); most compatible services copy it.
    return status, {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _stage(body: dict) -> str:
    for msg in reversed(body.get("messages", [])):
        m = re.search(r"<task>(\w+)</task>", str(msg.get("content")))
        if m:
            return m.group(1)
    return "?"


# --- rules shared by several dialects ------------------------------------------------------------------

def _openai_reasoning(server) -> bool:
    if server.reasoning is not None:
        return server.reasoning
    return bool(re.match(r"^(o\d|gpt-5)(?!.*-chat)", server.model.rsplit("/", 1)[-1]))


def rule_reasoning_rejects_max_tokens(request, body, server):
    # "max_tokens ... is not compatible with o-series models" -> use max_completion_tokens
    # https://platform.openai.com/docs/api-reference/chat/create#chat-create-max_tokens
    if _openai_reasoning(server) and "max_tokens" in body:
        return _error(400, "Unsupported parameter: 'max_tokens' is not supported with this model. "
                           "Use 'max_completion_tokens' instead.", param="max_tokens", code="unsupported_parameter")
    return None


def rule_reasoning_rejects_temperature(request, body, server):
    # Reasoning models accept only the default temperature/top_p. https://platform.openai.com/docs/guides/reasoning
    for name in ("temperature", "top_p"):
        if _openai_reasoning(server) and name in body and body[name] != 1:
            return _error(400, f"Unsupported value: '{name}' does not support {body[name]} with this model. "
                               "Only the default (1) value is supported.", param=name, code="unsupported_value")
    return None


def rule_reasoning_rejects_stop(request, body, server):
    # o3 / o4-mini / gpt-5: "Unsupported parameter: 'stop' is not supported with this model."
    # https://platform.openai.com/docs/guides/reasoning (parameters not supported by reasoning models)
    if _openai_reasoning(server) and "stop" in body:
        return _error(400, "Unsupported parameter: 'stop' is not supported with this model.", param="stop",
                      code="unsupported_parameter")
    return None


def rule_no_system_role(request, body, server):
    # o1-mini: "Unsupported value: 'messages[0].role' does not support 'system' with this model."
    # https://community.openai.com/t/openai-o1-streaming-now-available-api-access-for-tiers-1-5/1025430
    if server.no_system_role:
        for i, msg in enumerate(body.get("messages", [])):
            if msg.get("role") in ("system", "developer"):
                return _error(400, f"Unsupported value: 'messages[{i}].role' does not support '{msg['role']}' with "
                                   "this model.", param=f"messages[{i}].role", code="unsupported_value")
    return None


def rule_strict_schema(request, body, server):
    # Structured Outputs: strict schemas need additionalProperties false and every property required.
    # https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema") or {}
        schema = spec.get("schema") or {}
        if not spec.get("name") or schema.get("additionalProperties") is not False or \
                set(schema.get("required", [])) != set(schema.get("properties", {})):
            return _error(400, "Invalid schema for response_format: In context=(), 'additionalProperties' is required "
                               "to be supplied and to be false; 'required' must include every property.",
                          param="response_format")
    return None


def rule_bearer_auth(request, body, server):
    # Authorization: Bearer <key> (https://platform.openai.com/docs/api-reference/authentication)
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return _error(401, "You didn't provide an API key.", kind="invalid_request_error")
    return None


def rule_model_is_served(request, body, server):
    if body.get("model") != server.model:
        return _error(404, f"The model `{body.get('model')}` does not exist.", code="model_not_found")
    return None


def rule_vendor_model(request, body, server):
    # OpenRouter model ids are "<vendor>/<model>" (https://openrouter.ai/docs/api-reference/overview)
    if "/" not in str(body.get("model")):
        return _error(400, f"{body.get('model')} is not a valid model ID", code="400")
    return None


def rule_roles_known(request, body, server):
    # A service that predates the developer role rejects it; trawl only sends system/user/assistant to those.
    developer = server.dialect.developer_role if server.developer_role is None else server.developer_role
    allowed = {"system", "user", "assistant"} | ({"developer"} if developer else set())
    for i, msg in enumerate(body.get("messages", [])):
        if msg.get("role") not in allowed:
            return _error(400, f"Invalid value: '{msg.get('role')}'. Supported values are: {sorted(allowed)}.",
                          param=f"messages[{i}].role")
    return None


def rule_known_fields(request, body, server):
    # Services that list their accepted fields reject (Mistral: 422 "Extra inputs are not permitted",
    # https://docs.mistral.ai/api/) or silently ignore (Ollama, LM Studio) the rest; either way trawl must not
    # send them. The contract server rejects, so a test sees what would be lost.
    extra = sorted(set(body) - server.dialect.fields)
    if extra:
        return 422, {"object": "error", "message": f"Extra inputs are not permitted: {extra}", "type": "invalid_request_error",
                     "param": extra[0], "code": None}
    return None


_COMMON = {"model", "messages", "temperature", "top_p", "stop", "stream", "n", "seed", "response_format"}


@dataclass(frozen=True)
class Dialect:
    name: str
    path: str  # where chat.completions lives, relative to the server root
    base: str  # what trawl's base_url adds to the server root
    rules: tuple[Rule, ...]
    fields: frozenset[str] = frozenset()  # rule_known_fields: the documented request fields
    reasoning_field: str | None = None  # where the reply's reasoning goes (None: hidden, or <think> in content)
    developer_role: bool = False
    usage: Callable[[int, int, int], dict] | None = None
    doc: str = ""


def _usage_openai(prompt: int, completion: int, reasoning: int) -> dict:
    # https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage
    return {"prompt_tokens": prompt, "completion_tokens": completion + reasoning, "total_tokens": prompt + completion + reasoning,
            "prompt_tokens_details": {"cached_tokens": prompt // 2, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def _usage_deepseek(prompt: int, completion: int, reasoning: int) -> dict:
    # https://api-docs.deepseek.com/api/create-chat-completion (usage: prompt_cache_hit_tokens, ...)
    return {"prompt_tokens": prompt, "completion_tokens": completion + reasoning, "total_tokens": prompt + completion + reasoning,
            "prompt_cache_hit_tokens": prompt // 2, "prompt_cache_miss_tokens": prompt - prompt // 2,
            "completion_tokens_details": {"reasoning_tokens": reasoning}}


def _usage_plain(prompt: int, completion: int, reasoning: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion + reasoning, "total_tokens": prompt + completion + reasoning}


_OPENAI_RULES = (rule_bearer_auth, rule_model_is_served, rule_roles_known, rule_reasoning_rejects_max_tokens,
                 rule_reasoning_rejects_temperature, rule_reasoning_rejects_stop, rule_no_system_role, rule_strict_schema)

DIALECTS: dict[str, Dialect] = {d.name: d for d in (
    Dialect("openai", "/v1/chat/completions", "/v1", _OPENAI_RULES, developer_role=True, usage=_usage_openai,
            doc="https://platform.openai.com/docs/api-reference/chat/create"),
    # Azure OpenAI: POST {endpoint}/openai/deployments/{deployment-id}/chat/completions?api-version=...,
    # key in the api-key header; reasoning deployments follow OpenAI's rules.
    # https://learn.microsoft.com/en-us/azure/ai-foundry/openai/reference,
    # https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/reasoning
    Dialect("azure", "/openai/deployments/{deployment}/chat/completions", "", _OPENAI_RULES[2:], developer_role=True,
            usage=_usage_openai, doc="https://learn.microsoft.com/en-us/azure/ai-foundry/openai/reference"),
    # Anthropic's compatibility layer: max_tokens/max_completion_tokens supported, temperature 0..1, n == 1;
    # response_format and reasoning_effort are ignored (so sending them would silently do nothing).
    # https://docs.claude.com/en/api/openai-sdk
    Dialect("anthropic", "/v1/chat/completions", "/v1", (rule_bearer_auth, rule_model_is_served, rule_roles_known,
            rule_known_fields),
            fields=frozenset(_COMMON - {"response_format"} | {"max_tokens", "max_completion_tokens"}),
            developer_role=True, usage=_usage_plain, doc="https://docs.claude.com/en/api/openai-sdk"),
    # Gemini: base https://generativelanguage.googleapis.com/v1beta/openai/; reasoning_effort and json_schema
    # supported. https://ai.google.dev/gemini-api/docs/openai
    Dialect("gemini", "/v1beta/openai/chat/completions", "/v1beta/openai",
            (rule_bearer_auth, rule_model_is_served, rule_roles_known, rule_known_fields, rule_strict_schema),
            fields=frozenset(_COMMON | {"max_tokens", "max_completion_tokens", "reasoning_effort"}), usage=_usage_plain,
            doc="https://ai.google.dev/gemini-api/docs/openai"),
    # OpenRouter: base https://openrouter.ai/api/v1; reasoning returned in message.reasoning, usage with details.
    # https://openrouter.ai/docs/api-reference/overview, https://openrouter.ai/docs/use-cases/reasoning-tokens
    Dialect("openrouter", "/api/v1/chat/completions", "/api/v1", (rule_bearer_auth, rule_model_is_served, rule_roles_known,
            rule_vendor_model, rule_strict_schema), reasoning_field="reasoning",
            developer_role=True, usage=_usage_openai, doc="https://openrouter.ai/docs/api-reference/overview"),
    # DeepSeek: deepseek-reasoner returns reasoning_content; logprobs/top_logprobs are errors.
    # https://api-docs.deepseek.com/guides/reasoning_model
    Dialect("deepseek", "/chat/completions", "", (rule_bearer_auth, rule_model_is_served, rule_roles_known, rule_known_fields),
            fields=frozenset(_COMMON | {"max_tokens", "frequency_penalty", "presence_penalty"}),
            reasoning_field="reasoning_content", usage=_usage_deepseek,
            doc="https://api-docs.deepseek.com/guides/reasoning_model"),
    # Groq: logprobs, logit_bias, top_logprobs, messages[].name -> 400; n must be 1; reasoning raw (<think> in
    # content) by default for qwen3. https://console.groq.com/docs/openai, https://console.groq.com/docs/reasoning
    Dialect("groq", "/openai/v1/chat/completions", "/openai/v1", (rule_bearer_auth, rule_model_is_served, rule_roles_known,
            rule_known_fields), fields=frozenset(_COMMON | {"max_tokens", "max_completion_tokens", "reasoning_effort",
                                                            "reasoning_format"}),
            usage=_usage_plain, doc="https://console.groq.com/docs/openai"),
    # Mistral: documented request fields only (422 otherwise); magistral answers with content parts.
    # https://docs.mistral.ai/api/, https://docs.mistral.ai/capabilities/reasoning/
    Dialect("mistral", "/v1/chat/completions", "/v1", (rule_bearer_auth, rule_model_is_served, rule_roles_known,
            rule_known_fields, rule_strict_schema),
            fields=frozenset(_COMMON - {"seed"} | {"max_tokens", "random_seed", "presence_penalty", "frequency_penalty",
                                                   "safe_prompt", "prompt_mode"}),
            usage=_usage_plain, doc="https://docs.mistral.ai/api/"),
    # vLLM: max_tokens and max_completion_tokens; a reasoning parser puts reasoning in reasoning_content; a chat
    # template without a system role raises "System role not supported".
    # https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html,
    # https://docs.vllm.ai/en/latest/features/reasoning_outputs.html
    Dialect("vllm", "/v1/chat/completions", "/v1", (rule_model_is_served, rule_roles_known),
            reasoning_field="reasoning_content", usage=_usage_plain,
            doc="https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html"),
    # Ollama: the supported request fields (others ignored); thinking models return message.reasoning.
    # https://docs.ollama.com/api/openai-compatibility
    Dialect("ollama", "/v1/chat/completions", "/v1", (rule_model_is_served, rule_roles_known, rule_known_fields),
            fields=frozenset(_COMMON | {"max_tokens", "frequency_penalty", "presence_penalty", "reasoning_effort",
                                        "stream_options"}),
            reasoning_field="reasoning", usage=_usage_plain, doc="https://docs.ollama.com/api/openai-compatibility"),
    # llama.cpp server: OpenAI-compatible /v1/chat/completions; --reasoning-format deepseek puts reasoning in
    # reasoning_content. https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md
    Dialect("llamacpp", "/v1/chat/completions", "/v1", (rule_roles_known,), reasoning_field="reasoning_content",
            usage=_usage_plain, doc="https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md"),
    # LM Studio: supported payload parameters listed (others ignored); raw <think> in content for R1 distills.
    # https://lmstudio.ai/docs/app/api/endpoints/openai
    Dialect("lmstudio", "/v1/chat/completions", "/v1", (rule_model_is_served, rule_roles_known, rule_known_fields),
            fields=frozenset(_COMMON | {"max_tokens", "top_k", "presence_penalty", "frequency_penalty", "logit_bias",
                                        "repeat_penalty"}),
            usage=_usage_plain, doc="https://lmstudio.ai/docs/app/api/endpoints/openai"),
)}


@dataclass
class ContractServer:
    """One dialect's contract server on 127.0.0.1 (its own thread and event loop)."""

    dialect_name: str
    model: str = "gpt-4.1-mini"
    reasoning: bool | None = None  # follow OpenAI's reasoning-model rules (None: from the model name)
    developer_role: bool | None = None  # whether the developer role is known (None: as the dialect documents)
    no_system_role: bool = False  # the model has no system/developer role (o1-mini, Gemma templates)
    system_error: str | None = None  # the text a template without a system role answers (vLLM: "System role not supported")
    think_tag: str | None = None  # put <think_tag>...</think_tag> before the reply in the content
    think_stages: set[str] | None = None  # only these stages think in the content (None: all)
    think_open_in_template: bool = False  # the opening tag was part of the prompt: content is "reasoning</tag>reply"
    garbage: set[str] = field(default_factory=set)  # stages that answer prose no parser can read, even when repaired
    finish_length: set[str] = field(default_factory=set)  # stages whose replies are cut off (finish_reason length)
    refuse: set[str] = field(default_factory=set)  # stages the model refuses
    api_key: str = "contract-key-0000"
    requests: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    queries: list[dict] = field(default_factory=list)
    rejections: list[tuple[str, dict]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dialect = DIALECTS[self.dialect_name]
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.dialect.base}"

    # --- HTTP ---------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.queries.append(dict(request.query))
        if self.dialect.name == "azure":
            problem = self._azure(request, body)
            if problem is not None:
                return self._reject("azure", body, problem)
        if self.system_error and any(m.get("role") in ("system", "developer") for m in body.get("messages", [])):
            # vLLM's error envelope (https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html)
            return self._reject("system_role", body, (400, {"object": "error", "message": self.system_error,
                                                            "type": "BadRequestError", "param": None, "code": 400}))
        for rule in self.dialect.rules:
            problem = rule(request, body, self)
            if problem is not None:
                return self._reject(rule.__name__, body, problem)
        return web.json_response(self._reply(body))

    def _azure(self, request: web.Request, body: dict) -> tuple[int, dict] | None:
        # https://learn.microsoft.com/en-us/azure/ai-foundry/openai/reference: api-version is a required query
        # parameter; the key goes in the api-key header; the deployment is in the path.
        if not request.query.get("api-version"):
            return _error(404, "Resource not found (api-version query parameter is required)", code="404")
        if request.headers.get("api-key") != self.api_key:
            return _error(401, "Access denied due to invalid subscription key (api-key header).", code="401")
        if request.match_info.get("deployment") != self.model:
            return _error(404, "The API deployment for this resource does not exist.", code="DeploymentNotFound")
        return None

    def _reject(self, rule: str, body: dict, problem: tuple[int, dict]) -> web.Response:
        self.rejections.append((rule, body))
        return web.json_response(problem[1], status=problem[0])

    # --- replies ------------------------------------------------------------------------------------

    def _answer(self, body: dict) -> str:
        fmt = (body.get("response_format") or {}).get("type")
        text = complete(body["messages"], json_mode=fmt in ("json_schema", "json_object") and _stage(body) != "expand")
        if fmt and _stage(body) == "summarize":
            data = json.loads(text)
            data["answer"] = data["answer"] if data.get("answer") is not None else "unknown"
            data["confidence"] = float(data.get("confidence") or 0)
            text = json.dumps(data)
        return text

    def _reply(self, body: dict) -> dict:
        stage = _stage(body)
        answer = self._answer(body)
        reasoning = REASONING_TEXT
        finish = "stop"
        message: dict = {"role": "assistant", "content": answer}
        if self.dialect.name == "openai" or self.dialect.name == "azure":
            message["refusal"] = None
        if stage in self.finish_length:  # the whole budget went on reasoning: no answer at all
            answer, finish = "", "length"
            message["content"] = f"<think>{reasoning}" if self.think_tag else ""
        elif stage in self.garbage:
            message["content"] = "I looked at the material and I think it is probably fine overall."
        elif self.think_tag and (self.think_stages is None or stage in self.think_stages):
            opening = "" if self.think_open_in_template else f"<{self.think_tag}>\n"
            message["content"] = f"{opening}{reasoning}\n</{self.think_tag}>\n{answer}"
        if stage in self.refuse:
            message = {"role": "assistant", "content": None, "refusal": "I can't help with that request."}
        if self.dialect.reasoning_field and not self.think_tag:
            message[self.dialect.reasoning_field] = reasoning
        if self.model.startswith("magistral"):  # https://docs.mistral.ai/capabilities/reasoning/
            message["content"] = [{"type": "thinking", "thinking": [{"type": "text", "text": reasoning}]},
                                  {"type": "text", "text": answer}]
        prompt = len(json.dumps(body["messages"])) // 4
        usage = (self.dialect.usage or _usage_plain)(prompt, max(1, len(answer) // 4), len(reasoning) // 4)
        return {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model") or self.model, "system_fingerprint": "fp_contract",
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage}

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> ContractServer:
        self._thread.start()
        self.port, self._runner = serve_on_loopback(self._loop, self.dialect.path, self._handle)
        return self

    def stop(self) -> None:
        stop_serving(self._loop, self._thread, self._runner)
