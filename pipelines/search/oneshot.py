"""One search outside a job, for trying a provider from the command line (`trawl search`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import ValidationError

from pipelines.errors import SpecError, SpecProblem, TrawlError
from pipelines.search.config import SearchSettings
from pipelines.search.gateway import SearchGateway
from pipelines.search.types import SearchHit, SearchRequest
from pipelines.spec_builders import Problems, add_validation_errors
from pipelines.spec_yaml import load_yaml_text

__all__ = ["load_search_settings", "search_once"]


def load_search_settings(path: str | Path) -> SearchSettings:
    """The ``search:`` section of a job spec (or a file holding only that section). Raises SpecError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError([f"cannot read spec: {err}"], source=source) from None
    data, problems = load_yaml_text(text)
    if data is None or problems:
        raise SpecError(problems or [SpecProblem("", "spec is empty")], source=source)
    if not isinstance(data, dict):
        raise SpecError([SpecProblem("", "spec must be a mapping")], source=source)
    prefix, section = ("search", data.get("search")) if "search" in data else ("", data)
    if not isinstance(section, dict):
        raise SpecError([SpecProblem(prefix, "must be a mapping")], source=source)
    try:
        return SearchSettings.model_validate(section)
    except ValidationError as err:
        found = Problems()
        add_validation_errors(err, prefix, SearchSettings, found)
        raise SpecError(list(found), source=source) from None


def search_once(
    settings: SearchSettings, req: SearchRequest, *, cache_dir: str | None = None
) -> tuple[list[SearchHit] | TrawlError, list[dict]]:
    """Run one request through a fresh gateway; returns the hits (or the final error) and every attempt's record."""
    records: list[dict] = []

    async def go() -> list[SearchHit] | TrawlError:
        gateway = SearchGateway(settings, record_sink=records.extend, cache_dir=cache_dir)
        try:
            return await gateway.search(req)
        except TrawlError as err:
            return err
        finally:
            await gateway.aclose()

    return asyncio.run(go()), records
