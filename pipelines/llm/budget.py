"""Per-job token and cost budgets: once a cap is reached, new calls stop; calls already in flight finish."""

from __future__ import annotations

from collections import defaultdict

from pipelines.errors import BudgetExhaustedError
from pipelines.settings import BudgetSettings

__all__ = ["BudgetTracker"]


class BudgetTracker:
    """Spending per job id, checked before every new (uncached) call."""

    def __init__(self, budget: BudgetSettings | None):
        self.budget = budget or BudgetSettings()
        self._tokens: dict[str, int] = defaultdict(int)
        self._cost: dict[str, float] = defaultdict(float)

    def add(self, job_id: str, tokens: int, cost: float) -> None:
        """Count spending; also used to carry a resumed job's earlier spending over."""
        self._tokens[job_id] += tokens
        self._cost[job_id] += cost

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
        return {job: {"tokens": self._tokens[job], "cost_usd": round(self._cost[job], 6)} for job in self._tokens}
