"""kind: python — naming a function (entry point or dotted path), its version in the cell and the job id,
running it through Services.run_python (in process here; a Ray task in tests/test_tasks_e2e.py)."""

from __future__ import annotations

import pytest

from pipelines.errors import SpecError
from pipelines.tasks.python_kind import call_function, resolve_function
from tests.fakes import FakeServices
from tests.test_tasks_registry import job_of, run


def test_an_entry_point_resolves_to_its_target_and_distribution_version():
    assert resolve_function("founded_decade") == ("pipelines.tasks.samples:founded_decade", "0.1.0")


def test_a_dotted_path_in_either_spelling_is_versioned_by_its_source():
    colon, dots = resolve_function("pipelines.tasks.samples:domain_tld"), resolve_function("pipelines.tasks.samples.domain_tld")
    assert colon == dots and colon.target == "pipelines.tasks.samples:domain_tld"
    assert colon.version.startswith("0.1.0+src-")
    assert resolve_function("pipelines.tasks.samples:founded_decade").version != colon.version


def test_the_function_runs_with_its_inputs_and_shows_name_version_and_inputs():
    services = FakeServices()
    job = job_of({"founded": {"question": "In what year was {company} founded?", "type": "integer"},
                  "decade": {"kind": "python", "function": "founded_decade", "inputs": ["founded"]}})
    assert job.columns["decade"].depends_on == ("founded",)
    run(job, services)
    cell = services.cells()[("Acme Robotics", "decade")]
    assert (cell["status"], cell["answer"], cell["confidence"]) == ("done", "2000s", 1.0)
    assert cell["question"] == "python pipelines.tasks.samples:founded_decade@0.1.0(founded=2004)"
    assert services.counters["python_inline"] == 1 and services.counters["python_calls"] == 1


@pytest.mark.parametrize(("function", "inputs", "reason"), [
    ("pipelines.tasks.samples:founded_decade", ["founded"], "no_answer: pipelines.tasks.samples:founded_decade returned None"),
    ("pipelines.tasks.samples:domain_tld", ["company", "domain"], "python_error: TypeError: "),
    ("ipaddress:ip_address", ["address"], "python_error: ValueError: 'not an address' does not appear to be an IPv4 or IPv6"),
    ("os:getcwd", [], None),
])
def test_a_failing_function_fails_its_cell_with_the_reason(function, inputs, reason):
    services = FakeServices()
    row = {"company": "Acme Robotics", "domain": "acme.example", "founded": "long ago", "address": "not an address"}
    run(job_of({"out": {"kind": "python", "function": function, "inputs": inputs}}, rows=(row,)), services)
    cell = services.cells()[("Acme Robotics", "out")]
    if reason is None:
        assert cell["status"] == "done"
    else:
        assert cell["status"] == "failed" and cell["error"].startswith(reason), cell["error"]


def test_a_value_that_is_not_plain_data_is_an_error():
    assert call_function("pipelines.tasks.samples:domain_tld", {"domain": "a.example"}) == ("ok", "example")
    status, message = call_function("builtins:object", {})
    assert status == "error" and message.startswith("TypeError: Object of type object is not JSON serializable")


def test_the_functions_identity_is_part_of_the_job_id():
    column = {"kind": "python", "function": "founded_decade", "inputs": ["company"]}
    same = job_of({"out": column}).job_id
    assert job_of({"out": column}).job_id == same
    assert job_of({"out": {**column, "function": "pipelines.tasks.samples:founded_decade"}}).job_id != same
    plain = job_of({"out": {"question": "Who is the CEO of {company}?"}})
    assert "task_identities" not in plain.spec_yaml


@pytest.mark.parametrize(("column", "expected"), [
    ({}, "columns.out.function: required: an entry point name"),
    ({"function": "no_such_task"}, "columns.out.function: no entry point 'no_such_task' in group 'trawl.tasks' (installed: "),
    ({"function": "no_such_module_xyz:f"}, "columns.out.function: cannot import module 'no_such_module_xyz'"),
    ({"function": "os.path:nope"}, "columns.out.function: module 'os.path' has no attribute 'nope'"),
    ({"function": "os:sep"}, "columns.out.function: 'os:sep' is not callable"),
    ({"function": "founded_decade", "inputs": ["cmopany"]}, "columns.out.inputs[0]: unknown name 'cmopany'"),
    ({"function": "no_such_task", "inputs": ["cmopany"]}, "columns.out.inputs[0]: unknown name 'cmopany'"),
    ({"function": "founded_decade", "inputs": ["a b"]}, "columns.out.inputs: must be a list of row field or column names"),
    ({"function": "founded_decade", "choices": ["a"]}, "columns.out.choices: unknown key 'choices' (allowed: question, type, depends_on, instructions, research, kind, sources, function, inputs, cache)"),
])
def test_python_spec_errors_name_the_field(column, expected):
    with pytest.raises(SpecError) as err:
        job_of({"out": {"kind": "python", **column}})
    shown = [str(p) for p in err.value.problems]
    assert any(s.startswith(expected) for s in shown), shown


def test_results_are_cached_by_function_version_and_inputs(tmp_path):
    from pipelines.tasks.python_cache import PythonResultCache

    columns = {"tld": {"kind": "python", "function": "pipelines.tasks.samples:domain_tld", "inputs": ["domain"]},
               "decade": {"kind": "python", "function": "founded_decade", "inputs": ["founded"]},
               "fresh": {"kind": "python", "function": "pipelines.tasks.samples:domain_tld", "inputs": ["domain"], "cache": False}}
    row = {"company": "Acme Robotics", "domain": "acme.example", "founded": "long ago"}
    first, second = FakeServices(), FakeServices()
    first.python_cache = PythonResultCache(str(tmp_path))
    run(job_of(columns, rows=(row,)), first)
    second.python_cache = PythonResultCache(str(tmp_path))  # another job, same cache folder
    run(job_of(columns, rows=(row, {**row, "company": "Beta Labs", "domain": "beta.test"})), second)
    assert first.counters["python_calls"] == 3 and first.counters["python_cache_hits"] == 0
    # Acme's tld and both decades (same inputs; a cached None too) are hits; Beta's tld is new; 'fresh' is never cached
    assert second.counters["python_cache_hits"] == 3 and second.counters["python_calls"] == 3
    assert second.cells()[("Beta Labs", "tld")]["answer"] == "test"
    assert second.cells()[("Acme Robotics", "decade")]["error"].startswith("no_answer: ")


def test_a_cache_flag_that_is_not_a_boolean_is_a_spec_error():
    with pytest.raises(SpecError) as err:
        job_of({"out": {"kind": "python", "function": "founded_decade", "inputs": ["company"], "cache": "yes"}})
    assert [str(p) for p in err.value.problems] == ["columns.out.cache: must be true or false (got 'yes')"]
