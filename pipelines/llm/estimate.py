"""The bill before the run: LLM calls, tokens, cost and the shortest duration a job's rate limits allow.

Per stage (expand, judge, summarize) and column, a research cell makes:

- expand: 1 call; judge: 1 call per page, at most ``max_pages_per_cell``
  (the planned fan-out, so an upper bound); summarize: 1 call.
- Input tokens: the real prompt (``pipelines.prompts``) built for the first
  row with the planned sizes filled in (``chunks_per_page`` chunks of
  ``chunk_chars`` characters for the judge; ``max_excerpts`` excerpts for the
  summarizer), at ~4 characters per token — the gateway's own estimate.
- Output tokens: the named planning figures below, capped by the provider's
  ``max_output_tokens``.

Once calls of the job are recorded in the output folder (``llm_calls``; all
jobs there when this one has none), the recorded averages replace the
planned figures: calls per cell (attempts and retries included) and input,
output, cached and reasoning tokens per successful call. Repair retries and
cache hits are not planned: the estimate is for a run that asks everything.

Cost: each stage at its chain's first provider (``cost_usd``) and at its
priciest provider (``max_cost_usd``: every call fell back). Prices come from
``pipelines.llm.prices``; a stage whose provider has no known price has a cost
of ``None``.

Shortest duration: every stage's calls and tokens go to its first provider;
a provider's rpm/tpm (sliding 60 s windows, ``pipelines.llm.limits``) bound
its share to ``60 * max(calls / rpm, tokens / tpm)`` seconds; providers work
in parallel, so the job takes at least the largest of those. A provider with
neither limit does not bound it (``None``).

The work is O(columns), not O(cells): a 10,000 x 20 job costs 20 prompt builds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from pipelines import prompts
from pipelines.llm.config import STAGES, LLMSettings, ProviderConfig
from pipelines.llm.prices import PRICES, Rates
from pipelines.settings import BudgetSettings

__all__ = ["StageRecord", "StageEstimate", "ProviderTime", "Estimate", "estimate_job", "CHARS_PER_TOKEN"]

CHARS_PER_TOKEN = 4  # as pipelines.llm.gateway's admission estimate
# Planning figures (tokens a reply takes), used until the job's own averages are recorded.
PLANNED_KEYWORD_TOKENS = 12  # one search query inside <k>...</k>
PLANNED_JUDGE_OUTPUT_TOKENS = 150  # a few copied sentences, or <not_relevant/>
PLANNED_SUMMARY_OUTPUT_TOKENS = 80  # answer, citations, confidence
PLANNED_EXCERPT_CHARS = 300  # one sentence or two copied by the judge
PLANNED_ANSWER_CHARS = 40  # an upstream answer filled into a dependent question


@dataclass(frozen=True)
class StageRecord:
    """Recorded averages of one stage: calls per cell and tokens per successful call."""

    calls_per_cell: float
    input_tokens: float
    output_tokens: float
    cached_input_tokens: float = 0.0
    reasoning_tokens: float = 0.0
    calls: int = 0  # how many recorded calls the averages come from


@dataclass(frozen=True)
class StageEstimate:
    stage: str
    calls: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    provider: str
    model: str
    cost_usd: float | None
    max_cost_usd: float | None
    basis: str  # "planned" or "recorded (N calls)"


@dataclass(frozen=True)
class ProviderTime:
    provider: str
    calls: int
    tokens: int
    rpm: int | None
    tpm: int | None
    min_seconds: float | None  # None: neither rpm nor tpm configured


@dataclass(frozen=True)
class Estimate:
    """What a job's LLM work adds up to; ``to_dict()`` for JSON."""

    rows: int
    cells: int
    stages: list[StageEstimate]
    providers: list[ProviderTime]
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    max_cost_usd: float | None
    min_duration_s: float | None
    unpriced: list[str] = field(default_factory=list)  # provider names with no known price
    budget_problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def estimate_job(job, settings: LLMSettings | None = None, recorded: dict[str, StageRecord] | None = None) -> Estimate:
    """The estimate for ``job`` (a ``pipelines.spec.Job``) with ``settings`` (default: ``job.llm``, profile resolved).

    ``recorded``: stage -> averages from ``recorded_stage_averages``; stages not in it are planned.
    """
    settings = settings or job.llm
    recorded = recorded or {}
    rows = len(job.rows)
    sample = {k: str(v) for k, v in job.rows[0].items()} if rows else {}
    per_stage = {stage: _StageTotals() for stage in STAGES}
    used: set[str] = set()  # stages some column's kind calls
    for name, column in job.columns.items():
        planned = _planned_column(job, name, column, sample)
        used.update(planned)
        for stage in STAGES:
            if stage not in planned:  # this column's kind makes no call at this stage
                continue
            calls_per_cell, inp, out, cached = _stage_figures(stage, planned, recorded.get(stage), settings)
            per_stage[stage].add(rows * calls_per_cell, inp, out, cached)
    stages = [_stage_estimate(stage, per_stage[stage], settings, recorded.get(stage)) for stage in STAGES if stage in used]
    return _total(job, rows, stages, settings)


