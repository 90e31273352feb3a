"""Every reply quirk of real models ends as the right cell outcome, end to end (world pages + search, contract LLM).

The kinds of ../shared/cases: think-tags (reasoning in the content, in every tag and field
it comes in), truncated-reasoning (finish_reason length, in each stage), max-tokens and
temperature (parameters a model rejects: adapted once, kept for the job), system-role
(no system role: folded), plus refusals and replies that stay unparseable after the
repair retry — each ends as its own recorded outcome, never "no relevant pages".
"""

from __future__ import annotations

import pytest

from tests.fixtures_contract import provider_for, settings
from tests.loopback_job import run_cells

ONE = {"rows": 1, "columns": ("ceo",)}


def _failed(cells):
    return [(c["column"], c["error"]) for c in cells if c["status"] != "done"]


# --- think-tags: reasoning never parsed as the answer ----------------------------------------------


@pytest.mark.parametrize("stage", ["judge", "summarize", "expand"])
@pytest.mark.parametrize("tag", ["think", "thinking", "reasoning", "thought"])
def test_reasoning_blocks_in_the_content_are_set_apart_in_every_stage(contract, world, tmp_path, stage, tag):
    server = contract("vllm", "Qwen/QwQ-32B", think_tag=tag, think_stages={stage})
    cells, calls = run_cells(world, settings(provider_for(server)), str(tmp_path), **ONE)
    assert {c["status"] for c in cells} == {"done"}, _failed(cells)
    assert cells[0]["answer"] and cells[0]["answer"] != "unknown"
    assert all(r["reasoning_chars"] > 0 for r in calls if r["stage"] == stage)


def test_a_block_opened_by_the_prompt_template_is_set_apart(contract, world, tmp_path):
    # DeepSeek-R1 style templates end the prompt with "<think>\n": the reply starts inside the block.
    server = contract("vllm", "deepseek-r1-distill-llama-70b", think_tag="think", think_open_in_template=True)
    cells, calls = run_cells(world, settings(provider_for(server)), str(tmp_path), **ONE)
    assert {c["status"] for c in cells} == {"done"}, _failed(cells)
    assert all(r["reasoning_chars"] > 0 for r in calls)


# --- truncated-reasoning: finish_reason length is its own outcome -----------------------------------


@pytest.mark.parametrize("stage", ["expand", "judge", "summarize"])
def test_a_reply_cut_off_by_the_token_limit_fails_the_cell_naming_the_setting(contract, world, tmp_path, stage):
    server = contract("deepseek", "deepseek-reasoner", finish_length={stage})
    cfg = provider_for(server)
    cells, calls = run_cells(world, settings(cfg), str(tmp_path), **ONE)
    [cell] = cells
    assert cell["status"] == "failed"
    slug = "judge_failed" if stage == "judge" else "truncated"
    assert cell["error"].startswith(f"{slug}:") and "truncated" in cell["error"] and "max_output_tokens" in cell["error"]
    assert "no_relevant_pages" not in cell["error"] and "no_answer" not in cell["error"]
    cut = [r for r in calls if r["stage"] == stage]
    assert cut and all(r["gen_ai.response.finish_reasons"] == "length" and r["error.type"] == "truncated" for r in cut)
    # nothing truncated is cached: a re-run asks again
    asked = sum(1 for b in server.requests if f"<task>{stage}</task>" in str(b["messages"]))
    run_cells(world, settings(cfg), str(tmp_path), **ONE)
    assert sum(1 for b in server.requests if f"<task>{stage}</task>" in str(b["messages"])) == 2 * asked


def test_a_larger_output_cap_is_what_the_error_asks_for_and_it_is_sent(contract, world, tmp_path):
    server = contract("openai", "o4-mini", finish_length={"judge"})
    cells, _ = run_cells(world, settings(provider_for(server, max_output_tokens=300)), str(tmp_path), **ONE)
    assert "(now 300)" in cells[0]["error"]
    assert {b["max_completion_tokens"] for b in server.requests} == {300}


# --- refusals and unusable replies -------------------------------------------------------------------


@pytest.mark.parametrize("stage,slug", [("judge", "judge_failed"), ("summarize", "refused"), ("expand", "refused")])
def test_a_refusal_is_its_own_outcome(contract, world, tmp_path, stage, slug):
    server = contract("openai", "gpt-4.1-mini", refuse={stage})
    cells, calls = run_cells(world, settings(provider_for(server)), str(tmp_path), **ONE)
    assert cells[0]["status"] == "failed" and cells[0]["error"].startswith(f"{slug}:") and "refused" in cells[0]["error"]
    assert any(r["error.type"] == "refused" for r in calls)


