"""What one LLM call costs, in USD: the provider's configured prices, else genai-prices' bundled table.

Resolution, per provider (``ProviderConfig``):

1. ``price_input_per_m`` or ``price_output_per_m`` set: those prices (the
   unset one is 0); cached input tokens at ``price_cached_input_per_m``
   (default: the input price, i.e. no discount assumed), reasoning tokens at
   ``price_reasoning_per_m`` (default: the output price — OpenAI bills
   reasoning tokens as output tokens,
   https://platform.openai.com/docs/guides/reasoning#how-reasoning-works).
2. Otherwise the model is looked up in genai-prices
   (https://github.com/pydantic/genai-prices), in the data the installed
   package ships — never downloaded at run time — under ``price_provider`` or
   the provider that ``base_url`` matches. It prices cache reads and writes,
   reasoning tokens and tiered prices the way each provider publishes them.
   A model with flat prices is priced from per-token rates read off the
   library once (0.005 ms a call instead of ~0.4 ms in the library's own
   calculation; the same result, ``tests/test_llm_prices.py``); a model with
   price tiers goes through the library for every call.
3. Neither: the cost is unknown. ``cost`` returns ``None`` (stored as NULL,
   never as 0) and logs one warning per provider and model in this process.

trawl's own local engine (``trawl-extractive``) costs nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass
from decimal import Decimal

from pipelines.llm.config import ProviderConfig
from pipelines.llm.usage import UsageDetails

__all__ = ["Rates", "PriceBook", "PRICES", "add_costs", "rates_for"]

log = logging.getLogger(__name__)

PER_M = 1_000_000
# Models whose price is known to be 0 without a lookup: the local world's engine (pipelines.world.extractive).
FREE_MODELS = frozenset({"trawl-extractive"})
# Token count used to read per-million rates off genai-prices (small enough to stay in every model's first price tier).
_PROBE_TOKENS = 1000


@dataclass(frozen=True)
class _Found:
    """How to ask genai-prices about one provider's model."""

    model: str
    provider_id: str | None
    api_url: str | None
    source: str
    linear: Rates | None = None  # flat per-token rates when the model has no price tiers: priced without the library


@dataclass(frozen=True)
class Rates:
    """USD per million tokens of each kind, and where they came from (``config``, ``genai-prices:<provider>/<model>``, ``free``)."""

    input: float
    output: float
    cached_input: float
    reasoning: float
    source: str
    cache_write: float | None = None  # None: the input price


def add_costs(total: float | None, cost: float | None) -> float | None:
    """A sum of costs that stays unknown (``None``) once any part is unknown."""
    return None if total is None or cost is None else total + cost


class PriceBook:
    """Prices per provider config; memoizes genai-prices lookups and warns once per unknown (provider, model)."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str, str | None], _Found | None] = {}
        self._warned: set[tuple[str, str]] = set()

    def cost(self, provider: ProviderConfig, input_tokens: int, output_tokens: int,
             usage: UsageDetails | None = None) -> float | None:
        """USD for one call; ``None`` when no price is known for the provider's model (logged once)."""
        usage = usage or UsageDetails()
        if not input_tokens and not output_tokens:
            return 0.0  # nothing billed, whatever the price
        configured = _configured_rates(provider)
        if configured is not None:
            return _cost_at(configured, input_tokens, output_tokens, usage)
        found = self._lookup(provider)
        if found is None:
            self._warn_unknown(provider)
            return None
        if found.linear is not None:  # same result as genai-prices' calculation, without its per-call work
            return _cost_at(found.linear, input_tokens, output_tokens, usage)
        return _library_cost(found, input_tokens, output_tokens, usage)

    def rates(self, provider: ProviderConfig) -> Rates | None:
        """Per-million rates for ``provider`` (for estimates), or ``None`` when unknown."""
        configured = _configured_rates(provider)
        if configured is not None:
            return configured
        found = self._lookup(provider)
        if found is None:
            return None
        return found.linear or _probe_rates(found)

    def _lookup(self, provider: ProviderConfig) -> _Found | None:
        key = (provider.base_url, provider.model, provider.price_provider)
        if key not in self._found:
            self._found[key] = _find(provider)
        return self._found[key]

    def _warn_unknown(self, provider: ProviderConfig) -> None:
        key = (provider.name, provider.model)
        if key not in self._warned:
            self._warned.add(key)
            log.warning(
                "no price known for model %r of provider %r (not in genai-prices for %s): its calls' cost_usd is NULL; "
                "set price_input_per_m/price_output_per_m (0 for a self-hosted model) or price_provider",
                provider.model, provider.name, provider.price_provider or provider.base_url,
            )


