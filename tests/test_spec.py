"""Job specs: good specs load; bad specs list every problem with its field path."""

import copy
import pickle
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.errors import SpecError
from pipelines.spec import load_job, parse_job

GOOD = {
    "name": "demo-companies",
    "key": "company",
    "rows": [
        {"company": "Acme Robotics", "domain": "acme-robotics.example"},
        {"company": "Beta Foods", "domain": "beta-foods.example"},
    ],
    "columns": {
        "ceo": {"question": "Who is the CEO of {company}?", "type": "text"},
        "founded": {"question": "In what year was {company} founded?", "type": "integer"},
        "ceo_previous": {
            "question": "Where did {ceo} work before joining {company}?",
            "instructions": "Name the previous employer only.",
            "research": {"keywords_per_cell": 2},
        },
    },
    "research": {"keywords_per_cell": 4, "results_per_keyword": 10},
    "llm": {"providers": [{"name": "local", "base_url": "http://127.0.0.1:8782/v1", "model": "trawl-extractive"}]},
    "search": {"providers": [{"name": "local", "kind": "searxng", "base_url": "http://127.0.0.1:8781"}]},
    "fetch": {"resolve": {"*.example": "127.0.0.1"}, "allow_hosts": ["*.example"]},
    "budget": {"max_total_tokens": 1000000},
    "run": {"max_cells_in_flight": 8},
}


def spec(**changes):
    """GOOD with dotted-path changes; a value of ... deletes the key."""
    out = copy.deepcopy(GOOD)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = out
        for part in parents:
            node = node[int(part) if part.isdigit() else part]
        last = int(last) if last.isdigit() else last
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return out


def problems_of(mapping, **kw):
    with pytest.raises(SpecError) as info:
        parse_job(mapping, **kw)
    return [str(p) for p in info.value.problems]


def test_good_spec_builds_a_job():
    job = parse_job(GOOD)
    assert job.name == "demo-companies" and job.key == "company"
    assert job.row_keys() == ["Acme Robotics", "Beta Foods"]
    assert list(job.columns) == ["ceo", "founded", "ceo_previous"]
    prev = job.columns["ceo_previous"]
    assert prev.depends_on == ("ceo",) and prev.type == "text"
    assert prev.research.keywords_per_cell == 2 and prev.research.results_per_keyword == 10
    assert job.columns["ceo"].research.keywords_per_cell == 4
    assert job.fetch.resolve == {"*.example": "127.0.0.1"} and job.run.max_cells_in_flight == 8
    assert job.llm.providers[0].model == "trawl-extractive"
    assert job.output == "./trawl-data"
    assert job.job_id.startswith("demo-companies-") and len(job.job_id) == len("demo-companies-") + 10


def test_render_question_fills_row_fields_and_upstream_answers():
    job = parse_job(GOOD)
    text = job.render_question("ceo_previous", job.rows[0], {"ceo": "Ada Park"})
    assert text == "Where did Ada Park work before joining Acme Robotics?"
    with pytest.raises(ValueError, match="needs 'ceo'"):
        job.render_question("ceo_previous", job.rows[0], {})


def test_declared_and_inferred_dependencies_merge_in_spec_order():
    job = parse_job(spec(columns__ceo_previous__depends_on=["founded"]))
    assert job.columns["ceo_previous"].depends_on == ("ceo", "founded")


def test_a_column_may_depend_on_a_later_column():
    job = parse_job(spec(columns__ceo__question="Who replaced {ceo_previous}?", columns__ceo_previous__question="{company}"))
    assert job.columns["ceo"].depends_on == ("ceo_previous",)


def test_job_id_is_stable_and_ignores_run_budget_output():
    a = parse_job(GOOD)
    assert parse_job(copy.deepcopy(GOOD)).job_id == a.job_id
    assert parse_job(spec(run={"max_cells_in_flight": 2}, output="/tmp/elsewhere", budget=...)).job_id == a.job_id
    assert parse_job(spec(columns__ceo__question="Who runs {company}?")).job_id != a.job_id
    assert parse_job(spec(rows__0__domain="acme.example")).job_id != a.job_id


def test_inline_values_become_text_and_a_question_may_be_a_plain_string():
    job = parse_job(spec(rows=[{"company": 42, "public": True, "size": 1.0, "note": None}], columns={"ceo": "CEO of {company}?"}))
    assert job.rows == [{"company": "42", "public": "true", "size": "1", "note": ""}]
    assert job.columns["ceo"].question == "CEO of {company}?"


def test_llm_may_name_a_profile():
    assert parse_job(spec(llm="openai-cheap")).llm.profile == "openai-cheap"


def test_job_pickles():
    job = parse_job(GOOD)
    assert pickle.loads(pickle.dumps(job)).columns == job.columns


