"""Usage details (cached input, reasoning) per provider shape, prices from config or genai-prices, NULL when unknown."""

import asyncio
import logging

import pytest
from genai_prices import Usage, calc_price, data as genai_data

from pipelines.errors import SpecError
from pipelines.llm.budget import BudgetTracker
from pipelines.llm.config import ProviderConfig
from pipelines.llm.gateway import Gateway
from pipelines.llm.prices import PriceBook, add_costs
from pipelines.llm.types import CallContext, LLMRequest
from pipelines.llm.usage import UsageDetails, usage_details
from pipelines.settings import BudgetSettings
from tests.fixtures_llm import ok_body, provider, settings_for


def api_url(provider_id: str, path: str = "/v1") -> str:
    """The provider's API URL as genai-prices' own data matches it (``api_pattern``), so tests name no outside host:
    nothing is ever sent to it, it is only the key prices are looked up by."""
    pattern = next(p.api_pattern for p in genai_data.providers if p.id == provider_id)
    return pattern.replace("(.*\\.)?", "generativelanguage.").replace("\\.", ".") + path


def cfg(model="gpt-4o-mini", base_url=None, **prices) -> ProviderConfig:
    return ProviderConfig(name="p", base_url=base_url or api_url("openai"), model=model, **prices)


# --- usage shapes ---------------------------------------------------------------


def test_openai_details_are_read():
    usage = {"prompt_tokens": 1000, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 640},
             "completion_tokens_details": {"reasoning_tokens": 256}}
    assert usage_details(usage) == UsageDetails(cache_read_input_tokens=640, reasoning_output_tokens=256)


def test_deepseek_cache_hit_tokens_and_openrouter_cache_writes_are_read():
    deepseek = {"prompt_tokens": 900, "completion_tokens": 50, "prompt_cache_hit_tokens": 800, "prompt_cache_miss_tokens": 100}
    assert usage_details(deepseek).cache_read_input_tokens == 800
    openrouter = {"prompt_tokens": 900, "completion_tokens": 50, "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 700}}
    assert usage_details(openrouter) == UsageDetails(cache_read_input_tokens=0, cache_creation_input_tokens=700)


def test_anthropic_names_are_read_and_unreported_stays_none():
    passed_through = {"prompt_tokens": 500, "completion_tokens": 20, "cache_read_input_tokens": 300, "cache_creation_input_tokens": 100}
    assert usage_details(passed_through) == UsageDetails(300, 100, None)
    assert usage_details({"prompt_tokens": 5, "completion_tokens": 5}) == UsageDetails()  # not reported is not 0
    assert usage_details(None) == UsageDetails()


def test_reasoning_left_out_of_completion_tokens_is_added_back():
    from pipelines.llm.usage import output_tokens_of

    gemini_compat = {"prompt_tokens": 20, "completion_tokens": 151, "total_tokens": 553,
                     "completion_tokens_details": {"reasoning_tokens": 382}}
    assert output_tokens_of(gemini_compat) == 533 and usage_details(gemini_compat).reasoning_output_tokens == 382
    openai = {"prompt_tokens": 20, "completion_tokens": 533, "total_tokens": 553, "completion_tokens_details": {"reasoning_tokens": 382}}
    assert output_tokens_of(openai) == 533  # already included: not counted twice
    assert output_tokens_of({"prompt_tokens": 1}) is None


def test_a_part_larger_than_its_total_is_dropped():
    assert usage_details({"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 99},
                          "completion_tokens_details": {"reasoning_tokens": True}}) == UsageDetails()


# --- prices -------------------------------------------------------------------------


def test_configured_prices_price_cached_and_reasoning_tokens_at_their_own_rates():
    book = PriceBook()
    p = cfg(price_input_per_m=2.0, price_output_per_m=8.0, price_cached_input_per_m=0.5, price_reasoning_per_m=10.0)
    cost = book.cost(p, 1000, 500, UsageDetails(cache_read_input_tokens=600, reasoning_output_tokens=200))
    assert cost == pytest.approx((400 * 2.0 + 600 * 0.5 + 300 * 8.0 + 200 * 10.0) / 1e6)
    # unset cached/reasoning prices: the input and output prices (no discount assumed)
    plain = cfg(price_input_per_m=2.0, price_output_per_m=8.0)
    assert book.cost(plain, 1000, 500, UsageDetails(cache_read_input_tokens=600)) == pytest.approx((1000 * 2 + 500 * 8) / 1e6)
    assert book.rates(plain).source == "config"


def test_library_prices_match_genai_prices_own_calculation_including_cache_reads():
    book = PriceBook()
    p = cfg("gpt-4o-mini", api_url("openai"))
    cost = book.cost(p, 10_000, 2_000, UsageDetails(cache_read_input_tokens=8_000))
    expected = calc_price(Usage(input_tokens=10_000, cache_read_tokens=8_000, output_tokens=2_000), "gpt-4o-mini",
                          provider_id="openai").total_price
    assert cost == pytest.approx(float(expected))
    assert cost < book.cost(p, 10_000, 2_000)  # cached input is cheaper for this model
    assert book.rates(p).source == "genai-prices:openai/gpt-4o-mini"
    # behind a proxy URL, price_provider names whose prices apply
    proxied = cfg("gpt-4o-mini", "http://127.0.0.1:4000/v1", price_provider="openai")
    assert book.cost(proxied, 10_000, 2_000) == pytest.approx(book.cost(p, 10_000, 2_000))


@pytest.mark.parametrize("model, base_url", [
    ("gpt-4o-mini", api_url("openai")),
    ("claude-sonnet-4-5", api_url("anthropic", "/v1/")),  # tiered: above 200k input tokens every token costs more
    ("deepseek-chat", api_url("deepseek", "")),
    ("gemini-2.5-flash", api_url("google", "/v1beta/openai/")),
])
@pytest.mark.parametrize("tokens", [(1_200, 300, 1_000, 0, 120), (300_000, 2_000, 0, 50_000, 0), (50, 10, 0, 0, 0)])
def test_every_call_costs_what_genai_prices_itself_computes(model, base_url, tokens):
    inp, out, cache_read, cache_write, reasoning = tokens
    p = cfg(model, base_url)
    cost = PriceBook().cost(p, inp, out, UsageDetails(cache_read or None, cache_write or None, reasoning or None))
    usage = Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cache_read, cache_write_tokens=cache_write,
                  output_reasoning_tokens=reasoning)
    assert cost == pytest.approx(float(calc_price(usage, model, provider_api_url=base_url).total_price), rel=1e-9)


