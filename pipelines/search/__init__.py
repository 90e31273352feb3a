"""Web search for trawl: provider adapters behind one gateway.

Public surface (everything else is internal):

- ``pipelines.search.types``: ``SearchRequest``, ``SearchHit``
- ``pipelines.search.config``: ``SearchSettings``, ``SearchProviderConfig`` (the spec's ``search:`` section)
- ``pipelines.search.gateway``: ``SearchGateway`` (retries, fallback, rate limits, cache, telemetry)
- ``pipelines.search.oneshot``: ``load_search_settings``, ``search_once`` (for ``trawl search``)

Adapters, one module each: ``searxng``, ``brave``, ``tavily``, ``serper``;
their shared HTTP and error mapping is in ``adapter``. URL hygiene after the
search (normalize, dedup, domain filters, cap) is ``pipelines.urls``.
"""
