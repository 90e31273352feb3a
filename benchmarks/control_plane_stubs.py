"""Zero-latency stand-ins for the outside services, for ``benchmarks/control_plane.py``.

Only the last hop to the outside world is replaced; everything above it runs
as in production (that is the control plane being measured):

- LLM: ``pipelines.llm.client.ProviderClient.complete`` answers in-process
  with a reply trawl's parsers accept (expand: ``<keywords>``, judge:
  ``<excerpts>`` copied from the chunks it was shown, or ``<not_relevant/>``,
  summarize: ``<answer>``/``<citations>``/``<confidence>``), with usage of
  ~4 characters per token and OpenAI-style ``x-ratelimit-*`` headers. The
  gateway above it (cache, limits, budget, records) is real.
- Search: ``pipelines.search.adapter.SearchAdapter.search`` returns
  ``count`` hits at once, from a pool of pages per entity (keywords of one
  cell overlap, as real ones do). The ``SearchGateway`` above it is real.
- Pages: ``stub_pages`` replaces fetch + extraction with one function that
  returns an ``ExtractedPage`` of a few chunks at once (no fetchers, no
  extraction tasks). Page fan-in, the extract store and ``pages`` records
  around it are real.

``install()`` applies all three and is idempotent. It runs in the driver and,
as Ray's ``worker_process_setup_hook``, in every Ray worker process of the
job (https://docs.ray.io/en/latest/ray-core/api/doc/ray.runtime_env.RuntimeEnv.html),
so the gateways and research workers use the stubs wherever they run.
"""

from __future__ import annotations

import html
import logging
import re
import zlib
from datetime import datetime, timezone

__all__ = ["install", "stub_pages", "llm_reply_text", "search_hits", "page_text", "STUB_MODEL_PREFIX", "ceo_of"]

logger = logging.getLogger(__name__)

# gen_ai.response.model of every stubbed reply: the benchmark checks its calls were answered here.
STUB_MODEL_PREFIX = "control-plane-stub:"
# Pages per entity the stub search draws hits from (4 keywords x 10 hits overlap within it, as real results do).
PAGES_PER_ENTITY = 24
# One page in RELEVANT_EVERY is about the question (a share of pages the judge finds relevant, ~4 of 12).
RELEVANT_EVERY = 3
CHUNKS_PER_PAGE = 8  # ~6 KB of main text: a mid-sized company page after extraction
CHUNK_CHARS = 800  # research.chunk_chars' default
# What OpenAI sends on every answer (https://platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers),
# far from exhausted: the gateway's header handling runs, and never pauses.
RATE_LIMIT_HEADERS = {
    "x-ratelimit-limit-requests": "30000", "x-ratelimit-remaining-requests": "29999", "x-ratelimit-reset-requests": "2ms",
    "x-ratelimit-limit-tokens": "150000000", "x-ratelimit-remaining-tokens": "149990000", "x-ratelimit-reset-tokens": "0s",
}
_FIRST_NAMES = ("Aino", "Marta", "Kenji", "Lena", "Omar", "Priya", "Tomas", "Chloe", "Diego", "Ingrid")
_LAST_NAMES = ("Virtanen", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Novak", "Haddad", "Silva", "Brennan", "Kowalski")
_VARIANTS = ("", "chief executive", "leadership team", "management board", "annual report", "press release")
_FILLER = ("{company} builds industrial sensors and sells them in {n} countries. Its engineering teams work from three sites, "
           "and its products are certified for harsh environments. The company publishes its quarterly results online. ")

_installed = False


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "entity"


def ceo_of(company: str) -> str:
    """The stub world's CEO of ``company`` (deterministic)."""
    h = zlib.crc32(company.encode())
    return f"{_FIRST_NAMES[h % len(_FIRST_NAMES)]} {_LAST_NAMES[(h // 7) % len(_LAST_NAMES)]}"


def _page_number(url: str) -> int:
    match = re.search(r"/p(\d+)$", url)
    return int(match.group(1)) if match else 0


def _company_of_host(url: str) -> str:
    match = re.match(r"https?://([^/.]+)\.example", url)
    return (match.group(1) if match else "entity").replace("-", " ").title()


def page_text(url: str, chunks: int = CHUNKS_PER_PAGE) -> tuple[str, str]:
    """(title, main text) of a stub page: paragraphs of about ``CHUNK_CHARS``; relevant pages name the CEO first."""
    company, n = _company_of_host(url), _page_number(url)
    paragraphs = []
    if n % RELEVANT_EVERY == 0:
        paragraphs.append(f"The chief executive of {company} is {ceo_of(company)}. " + _FILLER.format(company=company, n=n + 3))
    while len(paragraphs) < chunks:
        i = len(paragraphs)
        paragraphs.append((_FILLER.format(company=company, n=n + i + 3) * 3)[: CHUNK_CHARS - 40] + f" Section {i} of page {n}.")
    return f"{company} - page {n}", "\n".join(paragraphs)


def search_hits(query: str, row_key: str, count: int, provider: str):
    """``count`` hits for ``query``: pages of the row's entity, starting at an offset the query chooses."""
    from pipelines.search.types import SearchHit

    slug = _slug(row_key or query)
    offset = zlib.crc32(query.encode()) % PAGES_PER_ENTITY
    hits = []
    for rank in range(1, count + 1):
        n = (offset + rank) % PAGES_PER_ENTITY
        hits.append(SearchHit(url=f"https://{slug}.example/p{n}", title=f"{row_key} - page {n}",
                              snippet=f"{row_key} page {n}: company facts, leadership and news. " * 2, rank=rank,
                              provider=provider, score=1.0 / rank))
    return hits


# --- LLM ----------------------------------------------------------------------------------------------------------

def _tag(text: str, tag: str) -> str:
    match = re.search(rf"<{tag}\b[^>]*>(.*?)</{tag}>", text, re.S)
    return html.unescape(match.group(1).strip()) if match else ""


def _task_message(messages: list[dict]) -> str:
    for message in reversed(messages):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str) and "<task>" in content:
            return content
    return ""