def test_unknown_model_costs_none_with_one_warning(caplog):
    book = PriceBook()
    p = cfg("my-finetune-7b", "http://127.0.0.1:9/v1")
    with caplog.at_level(logging.WARNING, logger="pipelines.llm.prices"):
        assert book.cost(p, 100, 10) is None
        assert book.cost(p, 200, 20) is None
    assert len([r for r in caplog.records if "my-finetune-7b" in r.getMessage()]) == 1
    assert book.cost(p, 0, 0) == 0.0  # nothing billed (a failed attempt) costs 0 whatever the price
    assert book.cost(cfg("trawl-extractive", "http://127.0.0.1:9/v1"), 100, 10) == 0.0  # the local world's engine is free


def test_costs_add_up_to_unknown_once_any_part_is_unknown():
    assert add_costs(add_costs(0.0, 0.25), 0.5) == 0.75
    assert add_costs(add_costs(0.0, None), 0.5) is None


def test_budget_counts_unpriced_calls_apart():
    tracker = BudgetTracker(BudgetSettings(max_cost_usd=1.0))
    tracker.add("j", 100, 0.4)
    tracker.add("j", 50, None)
    assert tracker.spent()["j"] == {"tokens": 150, "cost_usd": 0.4, "unpriced_calls": 1}


# --- through the gateway ------------------------------------------------------------


def test_gateway_records_usage_details_and_prices_them(llm_server, tmp_path):
    body = ok_body("main-model", "hi", prompt_tokens=1000, completion_tokens=300)
    body["usage"] |= {"prompt_tokens_details": {"cached_tokens": 800}, "completion_tokens_details": {"reasoning_tokens": 200}}
    llm_server.script = [(200, {}, body)]
    records = []
    p = provider("main", llm_server.base_url, price_input_per_m=1.0, price_output_per_m=4.0, price_cached_input_per_m=0.25)
    gw = Gateway(settings_for(p), record_sink=records.extend, cache_dir=str(tmp_path / "cache"))

    async def go():
        try:
            return await gw.complete(LLMRequest(stage="judge", messages=[{"role": "user", "content": "q"}], context=CallContext("j")))
        finally:
            await gw.aclose()

    result = asyncio.run(go())
    [rec] = records
    assert rec["gen_ai.usage.cache_read.input_tokens"] == 800 and rec["gen_ai.usage.reasoning.output_tokens"] == 200
    assert rec["gen_ai.usage.cache_creation.input_tokens"] is None
    expected = (200 * 1.0 + 800 * 0.25 + 300 * 4.0) / 1e6
    assert rec["cost_usd"] == pytest.approx(expected) and result.cost_usd == pytest.approx(expected)


def test_gateway_with_unknown_price_records_null_cost(llm_server, tmp_path):
    records = []
    gw = Gateway(settings_for(provider("selfhosted", llm_server.base_url)), record_sink=records.extend, cache_dir=str(tmp_path / "c"))

    async def go():
        try:
            return await gw.complete(LLMRequest(stage="expand", messages=[{"role": "user", "content": "q"}], context=CallContext("j")))
        finally:
            await gw.aclose()

    result = asyncio.run(go())
    assert result.cost_usd is None and records[0]["cost_usd"] is None and records[0]["gen_ai.usage.input_tokens"] == 10
    assert gw.stats()["providers"][0]["unpriced_calls"] == 1


def test_cost_cap_with_an_unpriced_provider_refuses_to_start():
    settings = settings_for(provider("priced", "http://127.0.0.1:9/v1", price_input_per_m=1.0),
                            provider("selfhosted", "http://127.0.0.1:9/v1"))
    with pytest.raises(SpecError) as info:
        Gateway(settings, budget=BudgetSettings(max_cost_usd=5.0))
    assert [p.path for p in info.value.problems] == ["llm.providers.selfhosted"]
    Gateway(settings, budget=BudgetSettings(max_total_tokens=1000))  # a token cap needs no price