@pytest.mark.parametrize("stage,reason", [("judge", "unparseable_judgement"), ("summarize", "unparseable_summary")])
def test_a_reply_unparseable_after_the_repair_retry_fails_with_the_llms_reason(contract, world, tmp_path, stage, reason):
    server = contract("vllm", "some-local-model", garbage={stage})
    cells, _ = run_cells(world, settings(provider_for(server)), str(tmp_path), **ONE)
    [cell] = cells
    assert cell["status"] == "failed" and reason in cell["error"], cell["error"]
    assert not cell["error"].startswith(("no_relevant_pages", "no_answer"))
    repaired = [b for b in server.requests if f"<task>{stage}</task>" in str(b["messages"]) and
                any(m["role"] == "assistant" for m in b["messages"])]
    assert repaired  # the repair retry was made first


# --- max-tokens, temperature, system-role: adapted once, kept for the job -----------------------------


def test_a_rejected_max_tokens_and_temperature_are_adapted_once_and_kept(contract, world, tmp_path):
    # An unknown deployment name: the table gives classic chat defaults, the server follows reasoning rules.
    server = contract("openai", "acme-reasoner-prod", reasoning=True)
    cells, calls = run_cells(world, settings(provider_for(server)), str(tmp_path))
    assert {c["status"] for c in cells} == {"done"}, _failed(cells)
    rejected = {rule for rule, _ in server.rejections}
    assert rejected == {"rule_reasoning_rejects_max_tokens", "rule_reasoning_rejects_temperature"}
    assert len(server.rejections) <= 2 * 4  # at most the first call of each concurrent cell, once per parameter
    last = server.requests[-1]
    assert "max_tokens" not in last and "temperature" not in last and last["max_completion_tokens"] == 1024
    adapted = [r for r in calls if r["request_adaptations"]]
    assert adapted[-1]["request_adaptations"] == "temperature=off;token_limit=max_completion_tokens"
    assert all(r["error.type"] in (None, "http_400") for r in calls)


def test_a_rerun_of_an_adapted_job_is_answered_from_the_cache(contract, world, tmp_path):
    server = contract("openai", "acme-reasoner-prod", reasoning=True)
    run_cells(world, settings(provider_for(server)), str(tmp_path), **ONE)
    answered = len(server.requests) - len(server.rejections)
    cells, calls = run_cells(world, settings(provider_for(server)), str(tmp_path), **ONE)
    assert cells[0]["status"] == "done"
    assert len(server.requests) - len(server.rejections) == answered  # only the 400s that re-teach the adaptation
    assert all(r["cache_hit"] for r in calls if r["error.type"] is None)


def test_a_model_without_a_system_role_is_adapted_to_by_folding_it(contract, world, tmp_path):
    server = contract("vllm", "fake-model", system_error="System role not supported")
    cells, calls = run_cells(world, settings(provider_for(server)), str(tmp_path))
    assert {c["status"] for c in cells} == {"done"}, _failed(cells)
    assert all(m["role"] != "system" for m in server.requests[-1]["messages"])
    assert any(r["request_adaptations"] == "system_role=none" for r in calls)


def test_a_400_that_names_nothing_to_change_stays_a_recorded_failure(contract, world, tmp_path):
    server = contract("openrouter", "no-vendor-prefix")  # "<model> is not a valid model ID"
    cells, calls = run_cells(world, settings(provider_for(server)), str(tmp_path), **ONE)
    assert cells[0]["status"] == "failed" and cells[0]["error"].startswith("http_400:")
    assert all(r["request_adaptations"] is None and r["error.type"] == "http_400" for r in calls)
    assert len(server.requests) == 1  # not retried, not adapted


def test_the_developer_role_goes_to_models_that_take_it(contract, world, tmp_path):
    server = contract("openai", "o3-mini")
    cells, _ = run_cells(world, settings(provider_for(server)), str(tmp_path), **ONE)
    assert {c["status"] for c in cells} == {"done"}, _failed(cells)
    assert all(b["messages"][0]["role"] == "developer" for b in server.requests)


def test_a_service_that_does_not_know_the_developer_role_is_adapted_to(contract, world, tmp_path):
    # e.g. an Azure api-version older than the developer role, serving an o-series deployment
    server = contract("azure", "o3-mini", developer_role=False)
    cfg = provider_for(server, kind="azure", api_version="2024-10-21")
    cells, calls = run_cells(world, settings(cfg), str(tmp_path), **ONE)
    assert {c["status"] for c in cells} == {"done"}, _failed(cells)
    assert {rule for rule, _ in server.rejections} == {"rule_roles_known"}
    assert [m["role"] for m in server.requests[-1]["messages"]] == ["user"]
    assert any(r["request_adaptations"] == "system_role=none" for r in calls)
