"""kind: llm — the transform stage: prompt shape, choices, repair, failures, records; the extractive
engine's transform rules; spec errors."""

from __future__ import annotations

import pytest

from pipelines.errors import SpecError, UnparseableOutputError
from pipelines.llm.config import LLMSettings
from pipelines.llm.types import LLMResult
from pipelines.tasks.llm_kind import parse_transform, transform_messages
from pipelines.world.extractive import complete
from tests.fakes import FakeServices
from tests.test_tasks_registry import job_of, run

CHOICES = ["Robotics", "Energy", "Software"]
SECTOR = {"kind": "llm", "question": "Which industry is {company} in? Its CEO is {ceo}.", "choices": CHOICES}


def test_an_llm_column_answers_from_its_inputs_on_the_transform_stage():
    services = FakeServices()
    run(job_of({"ceo": {"question": "Who is the CEO of {company}?"}, "sector": SECTOR}), services)
    cell = services.cells()[("Acme Robotics", "sector")]
    assert (cell["status"], cell["answer"]) == ("done", "Robotics")
    assert cell["question"] == "Which industry is Acme Robotics in? Its CEO is Jane Doe."
    assert cell["llm_calls"] == 1 and cell["input_tokens"] == 10 and cell["citations"] == []
    assert services.llm_stages["transform"] == 1 and services.counters["llm_calls"] >= 1


def test_the_prompt_carries_inputs_type_and_choices_escaped():
    user = transform_messages("Sector?", {"company": "A <b>", "empty": ""}, "text", ("x & y",), "One word.")[1]["content"]
    assert "<task>transform</task>" in user and "company: A &lt;b&gt;" in user and "empty" not in user
    assert "<choices><choice>x &amp; y</choice></choices>" in user and "<instructions>One word.</instructions>" in user


def test_a_reply_outside_the_choices_is_repaired_once_then_fails_with_its_reason():
    services = FakeServices()
    replies = iter(["<answer>Carpentry</answer>", "<answer>energy.</answer><confidence>0.8</confidence>"])

    async def llm(req):
        return LLMResult(text=next(replies), provider="p", model="m", input_tokens=3, output_tokens=2)

    services.llm = llm
    run(job_of({"sector": {**SECTOR, "question": "Industry of {company}?"}}), services)
    cell = services.cells()[("Acme Robotics", "sector")]
    assert (cell["answer"], cell["confidence"], cell["llm_calls"]) == ("Energy", 0.8, 2)
    with pytest.raises(UnparseableOutputError, match="not one of the choices"):
        parse_transform("<answer>Carpentry</answer>", tuple(CHOICES))


def test_an_llm_outage_and_an_unknown_answer_fail_with_the_true_reason():
    services = FakeServices(fail_llm_for="Industry of")
    run(job_of({"sector": {**SECTOR, "question": "Industry of {company}?"}}), services)
    assert services.cells()[("Acme Robotics", "sector")]["error"].startswith("http_503: ")
    services = FakeServices()
    run(job_of({"sector": {**SECTOR, "question": "Industry of {company}?", "choices": ["Foods"]}}), services)
    cell = services.cells()[("Acme Robotics", "sector")]
    assert cell["status"] == "failed" and cell["error"].startswith("no_answer: ") and cell["llm_calls"] == 1


def test_the_world_engine_answers_a_transform_from_the_prompt_only():
    ask = lambda q, ctx, t="text", ch=(): complete(transform_messages(q, ctx, t, ch))  # noqa: E731
    assert "<answer>Energy</answer>" in ask("Industry?", {"company": "Acyr Energy", "product": "SkyVault"}, ch=CHOICES)
    assert "<answer>unknown</answer>" in ask("Industry?", {"company": "Acyr"}, ch=CHOICES)
    assert "<answer>1989</answer>" in ask("In what year was it founded?", {"about": "Acyr was founded in 1989."}, "integer")
    assert "<answer>unknown</answer>" in ask("Summarize the mood.", {"about": "Acyr was founded in 1989."})


def test_transform_is_a_stage_chains_may_name():
    settings = LLMSettings.model_validate({"providers": [{"name": "a", "base_url": "http://x/v1", "model": "m"},
                                                         {"name": "b", "base_url": "http://y/v1", "model": "m"}],
                                           "chains": {"transform": ["b"]}})
    assert [p.name for p in settings.chain_for("transform")] == ["b"]


@pytest.mark.parametrize(("column", "expected"), [
    ({"kind": "llm"}, "columns.out.question: required"),
    ({"kind": "llm", "question": "q", "choices": []}, "columns.out.choices: must be a list of 1 to 200 non-empty texts"),
    ({"kind": "llm", "question": "q", "choices": "Robotics"}, "columns.out.choices: must be a list"),
    ({"kind": "llm", "question": "q", "choices": [{"a": 1}]}, "columns.out.choices: must be a list"),
    ({"kind": "llm", "question": "q", "urls": ["x"]}, "columns.out.urls: unknown key 'urls' (allowed: question, type, depends_on, instructions, research, kind, sources, choices)"),
    ({"kind": "llm", "question": "q", "sources": {"language": "de"}}, "columns.out.sources: only research columns search the web"),
    ({"kind": "llm", "question": "{nope}?"}, "columns.out.question: unknown name 'nope'"),
])
def test_llm_spec_errors_name_the_field(column, expected):
    with pytest.raises(SpecError) as err:
        job_of({"out": column})
    shown = [str(p) for p in err.value.problems]
    assert any(s.startswith(expected) for s in shown), shown
