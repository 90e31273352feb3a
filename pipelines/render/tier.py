"""The render tier's policy for one page: keep the static extraction, or render and keep what reads better.

Plain asyncio over one callable (``render_and_extract(url) -> ExtractedPage``),
so the Ray shell (``actors.renderer.RenderTier``) and unit tests share it.
Outcomes, in the page's ``reason`` (slug first, as every page reason):

- static text kept: nothing changes;
- rendered text kept: the page is the rendered one (``fetcher`` names the renderer);
- render needed but off: ``no_text: ... (fetch.render is off)``;
- render needed, no browser: ``render_unavailable: ... (install: apt-get install -y chromium)``;
- render failed and no static text: the render's reason (``render_timeout``, ``render_failed: ...``, ``http_4xx``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pipelines.extract import ExtractedPage
from pipelines.render.decision import browser_problem, should_render
from pipelines.settings import RenderSettings

__all__ = ["render_if_needed", "choose_rendered"]

logger = logging.getLogger(__name__)

RenderAndExtract = Callable[[str], Awaitable[ExtractedPage]]


async def render_if_needed(page: ExtractedPage, settings: RenderSettings, render_and_extract: RenderAndExtract,
                           *, problem_of=browser_problem) -> ExtractedPage:
    """The page to use after the render tier had its say (see the module docstring for the outcomes)."""
    if not should_render(settings.mode, status=page.status, content_type=page.content_type, needs_render=page.needs_render):
        if page.needs_render and settings.mode == "off" and not page.ok:
            page.reason = f"{page.reason} (the page builds its text with JavaScript; fetch.render is off)"
        return page
    problem = problem_of(settings.executable_path)
    if problem is not None:
        if not page.ok:
            page.status, page.reason = "skipped", problem
        else:
            logger.info("render tier off for %s: %s", page.url, problem)
        return page
    rendered = await render_and_extract(page.url)
    return choose_rendered(page, rendered)


def choose_rendered(static: ExtractedPage, rendered: ExtractedPage) -> ExtractedPage:
    """The rendered page when it has more main text than the static one; else the static page (with the render's
    failure as its reason when it had no text of its own)."""
    if rendered.ok and len(rendered.text.strip()) > len(static.text.strip()):
        rendered.url, rendered.final_url = static.url, static.final_url
        rendered.private_hosts = list(static.private_hosts)
        rendered.fetched_at = rendered.fetched_at or static.fetched_at
        return rendered
    if not static.ok and not rendered.ok:
        static.status, static.reason = rendered.status, rendered.reason
    return static