def test_load_job_from_file_keeps_text_and_reads_csv_rows_relative_to_the_spec(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "companies.csv").write_text("company,domain\nAcme,acme.example\n\nBeta,beta.example\n")
    text = yaml.safe_dump(spec(rows=..., rows_from="data/companies.csv"), sort_keys=False)
    path = tmp_path / "job.yaml"
    path.write_text(text)
    job = load_job(path)
    assert job.rows == [{"company": "Acme", "domain": "acme.example"}, {"company": "Beta", "domain": "beta.example"}]
    assert job.spec_yaml == text and job.spec_path == str(path.resolve())


def test_rows_from_parquet(tmp_path):
    pq.write_table(pa.table({"company": ["Acme", "Beta"], "employees": [10, None]}), tmp_path / "rows.parquet")
    job = parse_job(spec(rows=..., rows_from="rows.parquet", columns={"ceo": "CEO of {company}?"}), base_dir=tmp_path)
    assert job.rows == [{"company": "Acme", "employees": "10"}, {"company": "Beta", "employees": ""}]


BAD_SPECS = [
    # (id, changes, expected problem text)
    ("unknown-name", {"columns__ceo_previous__question": "Where did {ce0} work?"},
     "columns.ceo_previous.question: unknown name 'ce0' (known: company, domain, ceo, founded)"),
    ("self-reference", {"columns__ceo__question": "Is {ceo} right?"}, "columns.ceo.question: refers to its own column '{ceo}'"),
    ("cycle", {"columns__ceo__question": "{ceo_previous}?"},
     "columns.ceo.depends_on: dependency cycle: ceo -> ceo_previous -> ceo"),
    ("depends-on-unknown", {"columns__founded__depends_on": ["nope"]},
     "columns.founded.depends_on[0]: unknown column 'nope' (columns: ceo, ceo_previous)"),
    ("depends-on-row-field", {"columns__founded__depends_on": ["domain"]},
     "columns.founded.depends_on[0]: 'domain' is a row field; depends_on lists columns only"),
    ("depends-on-self", {"columns__founded__depends_on": "founded"}, "columns.founded.depends_on[0]: column 'founded' cannot depend on itself"),
    ("duplicate-key", {"rows__1__company": "Acme Robotics"}, "rows[1].company: duplicate key 'Acme Robotics' (first at rows[0])"),
    ("empty-key", {"rows__1__company": "  "}, "rows[1].company: empty key"),
    ("key-not-a-field", {"key": "ticker"}, "key: no row has the field 'ticker' (fields: company, domain)"),
    ("missing-name", {"name": ...}, "name: required"),
    ("bad-type", {"columns__founded__type": "float"}, "columns.founded.type: must be one of text, integer, number, boolean, date, url, list (got 'float')"),
    ("unknown-top-key", {"colums": {}}, "colums: unknown key 'colums' (allowed: name, key, rows, rows_from, columns"),
    ("unknown-column-key", {"columns__ceo__qestion": "x"}, "columns.ceo.qestion: unknown key 'qestion' (allowed: question, type"),
    ("unknown-research-key", {"research__keywords": 3}, "research.keywords: unknown key 'keywords' (allowed: keywords_per_cell"),
    ("research-out-of-range", {"research__keywords_per_cell": 0}, "research.keywords_per_cell: Input should be greater than or equal to 1 (got 0)"),
    ("column-research-bad", {"columns__ceo__research": {"results_per_keyword": "many"}},
     "columns.ceo.research.results_per_keyword: Input should be a valid integer"),
    ("nested-llm-unknown", {"llm__providers__0__temprature": 1}, "llm.providers[0].temprature: unknown key 'temprature'"),
    ("search-kind", {"search__providers__0__kind": "google"}, "search.providers[0].kind: Input should be"),
    ("column-clashes-with-field", {"columns__domain": {"question": "{company}?"}}, "columns.domain: column name clashes with row field 'domain'"),
    ("attribute-access", {"columns__ceo__question": "{company.__class__}"}, "columns.ceo.question: placeholder '{company.__class__}' must be a plain name"),
    ("index-access", {"columns__ceo__question": "{company[0]}"}, "must be a plain name"),
    ("conversion", {"columns__ceo__question": "{company!r}"}, "conversions like '!r' are not allowed"),
    ("positional", {"columns__ceo__question": "{0} {}"}, "positional placeholder '{0}'"),
    ("empty-question", {"columns__ceo__question": " "}, "columns.ceo.question: required: a non-empty question template"),
    ("rows-and-rows-from", {"rows_from": "x.csv"}, "rows: give either 'rows' or 'rows_from', not both"),
    ("no-rows", {"rows": ...}, "rows: required"),
    ("rows-not-list", {"rows": {"company": "Acme"}}, "rows: must be a non-empty list of mappings"),
    ("nested-row-value", {"rows__0__domain": ["a", "b"]}, "rows[0].domain: must be a single value"),
    ("missing-field-in-row", {"rows__1": {"company": "Beta"}, "columns__founded__question": "{domain}?"},
     "rows[1]: missing field 'domain' (used by columns.founded.question)"),
    ("rows-from-missing-file", {"rows": ..., "rows_from": "nowhere.csv"}, "rows_from: file not found"),
    ("rows-from-bad-ext", {"rows": ..., "rows_from": "rows.xlsx"}, "rows_from: file not found"),
    ("no-columns", {"columns": {}}, "columns: must be a non-empty mapping"),
    ("bad-column-name", {"columns__ceo name": {"question": "{company}"}}, "columns.ceo name: column names must be identifiers"),
    ("output-not-text", {"output": 3}, "output: must be a folder path (got 3)"),
]