def rates_for(provider: ProviderConfig) -> Rates | None:
    """Per-million rates from the process-wide ``PRICES`` book."""
    return PRICES.rates(provider)


def _configured_rates(provider: ProviderConfig) -> Rates | None:
    if provider.price_input_per_m is None and provider.price_output_per_m is None:
        if provider.model in FREE_MODELS:
            return Rates(0.0, 0.0, 0.0, 0.0, "free")
        return None
    inp, out = provider.price_input_per_m or 0.0, provider.price_output_per_m or 0.0
    cached = inp if provider.price_cached_input_per_m is None else provider.price_cached_input_per_m
    reasoning = out if provider.price_reasoning_per_m is None else provider.price_reasoning_per_m
    return Rates(inp, out, cached, reasoning, "config")


def _cost_at(rates: Rates, input_tokens: int, output_tokens: int, usage: UsageDetails) -> float:
    cached = min(usage.cache_read_input_tokens or 0, input_tokens)
    written = min(usage.cache_creation_input_tokens or 0, input_tokens - cached)
    reasoning = min(usage.reasoning_output_tokens or 0, output_tokens)
    write_rate = rates.input if rates.cache_write is None else rates.cache_write
    return (
        (input_tokens - cached - written) * rates.input + cached * rates.cached_input + written * write_rate
        + (output_tokens - reasoning) * rates.output + reasoning * rates.reasoning
    ) / PER_M


def _probe_rates(found: _Found) -> Rates:
    """Per-million rates read off genai-prices with probe counts (the first price tier)."""
    per = PER_M / _PROBE_TOKENS
    n = _PROBE_TOKENS
    return Rates(
        input=float(_library_total(found, input_tokens=n)) * per,
        output=float(_library_total(found, output_tokens=n)) * per,
        cached_input=float(_library_total(found, input_tokens=n, cache_read_tokens=n)) * per,
        reasoning=float(_library_total(found, output_tokens=n, output_reasoning_tokens=n)) * per,
        source=found.source,
        cache_write=float(_library_total(found, input_tokens=n, cache_write_tokens=n)) * per,
    )


def _find(provider: ProviderConfig) -> _Found | None:
    from genai_prices.types import TieredPrices

    api_url = None if provider.price_provider else provider.base_url
    try:
        calc = _calc(_Found(provider.model, provider.price_provider, api_url, ""), input_tokens=_PROBE_TOKENS)
    except LookupError:
        return None
    found = _Found(provider.model, provider.price_provider, api_url, f"genai-prices:{calc.provider.id}/{calc.model.id}")
    if any(isinstance(price, TieredPrices) for price in vars(calc.model_price).values()):
        return found  # tiers depend on each call's size: every call goes through genai-prices
    return dataclasses.replace(found, linear=_probe_rates(found))


def _calc(found: _Found, **counts: int):
    # genai-prices' public calc_price over the data the package ships (no UpdatePrices: nothing is downloaded).
    from genai_prices import Usage, calc_price

    if found.provider_id:
        return calc_price(Usage(**counts), found.model, provider_id=found.provider_id)
    return calc_price(Usage(**counts), found.model, provider_api_url=found.api_url)


def _library_total(found: _Found, **counts: int) -> Decimal:
    return _calc(found, **counts).total_price


@functools.lru_cache(maxsize=4096)  # the gateway prices one attempt for its record, the budget and the result
def _library_cost(found: _Found, input_tokens: int, output_tokens: int, usage: UsageDetails) -> float:
    counts = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    if usage.cache_read_input_tokens:
        counts["cache_read_tokens"] = min(usage.cache_read_input_tokens, input_tokens)
    if usage.cache_creation_input_tokens:
        counts["cache_write_tokens"] = min(usage.cache_creation_input_tokens, input_tokens - counts.get("cache_read_tokens", 0))
    if usage.reasoning_output_tokens:
        counts["output_reasoning_tokens"] = min(usage.reasoning_output_tokens, output_tokens)
    return float(_library_total(found, **counts))


PRICES = PriceBook()
