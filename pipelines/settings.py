"""Tunable defaults, in one place.

Every knob a job spec can set lives here as a pydantic model with a
description; ``extra="forbid"`` makes a typo in a spec an error instead of a
silently ignored key. The job spec (``pipelines.spec``) composes these models;
per-column overrides reuse ``ResearchSettings`` field by field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Strict", "ResearchSettings", "PdfSettings", "RenderSettings", "FetchSettings", "BudgetSettings", "RunSettings"]


class Strict(BaseModel):
    """Base for every config model: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ResearchSettings(Strict):
    keywords_per_cell: int = Field(4, ge=1, le=20, description="K: search keywords the LLM writes per cell.")
    results_per_keyword: int = Field(10, ge=1, le=50, description="N: search results kept per keyword.")
    max_pages_per_cell: int = Field(12, ge=1, le=200, description="Pages fetched and judged per cell after deduplication.")
    chunks_per_page: int = Field(3, ge=1, le=20, description="Top-ranked chunks of a page the judge sees (the chunk budget).")
    chunk_chars: int = Field(800, ge=200, le=8000, description="Target size of one text chunk, in characters.")
    max_excerpts: int = Field(12, ge=1, le=100, description="Excerpts passed to the summarizer, best first.")


class PdfSettings(Strict):
    """Caps on reading one PDF (``fetch.pdf``); see ``pipelines.pdf``."""

    max_bytes: int = Field(20_000_000, ge=1_000, description="Body size cap for PDFs, in bytes (other pages keep fetch.max_bytes): "
                           "reports and filings are often larger than web pages.")
    max_pages: int = Field(200, ge=1, le=10_000, description="Pages read per PDF; later pages are left out.")
    timeout_s: float = Field(20.0, gt=0, le=600, description="Time for reading one PDF's text, checked between pages.")


class RenderSettings(Strict):
    """The headless-browser tier for pages built by JavaScript (``fetch.render``); see ``pipelines.render``."""

    mode: Literal["auto", "off", "always"] = Field(
        "auto", description="auto: render an HTML page in headless Chromium when static extraction finds (almost) no "
        "text but the page has scripts; always: render every HTML page; off: never.")
    executable_path: str = Field("/usr/bin/chromium", description="Chromium binary (Debian's chromium package); nothing is downloaded.")
    timeout_s: float = Field(15.0, gt=0, le=300, description="Time for one render: load, network settle and DOM read.")
    max_concurrency: int = Field(2, ge=1, le=32, description="Pages one renderer actor renders at once (one browser, a context each).")
    max_bytes: int = Field(10_000_000, ge=10_000, description="Bytes the browser may download for one page, all requests together.")
    js_heap_mb: int = Field(256, ge=32, le=4096, description="V8 heap cap of the browser (--js-flags=--max-old-space-size).")
    max_rss_mb: int = Field(1536, ge=128, le=65_536, description="Resident memory of one browser and its helper processes; "
                            "over it after a render, the browser is closed and a fresh one starts for the next page.")
    shards: int = Field(1, ge=1, le=64, description="Renderer actors (each runs one browser process tree).")


class FetchSettings(Strict):
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (or 'host:port') that may resolve to private, loopback or link-local addresses. "
        "Everything else on such addresses is refused. The local world lists its own hosts here.",
    )
    resolve: dict[str, str] = Field(
        default_factory=dict,
        description="Static name resolution, like curl --resolve: host pattern ('acme.example' or '*.example') -> IP. "
        "Used for intranets, staging hosts and the local world. Resolved addresses still pass the address guard.",
    )
    respect_robots: bool = Field(True, description="Honour robots.txt rules and Crawl-delay.")
    user_agent: str = Field("trawl/0.1 (+https://github.com/trawl/trawl)", description="User-Agent header and robots.txt agent.")
    per_domain_concurrency: int = Field(4, ge=1, le=64, description="Concurrent requests to one domain.")
    per_domain_delay_s: float = Field(0.0, ge=0, le=60, description="Minimum delay between request starts to one domain (Crawl-delay wins if larger).")
    max_bytes: int = Field(5_000_000, ge=1_000, description="Body size cap; larger bodies are cut and the page skipped.")
    max_redirects: int = Field(5, ge=0, le=20, description="Redirect hops followed, each checked by the address guard.")
    connect_timeout_s: float = Field(5.0, gt=0, le=120, description="TCP/TLS connect timeout.")
    total_timeout_s: float = Field(20.0, gt=0, le=600, description="Whole-response timeout, body included.")
    shards: int | None = Field(
        None, ge=1, le=256,
        description="Fetcher actors; domains are hashed onto them. None: one per 2 CPUs of the cluster's live nodes, "
                    "at least 2 (fetching costs about 0.6x extraction's CPU per page, and one actor uses at most one core).",
    )
    max_concurrency: int = Field(256, ge=1, le=10_000, description="Concurrent fetches one fetcher actor accepts.")
    max_connections: int = Field(256, ge=1, le=10_000, description="Open connections per fetcher.")
    max_crawl_delay_s: float = Field(30.0, ge=0, le=3600, description="Cap on a robots.txt Crawl-delay.")
    retry_after_max_s: float = Field(10.0, ge=0, le=600, description="429/503 with Retry-After <= this are retried once; longer ones fail the page.")
    robots_ttl_s: float = Field(3600.0, gt=0, description="Lifetime of a robots.txt verdict.")
    robots_unreachable_ttl_s: float = Field(60.0, ge=0, description="Lifetime of 'robots.txt unreachable (5xx/429/timeout): disallow all'.")
    robots_cache_size: int = Field(4096, ge=1, description="Origins whose robots.txt verdict a fetcher keeps.")
    pdf: PdfSettings = Field(default_factory=PdfSettings, description="Caps on reading PDFs (pages, bytes, time).")
    render: RenderSettings = Field(default_factory=RenderSettings, description="Headless-browser tier for pages built by JavaScript.")
    page_store_ttl_s: float | None = Field(604_800.0, gt=0, description="Page store entries older than this are refetched; None keeps them forever.")
    proxy: str | None = Field(
        None,
        description="Egress proxy for every fetch, e.g. 'http://proxy.corp:3128'. Off by default and never read from the "
        "environment (HTTP_PROXY is ignored). Through a proxy the proxy resolves target names: see docs/real-web.md.",
    )

    @model_validator(mode="after")
    def _hosts_and_addresses_are_valid(self) -> FetchSettings:
        from pipelines.fetch.checks import fetch_settings_problems  # only ipaddress; no cycle at import time

        problems = fetch_settings_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class BudgetSettings(Strict):
    max_total_tokens: int | None = Field(None, ge=1, description="Stop new LLM calls once input+output tokens reach this.")
    max_cost_usd: float | None = Field(None, gt=0, description="Stop new LLM calls once the job's cost reaches this.")


class RunSettings(Strict):
    max_cells_in_flight: int = Field(64, ge=1, le=10_000, description="Cells being researched at once by each research "
                                     "worker (by the driver with research_workers: 0): the backpressure bound.")
    extract_batch_size: int = Field(16, ge=1, le=512, description="Pages per extraction task.")
    cell_timeout_s: float = Field(600.0, gt=0, description="A cell still running after this fails with reason 'timeout'.")
    research_workers: int | None = Field(
        None, ge=0, le=4096,
        description="Research workers: async actors spread over the nodes that run the cell workflow (expand, search, "
                    "judge, summarize) for the cells the driver hands them. None: one per 4 CPUs of each node, at least "
                    "one per node. 0: research runs in the driver process (one process; for small jobs and comparison).",
    )