@pytest.mark.parametrize("changes, expected", [(c, e) for _, c, e in BAD_SPECS], ids=[i for i, _, _ in BAD_SPECS])
def test_bad_spec_reports_field_path_and_message(changes, expected):
    found = problems_of(spec(**changes))
    assert any(expected in p for p in found), found


def test_every_problem_is_reported_at_once():
    found = problems_of(spec(
        name=..., key="ticker", research__keywords_per_cell=99,
        columns__ceo__question="{company!r}", columns__founded__type="year", columns__x={"question": "{nope}"},
    ))
    for path in ("name:", "key:", "research.keywords_per_cell:", "columns.ceo.question:", "columns.founded.type:", "columns.x.question:"):
        assert any(p.startswith(path) for p in found), (path, found)


def test_rows_from_errors_name_the_file_problem(tmp_path):
    (tmp_path / "dupe.csv").write_text("company,company\nA,B\n")
    (tmp_path / "ragged.csv").write_text("company,domain\nA\n")
    (tmp_path / "rows.xlsx").write_text("x")
    (tmp_path / "empty.csv").write_text("company\n")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    cases = {
        "dupe.csv": "duplicate column name 'company'",
        "ragged.csv": "line 2 has 1 fields, the header has 2",
        "rows.xlsx": "unsupported file type '.xlsx'",
        "empty.csv": "no rows in",
        "bad.parquet": "unreadable Parquet",
    }
    for name, expected in cases.items():
        found = problems_of(spec(rows=..., rows_from=name, columns={"ceo": "{company}"}), base_dir=tmp_path)
        assert any(p.startswith("rows_from: ") and expected in p for p in found), (name, found)


def test_many_bad_rows_are_summarised_not_listed_one_by_one():
    rows = [{"company": ""} for _ in range(50)]
    found = problems_of(spec(rows=rows, columns={"ceo": "{company}"}))
    assert len(found) == 6 and "... and 45 more rows like this" in found[-1]


def write(tmp_path, text, name="job.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load_problems(path):
    with pytest.raises(SpecError) as info:
        load_job(path)
    return [str(p) for p in info.value.problems]


def test_duplicate_yaml_keys_are_reported_with_their_line(tmp_path):
    path = write(tmp_path, """\
        name: d
        key: company
        rows: [{company: A}]
        columns:
          ceo: {question: "CEO of {company}?"}
          ceo: {question: "Other {company}?"}
        """)
    assert load_problems(path) == ["columns.ceo: duplicate key 'ceo' (line 6); each key may appear once"]


def test_alias_bomb_is_refused_before_it_expands(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    path = write(tmp_path, "\n".join(lines) + "\nname: bomb\n")
    assert any("alias bomb" in p for p in load_problems(path))


def test_recursive_alias_and_invalid_yaml_and_non_mapping(tmp_path):
    assert any("recursive YAML alias" in p for p in load_problems(write(tmp_path, "a: &a [*a]\n")))
    assert any("invalid YAML (line 2" in p for p in load_problems(write(tmp_path, "name: x\n  key: : [\n")))
    assert any("must be a mapping" in p for p in load_problems(write(tmp_path, "- just\n- a list\n")))
    assert load_problems(tmp_path / "missing.yaml")[0].startswith("file not found")


def test_huge_spec_file_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: x\n" + "#" * (10 * 1024 * 1024 + 10))
    assert any("larger than 10 MB" in p for p in load_problems(path))


def test_spec_error_message_lists_problems_with_source(tmp_path):
    path = write(tmp_path, "name: x\nkey: k\nrows: [{k: a}]\ncolumns: {c: '{zz}'}\n")
    with pytest.raises(SpecError) as info:
        load_job(path)
    assert str(path) in str(info.value)
    assert "columns.c.question: unknown name 'zz' (known: k)" in str(info.value)


def test_fetch_host_and_address_problems_are_reported_by_field():
    from pipelines.errors import SpecError

    raw = {
        "name": "x", "key": "company", "rows": [{"company": "A"}],
        "columns": {"ceo": {"question": "Who runs {company}?"}},
        "fetch": {"resolve": {"a.test": "nope"}, "allow_hosts": ["bad host!"]},
    }
    with pytest.raises(SpecError) as info:
        parse_job(raw)
    paths = {p.path for p in info.value.problems}
    assert "fetch.resolve['a.test']" in paths
    assert any(p.startswith("fetch.allow_hosts[0]") for p in paths)
