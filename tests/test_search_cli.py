"""`trawl search`: try a provider from the command line."""

import json

from typer.testing import CliRunner

from cluster.cli import app

OK = {"results": [{"url": "https://acme.example/team", "title": "Acme team", "content": "Jane Doe, CEO", "score": 1.5}]}
runner = CliRunner()


def test_search_against_a_searxng_url(search_replay):
    search_replay.reply(json=OK)
    result = runner.invoke(app, ["search", "acme ceo", "--searxng", search_replay.url, "--count", "3"])
    assert result.exit_code == 0, result.output
    assert "https://acme.example/team" in result.stdout
    assert search_replay.requests[0].query["q"] == "acme ceo"


def test_search_with_a_spec_and_json_output(search_replay, tmp_path):
    search_replay.reply(json=OK)
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "name: t\nsearch:\n  providers:\n"
        f"    - {{name: local, kind: searxng, base_url: '{search_replay.url}'}}\n"
        "    - {name: brave, kind: brave, api_key_env: TRAWL_TEST_NOT_SET}\n"
    )
    result = runner.invoke(app, ["search", "acme", "--spec", str(spec), "--provider", "local", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["hits"][0]["url"] == "https://acme.example/team" and out["error"] is None
    assert out["attempts"][0]["provider"] == "local"


def test_missing_key_is_a_clean_error(tmp_path, monkeypatch):
    monkeypatch.delenv("TRAWL_TEST_NOT_SET", raising=False)
    spec = tmp_path / "job.yaml"
    spec.write_text("search:\n  providers:\n    - {name: brave, kind: brave, api_key_env: TRAWL_TEST_NOT_SET}\n")
    result = runner.invoke(app, ["search", "acme", "--spec", str(spec)])
    assert result.exit_code == 1
    assert "TRAWL_TEST_NOT_SET" in result.output and "Traceback" not in result.output


def test_bad_search_section_lists_problems_by_path(tmp_path):
    spec = tmp_path / "job.yaml"
    spec.write_text("search:\n  providers:\n    - {name: x, kind: bing}\n  cache_tll_s: 5\n")
    result = runner.invoke(app, ["search", "acme", "--spec", str(spec)])
    assert result.exit_code == 1
    assert "search.providers[0].kind" in result.output and "search.cache_tll_s" in result.output


def test_search_table_keeps_urls_whole_at_80_columns_and_csv_parses(search_replay):
    import csv
    import io

    long_url = "https://www.example-company-with-a-long-name.example/about/leadership/executive-team/chief-executive-officer"
    search_replay.reply(json={"results": [{"url": long_url, "title": "Leadership - Example Company", "content": "x"}]})
    narrow = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["search", "acme ceo", "--searxng", search_replay.url])
    assert narrow.exit_code == 0, narrow.output
    assert "…" not in narrow.output and max(len(line) for line in narrow.output.splitlines()) <= 80
    url_cells = [line.split("│")[2].strip() for line in narrow.output.splitlines() if line.startswith("│")]
    assert "".join(url_cells) == long_url  # folded onto several lines, never cut
    search_replay.reply(json={"results": [{"url": long_url, "title": "Leadership", "content": "x"}]})
    as_csv = CliRunner().invoke(app, ["search", "acme ceo", "--searxng", search_replay.url, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["url"] for r in rows] == [long_url] and rows[0]["rank"] == "1"
