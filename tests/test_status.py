"""Statuses and stages are spelled once (pipelines.status) and behave as the plain strings they replace."""

from __future__ import annotations

import json
import pickle

import pyarrow as pa
import pytest
from pydantic import ValidationError

from pipelines.llm.config import STAGES, LLMSettings
from pipelines.status import FINISHED, LLM_STAGES, CellStatus, PageStatus, Stage
from pipelines.store.schemas import CELL_STATUSES, PAGE_STATUSES


def test_a_status_member_is_its_string_everywhere_it_travels():
    assert CellStatus.DONE == "done" and {"done": 1}[CellStatus.DONE] == 1
    assert pa.array([CellStatus.FAILED]).to_pylist() == ["failed"]
    assert json.dumps({"s": CellStatus.SKIPPED}) == '{"s": "skipped"}'
    assert pickle.loads(pickle.dumps(Stage.JUDGE)) == "judge"
    assert f"{CellStatus.BUDGET_EXHAUSTED}" == "budget_exhausted"


def test_finished_cells_are_the_ones_a_resume_keeps():
    assert set(FINISHED) == {"done", "failed", "skipped"}
    assert CellStatus.BUDGET_EXHAUSTED not in FINISHED  # a resume with more budget runs them


def test_schema_status_lists_come_from_the_enums():
    assert CELL_STATUSES == tuple(CellStatus) and PAGE_STATUSES == tuple(PageStatus)


def test_llm_stages_name_chain_keys_and_unknown_stages_are_rejected():
    assert STAGES == LLM_STAGES == (Stage.EXPAND, Stage.JUDGE, Stage.SUMMARIZE, Stage.TRANSFORM)
    assert LLMSettings(chains={"judge": ["a"], "default": ["b"]}).chains["judge"] == ["a"]
    with pytest.raises(ValidationError, match="'expand', 'judge' or 'summarize'|'expand', 'judge', 'summarize'"):
        LLMSettings(chains={"juge": ["a"]})
