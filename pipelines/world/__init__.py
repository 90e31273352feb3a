"""The local world: generated company websites, a SearXNG-compatible search engine over
them, and an OpenAI-compatible extractive LLM endpoint — all on loopback, all seeded.

Public surface:

- ``WorldConfig``, ``start_world``, ``World``, ``stop_detached`` (``pipelines.world.process``)
- ``LLMFaults``, ``start_llm_server`` (``pipelines.world.llm_server``), ``SiteFaults``, ``SearchFaults``
- ``load_truth``, ``score_answer``, ``score_results`` (``pipelines.world.truth``; harness only —
  the pipeline and the LLM engine never read the ground truth)
- ``SearchIndex`` and the document sources behind ``trawl index`` (``pipelines.world.index``)
"""

from pipelines.world.faults import LLMFaults, SearchFaults, SiteFaults
from pipelines.world.process import COLUMN_TRUTH, DEFAULT_COLUMNS, DEFAULT_PORTS, World, WorldConfig, start_world, stop_detached

__all__ = [
    "COLUMN_TRUTH",
    "DEFAULT_COLUMNS",
    "DEFAULT_PORTS",
    "LLMFaults",
    "SearchFaults",
    "SiteFaults",
    "World",
    "WorldConfig",
    "start_world",
    "stop_detached",
]
