"""The render tier on Ray: ``RendererActor`` (async, ``num_cpus=0``) over ``pipelines.render.PageRenderer``.

``RenderTier`` lives in the driver next to ``RayServices``: for each
statically extracted page it applies ``pipelines.render.tier.render_if_needed``;
a page that needs the browser goes to a renderer actor (started on the first
such page, so jobs without script-built pages never start a browser), and the
rendered DOM comes back as a ``FetchResult`` ObjectRef that the extraction
batcher turns into an ``ExtractedPage`` like any other page. ``aclose`` closes
every browser before the actors are killed: no browser process outlives the job.
"""

from __future__ import annotations

import logging
import uuid

import ray

from pipelines.extract import ExtractedPage
from pipelines.fetch import FetchResult, shard_index
from pipelines.render.browser import PageRenderer
from pipelines.render.tier import render_if_needed
from pipelines.settings import FetchSettings

__all__ = ["RendererActor", "RenderTier", "renderer_name"]

logger = logging.getLogger(__name__)


def renderer_name(index: int) -> str:
    return f"trawl.renderer[{index}]"


@ray.remote(num_cpus=0, max_restarts=1, max_task_retries=1)
class RendererActor:
    def __init__(self, settings: FetchSettings, name: str, tag: str = "") -> None:
        self._renderer = PageRenderer(settings, name=name, tag=tag)

    async def render(self, url: str, document: FetchResult | None = None) -> FetchResult:
        return await self._renderer.render(url, document)

    async def stats(self) -> dict:
        return self._renderer.stats()

    async def close(self) -> bool:
        await self._renderer.aclose()
        return True


class RenderTier:
    """Driver-side policy + the renderer actors; ``after_static(page)`` is what ``RayServices`` calls."""

    def __init__(self, settings: FetchSettings, *, batcher, job_id: str = "") -> None:
        self.settings = settings
        self.batcher = batcher
        self.namespace = f"trawl.{job_id or uuid.uuid4().hex[:12]}"
        self.actors: list = []
        self.renders = 0

    async def after_static(self, page: ExtractedPage, fetched: ray.ObjectRef | None = None) -> ExtractedPage:
        """``fetched``: the page's FetchResult ref; Ray hands it to the renderer, which serves it to the browser."""

        async def render_and_extract(url: str) -> ExtractedPage:
            actor = self._actor_for(url)
            self.renders += 1
            return await self.batcher.extract(url, actor.render.remote(url, fetched))

        return await render_if_needed(page, self.settings.render, render_and_extract)

    def _actor_for(self, url: str):
        if not self.actors:
            shards = self.settings.render.shards
            self.actors = [
                RendererActor.options(  # type: ignore[attr-defined]  # an @ray.remote class
                    name=renderer_name(i), namespace=self.namespace, max_concurrency=self.settings.render.max_concurrency * 4 + 4,
                ).remote(self.settings, renderer_name(i), f"{self.namespace}/{i}")
                for i in range(shards)
            ]
        return self.actors[shard_index(url, len(self.actors))]

    async def aclose(self) -> None:
        """Close every browser, then end the actors."""
        actors, self.actors = self.actors, []
        for actor in actors:
            try:
                await actor.close.remote()
            except Exception as exc:  # noqa: BLE001 - the Playwright driver ends its browsers when its parent goes
                logger.warning("renderer close failed: %s", exc)
            ray.kill(actor, no_restart=True)