def _planned_column(job, name: str, column, sample: dict[str, str]) -> dict[str, tuple[float, float, float]]:
    """stage -> (calls per cell, input tokens, output tokens per call) for one column, from its real prompts."""
    r = column.research
    answers = {dep: "x" * PLANNED_ANSWER_CHARS for dep in column.depends_on}
    context = {**sample, **answers}
    try:
        question = job.render_question(name, sample, answers)
    except Exception:  # noqa: BLE001 - an estimate must not fail on a template detail: the raw question is close
        question = column.question
    chunk = "x" * r.chunk_chars
    page = prompts.PageForJudge("P", "https://example.com/a-typical/page-path", "A typical page title", [chunk] * r.chunks_per_page)
    excerpts = ["x" * PLANNED_EXCERPT_CHARS] * r.max_excerpts
    sources = [prompts.SourceForSummary("S1", page.url, page.title, excerpts)]
    judge = _tokens(prompts.judge_messages(question, context, page))
    summarize = (1, _tokens(prompts.summarize_messages(question, context, column.type, sources, column.instructions)),
                 PLANNED_SUMMARY_OUTPUT_TOKENS)
    kind = getattr(column, "kind", "research")
    if kind == "page":  # no search: one judge call per URL template, then the summary
        return {"judge": (len(column.task.config), judge, PLANNED_JUDGE_OUTPUT_TOKENS), "summarize": summarize}
    if kind == "llm":  # one transform call over the row; its prompt is about the size of a summary's
        from pipelines.tasks.llm_kind import transform_messages

        choices = tuple(column.task.config or ()) if column.task is not None else ()
        msgs = transform_messages(question, context, column.type, choices, column.instructions)
        return {"transform": (1, _tokens(msgs), PLANNED_SUMMARY_OUTPUT_TOKENS)}
    if kind != "research":  # rule and python columns make no LLM call
        return {}
    return {
        "expand": (1, _tokens(prompts.expand_messages(question, context, r.keywords_per_cell)),
                   r.keywords_per_cell * PLANNED_KEYWORD_TOKENS),
        "judge": (r.max_pages_per_cell, judge, PLANNED_JUDGE_OUTPUT_TOKENS),
        "summarize": summarize,
    }


def _tokens(messages: list[dict]) -> int:
    return len(json.dumps(messages, ensure_ascii=False)) // CHARS_PER_TOKEN


def _stage_figures(stage: str, planned: dict, record: StageRecord | None, settings: LLMSettings) -> tuple[float, float, float, float]:
    if record is not None:
        return record.calls_per_cell, record.input_tokens, record.output_tokens, record.cached_input_tokens
    calls, inp, out = planned[stage]
    chain = settings.chain_for(stage)
    cap = chain[0].max_output_tokens if chain else out
    return calls, inp, min(out, cap), 0.0


@dataclass
class _StageTotals:
    """One stage summed over the job's columns: calls, and input, output and cached input tokens over all calls."""

    calls: float = 0
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    cached_input_tokens: float = 0.0

    def add(self, calls: float, inp: float, out: float, cached: float) -> None:
        """``calls`` more calls of ``inp``/``out``/``cached`` tokens each."""
        self.calls += calls
        self.input_tokens += calls * inp
        self.output_tokens += calls * out
        self.cached_input_tokens += calls * cached