def _expand(prompt: str) -> str:
    question = _tag(prompt, "question").rstrip("?")
    context = _tag(prompt, "context").splitlines()
    entity = context[0].split(": ", 1)[-1] if context else ""
    count = int(_tag(prompt, "count") or 4)
    queries = [" ".join(p for p in (entity, question, _VARIANTS[i % len(_VARIANTS)], str(i // len(_VARIANTS) or "")) if p)
               for i in range(count)]
    return "<keywords>\n" + "\n".join(f"<k>{html.escape(q)}</k>" for q in queries) + "\n</keywords>"


def _judge(prompt: str) -> str:
    url = html.unescape(re.search(r'<page [^>]*url="([^"]*)"', prompt).group(1)) if "<page " in prompt else ""
    chunks = [html.unescape(c) for c in re.findall(r"<chunk>(.*?)</chunk>", prompt, re.S)]
    about = next((c for c in chunks if c.startswith("The chief executive")), None)
    if _page_number(url) % RELEVANT_EVERY or about is None:
        return "<not_relevant/>"
    sentence = about.split(". ")[0].rstrip(".") + "."
    return f"<excerpts>\n<excerpt>{html.escape(sentence)}</excerpt>\n</excerpts>"


def _summarize(prompt: str) -> str:
    excerpts = [html.unescape(e) for e in re.findall(r"<excerpt>(.*?)</excerpt>", prompt, re.S)]
    answer = next((m.group(1) for e in excerpts if (m := re.search(r" is ([^.]+)\.", e))), None)
    if answer is None:
        return "<answer>unknown</answer><citations></citations><confidence>0</confidence>"
    ids = re.findall(r'<source id="([^"]+)"', prompt)[:2]
    return f"<answer>{html.escape(answer)}</answer>\n<citations>{' '.join(ids)}</citations>\n<confidence>0.8</confidence>"


def llm_reply_text(messages: list[dict]) -> str:
    """The stub model's reply to trawl's ``messages`` (expand, judge or summarize, read from ``<task>``)."""
    prompt = _task_message(messages)
    task = _tag(prompt, "task")
    if task == "expand":
        return _expand(prompt)
    if task == "judge":
        return _judge(prompt)
    if task == "summarize":
        return _summarize(prompt)
    return "<answer>unknown</answer><citations></citations><confidence>0</confidence>"


async def _stub_complete(self, body: dict):
    """``ProviderClient.complete`` without the network: the reply at once, usage at ~4 characters per token."""
    from pipelines.llm.client import Reply

    messages = body.get("messages") or []
    text = llm_reply_text(messages)
    self._on_headers(dict(RATE_LIMIT_HEADERS))
    prompt_chars = sum(len(m.get("content") or "") for m in messages if isinstance(m.get("content"), str))
    return Reply(text=text, response_model=STUB_MODEL_PREFIX + self.provider.model, input_tokens=max(1, prompt_chars // 4),
                 output_tokens=max(1, len(text) // 4), finish_reason="stop")


async def _stub_search(self, session, req):
    """``SearchAdapter.search`` without the network: ``req.count`` hits at once."""
    return search_hits(req.query, req.row_key, req.count, self.name)


# --- pages: THE patch point of fetch + extraction --------------------------------------------------------------------

async def _stub_page(self, url: str):
    from pipelines.extract import ExtractedPage, chunk_text
    from pipelines.status import PageStatus

    title, text = page_text(url)
    return ExtractedPage(url=url, final_url=url, status=PageStatus.OK, http_status=200, content_type="text/html",
                         bytes=len(text) * 3, fetched_at=datetime.now(timezone.utc), fetcher="control-plane-stub",
                         title=title, text=text, chunks=chunk_text(text, CHUNK_CHARS))


def stub_pages() -> None:
    """Replace fetch + extraction of one page (today: ``RayServices._fetch_and_extract_remote``) with ``_stub_page``.

    The one place to change when the page path moves (e.g. into the research workers): patch whatever
    turns a URL into an ``ExtractedPage`` after the page fan-in and extract-store lookup.
    """
    from actors.services import RayServices

    RayServices._fetch_and_extract_remote = _stub_page  # type: ignore[method-assign]


def install() -> None:
    """Install the three stubs in this process (idempotent); Ray's ``worker_process_setup_hook`` calls it."""
    global _installed
    if _installed:
        return
    from pipelines.llm.client import ProviderClient
    from pipelines.search.adapter import SearchAdapter

    ProviderClient.complete = _stub_complete  # type: ignore[method-assign]
    SearchAdapter.search = _stub_search  # type: ignore[method-assign]
    stub_pages()
    _installed = True
    logger.info("control-plane stubs installed (LLM client, search adapter, pages)")
