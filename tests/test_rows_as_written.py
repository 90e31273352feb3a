"""Row values stay as the user wrote them: YAML 1.1 booleans, octals, floats, dates and
digit-grouped numbers are text in inline rows; CSV and Parquet string columns are not re-typed."""

import textwrap

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.spec import load_job

HEAD = """\
name: rows-as-written
key: code
columns:
  capital: {question: "What is the capital of {code}?", type: integer}
research: {keywords_per_cell: 2}
llm: {providers: [{name: l, base_url: "http://127.0.0.1:1/v1", model: m}]}
search: {providers: [{name: s, kind: searxng, base_url: "http://127.0.0.1:1"}]}
"""

# Every scalar YAML 1.1 (PyYAML) would type implicitly: https://yaml.org/type/bool.html, /int.html,
# /float.html, /timestamp.html. Written plain, each must reach the question exactly as typed.
AS_WRITTEN = ["NO", "no", "No", "on", "OFF", "yes", "Y", "n", "true", "False", "0123", "0x1F", "0o17", "1e3",
              "1_000", "1.50", "-0", ".inf", ".NaN", "2024-01-01", "2001-12-14t21:59:43.10-05:00", "12:30:00",
              "190:20:30", "+12", "007"]


def load(tmp_path, rows_yaml, extra=""):
    path = tmp_path / "job.yaml"
    path.write_text(HEAD + textwrap.dedent(rows_yaml) + extra)
    return load_job(path)


@pytest.mark.parametrize("written", AS_WRITTEN)
def test_a_plain_yaml_row_value_stays_as_written(tmp_path, written):
    job = load(tmp_path, f"rows:\n  - {{code: {written}}}\n  - code: {written}x\n")
    assert job.rows == [{"code": written}, {"code": f"{written}x"}]


def test_quoted_block_aliased_and_null_row_values(tmp_path):
    job = load(tmp_path, """\
        rows:
          - {code: &c NO, note: "on", plain: ~}
          - code: SE
            note: *c
            plain: |
              0123
          - {code: DK, note: null, plain: }
        """)
    assert job.rows == [{"code": "NO", "note": "on", "plain": ""},
                        {"code": "SE", "note": "NO", "plain": "0123"},
                        {"code": "DK", "note": "", "plain": ""}]


def test_field_names_stay_as_written_and_the_spec_fields_stay_typed(tmp_path):
    job = load(tmp_path, "rows:\n  - {code: NO, yes: on}\n", "budget: {max_total_tokens: 1_000}\nrun: {max_cells_in_flight: 0x10}\n")
    assert job.rows == [{"code": "NO", "yes": "on"}]
    assert job.research.keywords_per_cell == 2 and job.columns["capital"].type == "integer"
    assert job.run.max_cells_in_flight == 16 and job.budget.max_total_tokens == 1000


def test_csv_rows_keep_their_strings(tmp_path):
    (tmp_path / "rows.csv").write_text("code,n,d,b\nNO,0123,2024-01-01,on\nSE,1e3,1_000,FALSE\n")
    job = load(tmp_path, "rows_from: rows.csv\n")
    assert job.rows == [{"code": "NO", "n": "0123", "d": "2024-01-01", "b": "on"},
                        {"code": "SE", "n": "1e3", "d": "1_000", "b": "FALSE"}]


def test_parquet_string_columns_keep_their_strings_and_typed_columns_read_plainly(tmp_path):
    table = pa.table({"code": ["NO", "0123"], "raw": pa.array([b"on", b"1e3"], pa.binary()),
                      "n": pa.array([7, None], pa.int64())})
    pq.write_table(table, tmp_path / "rows.parquet")
    job = load(tmp_path, "rows_from: rows.parquet\n")
    assert job.rows == [{"code": "NO", "raw": "on", "n": "7"}, {"code": "0123", "raw": "1e3", "n": ""}]