def _stage_estimate(stage: str, totals: _StageTotals, settings: LLMSettings, record: StageRecord | None) -> StageEstimate:
    calls, inp, out, cached = totals.calls, totals.input_tokens, totals.output_tokens, totals.cached_input_tokens
    chain = settings.chain_for(stage)
    costs = [_cost(PRICES.rates(p), inp, out, cached) for p in chain]
    priced = [c for c in costs if c is not None]
    first = chain[0] if chain else None
    return StageEstimate(
        stage=stage, calls=round(calls), input_tokens=round(inp), output_tokens=round(out), cached_input_tokens=round(cached),
        provider=first.name if first else "", model=first.model if first else "",
        cost_usd=costs[0] if costs else None,
        max_cost_usd=max(priced) if costs and len(priced) == len(costs) else None,
        basis=f"recorded ({record.calls} calls)" if record is not None else "planned",
    )


def _cost(rates: Rates | None, inp: float, out: float, cached: float) -> float | None:
    if rates is None:
        return None
    return ((inp - cached) * rates.input + cached * rates.cached_input + out * rates.output) / 1_000_000


def _total(job, rows: int, stages: list[StageEstimate], settings: LLMSettings) -> Estimate:
    providers = _provider_times(stages, settings)
    bounded = [p.min_seconds for p in providers if p.min_seconds is not None]
    costs = [s.cost_usd for s in stages if s.calls]
    max_costs = [s.max_cost_usd for s in stages if s.calls]
    seen = {p.name: p for stage in STAGES for p in settings.chain_for(stage)}
    unpriced = [name for name, p in seen.items() if PRICES.rates(p) is None]
    est = Estimate(
        rows=rows, cells=rows * len(job.columns), stages=stages, providers=providers,
        calls=sum(s.calls for s in stages), input_tokens=sum(s.input_tokens for s in stages),
        output_tokens=sum(s.output_tokens for s in stages),
        cost_usd=_sum_or_none(costs), max_cost_usd=_sum_or_none(max_costs),
        min_duration_s=max(bounded) if bounded else None, unpriced=unpriced,
    )
    est.budget_problems.extend(budget_problems(est, job.budget))
    return est


def _sum_or_none(costs: list[float | None]) -> float | None:
    """The sum, or None when any part is unknown (an empty list sums to 0)."""
    known = [c for c in costs if c is not None]
    return sum(known) if len(known) == len(costs) else None


def _provider_times(stages: list[StageEstimate], settings: LLMSettings) -> list[ProviderTime]:
    by_name: dict[str, ProviderConfig] = {p.name: p for p in settings.providers}
    load: dict[str, list[int]] = {}
    for s in stages:
        if s.provider:
            acc = load.setdefault(s.provider, [0, 0])
            acc[0] += s.calls
            acc[1] += s.input_tokens + s.output_tokens
    out = []
    for name, (calls, tokens) in load.items():
        p = by_name[name]
        bounds = ([calls / p.rpm] if p.rpm else []) + ([tokens / p.tpm] if p.tpm else [])
        out.append(ProviderTime(name, calls, tokens, p.rpm, p.tpm, 60.0 * max(bounds) if bounds else None))
    return out


def budget_problems(est: Estimate, budget: BudgetSettings) -> list[str]:
    """Each way the estimate already breaks ``budget`` (the job would stop part-way), as a sentence."""
    problems = []
    tokens = est.input_tokens + est.output_tokens
    if budget.max_total_tokens is not None and tokens > budget.max_total_tokens:
        problems.append(f"estimated {tokens:,} tokens exceed budget.max_total_tokens {budget.max_total_tokens:,}")
    if budget.max_cost_usd is not None:
        if est.unpriced:
            problems.append(f"budget.max_cost_usd is set but no price is known for {', '.join(est.unpriced)}: "
                            "the job will refuse to start (set price_input_per_m/price_output_per_m)")
        if est.cost_usd is not None and est.cost_usd > budget.max_cost_usd:
            problems.append(f"estimated cost ${est.cost_usd:,.2f} exceeds budget.max_cost_usd ${budget.max_cost_usd:,.2f}")
    return problems
