"""Per-job token and cost budgets: once a cap is reached, new calls stop; calls already in flight finish.

A cost cap needs a price for every provider that may be called: with a cost
cap set and a provider whose model has no known price (neither configured nor
in genai-prices), the gateway refuses to start (``unpriced_providers``), since
the cap could not be enforced. Without a cost cap, unpriced calls are counted
(``unpriced_calls`` in ``spent()``) and their cost stays NULL.
"""

from __future__ import annotations

from collections import defaultdict

from pipelines.errors import BudgetExhaustedError, SpecError, SpecProblem
from pipelines.llm.config import ProviderConfig
from pipelines.llm.prices import rates_for
from pipelines.settings import BudgetSettings

__all__ = ["BudgetTracker", "unpriced_providers", "check_cost_cap_priced"]


def unpriced_providers(providers: list[ProviderConfig]) -> list[ProviderConfig]:
    """The providers whose model has no known price (configured, genai-prices or free)."""
    return [p for p in providers if rates_for(p) is None]


def check_cost_cap_priced(providers: list[ProviderConfig], budget: BudgetSettings | None) -> None:
    """``SpecError`` naming every unpriced provider when ``budget.max_cost_usd`` is set."""
    if budget is None or budget.max_cost_usd is None:
        return
    problems = [
        SpecProblem(f"llm.providers.{p.name}", f"no price known for model {p.model!r}, so budget.max_cost_usd cannot be "
                    "enforced: set price_input_per_m and price_output_per_m (0 for a self-hosted model) or price_provider")
        for p in unpriced_providers(providers)
    ]
    if problems:
        raise SpecError(problems)


class BudgetTracker:
    """Spending per job id, checked before every new (uncached) call."""

    def __init__(self, budget: BudgetSettings | None):
        self.budget = budget or BudgetSettings()
        self._tokens: dict[str, int] = defaultdict(int)
        self._cost: dict[str, float] = defaultdict(float)
        self._unpriced: dict[str, int] = defaultdict(int)

    def add(self, job_id: str, tokens: int, cost: float | None) -> None:
        """Count spending; also used to carry a resumed job's earlier spending over. ``cost=None``: price unknown."""
        self._tokens[job_id] += tokens
        if cost is None:
            self._unpriced[job_id] += 1
        else:
            self._cost[job_id] += cost

    def set_total(self, job_id: str, tokens: int, cost: float) -> None:
        """Replace the job's totals with what the job as a whole spent (``pipelines.quota``: other workers' calls)."""
        self._tokens[job_id] = max(self._tokens[job_id], tokens)
        self._cost[job_id] = max(self._cost[job_id], cost)

    def check(self, job_id: str) -> None:
        """``BudgetExhaustedError`` if the job may not start another call."""
        cap_tokens, cap_cost = self.budget.max_total_tokens, self.budget.max_cost_usd
        if cap_tokens is not None and self._tokens[job_id] >= cap_tokens:
            raise BudgetExhaustedError(
                f"job {job_id or '(none)'}: token budget reached ({self._tokens[job_id]} of {cap_tokens} tokens used)",
                reason="budget_tokens",
            )
        if cap_cost is not None and self._cost[job_id] >= cap_cost:
            raise BudgetExhaustedError(
                f"job {job_id or '(none)'}: cost budget reached (${self._cost[job_id]:.4f} of ${cap_cost:.4f} spent)",
                reason="budget_cost",
            )

    def spent(self) -> dict[str, dict[str, float]]:
        return {
            job: {"tokens": self._tokens[job], "cost_usd": round(self._cost[job], 6), "unpriced_calls": self._unpriced[job]}
            for job in self._tokens
        }
