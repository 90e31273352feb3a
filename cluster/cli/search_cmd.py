"""`trawl search`: try a search provider with one query, outside any job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from cluster.cli.common import JsonOption, fail, stderr
from cluster.cli.tables import FORMAT_OPTION, Col, TableFormat, emit
from pipelines.errors import SpecError, TrawlError

console = Console()

HIT_COLUMNS = [
    Col("rank", "#", priority=0, right=True),
    Col("url", "url", priority=1, fold=True),
    Col("title", "title", priority=2, fold=True),
    Col("provider", "provider", priority=3),
    Col("score", "score", lambda v: "" if v is None else f"{v:.3g}", 4, right=True),
]

def search(
    query: str = typer.Argument(..., help="What to search for."),
    spec: Optional[Path] = typer.Option(None, "--spec", help="Job spec (or a file with only a search: section)."),
    searxng: Optional[str] = typer.Option(None, "--searxng", help="SearXNG instance root, instead of --spec."),
    provider: Optional[str] = typer.Option(None, "--provider", help="Use only this provider of the spec (by name)."),
    count: int = typer.Option(10, "--count", "-n", min=1, max=100, help="Results wanted."),
    language: Optional[str] = typer.Option(None, "--language", help="Result language, e.g. en."),
    region: Optional[str] = typer.Option(None, "--region", help="Result region, e.g. us."),
    time_range: Optional[str] = typer.Option(None, "--time-range", help="day, week, month or year."),
    site: list[str] = typer.Option([], "--site", help="Only results on this domain (repeatable)."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="Use (and fill) the search cache in this folder."),
    as_json: JsonOption = False,
    fmt: TableFormat = FORMAT_OPTION,
) -> None:
    """Send one query through the search gateway and print the results.

    Providers come from the `search:` section of a job spec (--spec) or from
    --searxng URL. Keys are read from the environment variables the spec names.

    Example: trawl search "acme robotics ceo" --spec job.yaml
    Example: trawl search "acme robotics ceo" --searxng http://127.0.0.1:8888 --count 5
    Example: trawl search "acme ceo" --spec job.yaml --provider brave --json
    Example: trawl search "acme ceo" --searxng http://127.0.0.1:8888 --format csv
    """
    from pipelines.search.oneshot import search_once
    from pipelines.search.types import SearchRequest

    if time_range not in (None, "day", "week", "month", "year"):
        fail("--time-range must be day, week, month or year")
    settings = _settings(spec, searxng, provider)
    settings = settings.model_copy(update={"cache": cache_dir is not None and settings.cache})
    req = SearchRequest(query=query, count=count, language=language, region=region, time_range=time_range, include_domains=tuple(site))
    outcome, records = search_once(settings, req, cache_dir=cache_dir)
    _report(outcome, records, as_json, fmt)


COMMANDS = {"search": search}


def _settings(spec: Path | None, searxng: str | None, provider: str | None):
    """The search settings of ``--spec`` or ``--searxng``, narrowed to ``--provider``; exits 1 on a bad choice."""
    from pipelines.search.config import SearchProviderConfig, SearchSettings
    from pipelines.search.oneshot import load_search_settings

    if (spec is None) == (searxng is None):
        fail("give exactly one of --spec or --searxng")
    try:
        if spec is not None:
            settings = load_search_settings(spec)
        else:
            settings = SearchSettings(providers=[SearchProviderConfig(name="searxng", kind="searxng", base_url=searxng)])
    except (SpecError, ValueError) as exc:
        fail(exc)
    if provider is not None:
        chosen = [p for p in settings.providers if p.name == provider]
        if not chosen:
            fail(f"no provider named {provider!r} (known: {', '.join(p.name for p in settings.providers) or 'none'})")
        settings = settings.model_copy(update={"providers": chosen})
    return settings


def _report(outcome, records: list[dict], as_json: bool, fmt: TableFormat) -> None:
    """Hits (or the error) and every attempt, as JSON or as text; exit 1 when the search failed."""
    failed = isinstance(outcome, TrawlError)
    as_json = as_json or fmt == TableFormat.json
    if as_json:
        hits = [] if failed else [hit.__dict__ for hit in outcome]
        error = {"reason": outcome.reason, "message": str(outcome)} if failed else None
        console.print_json(json.dumps({"hits": hits, "error": error, "attempts": records}, default=str))
        if failed:
            raise typer.Exit(1)
        return
    _print_attempts(records)
    if failed:
        fail(f"{outcome.reason}: {outcome}")
    _print_hits(outcome, fmt)


def _print_hits(hits, fmt: TableFormat) -> None:
    if not hits and fmt == TableFormat.table:
        console.print("no results")
        return
    emit([{c.key: getattr(hit, c.key) for c in HIT_COLUMNS} for hit in hits], HIT_COLUMNS, fmt)


def _print_attempts(records) -> None:
    for r in records:
        outcome = "cache hit" if r["cache_hit"] else (r["error.type"] or "ok")
        results = "" if r["results"] is None else f", {r['results']} results"
        stderr.print(f"attempt {r['attempt']}: {r['provider']} {outcome} in {r['duration_s'] * 1000:.0f} ms{results}")
