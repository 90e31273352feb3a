"""LLM calls: the pipeline builds an ``LLMRequest`` (``types``) and a ``Gateway`` (``gateway``) answers it.

Public surface: ``types`` (LLMRequest, LLMResult, CallContext), ``config``
(ProviderConfig, LLMSettings, ProviderProfile), ``gateway.Gateway``,
``profiles.resolve_settings``, ``stats.llm_call_stats`` and
``capabilities.capabilities_for`` (what each model family accepts). Everything
else (client, replies, adapt, limits, cache, canonical, records, budget,
telemetry) is the gateway's machinery. Nothing here imports Ray; ``actors.llm_gateway`` wraps
the gateway in one actor.
"""
