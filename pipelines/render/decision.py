"""When a page needs the headless-browser tier, and the outcome when it cannot have it.

A page is rendered (``fetch.render.mode: auto``) when static extraction found
fewer than ``RENDER_BELOW_TEXT_CHARS`` characters of main text AND the HTML
carries scripts. Why these two:

- 200 characters is about two sentences. trafilatura's own floor for a usable
  extraction is of this order (``MIN_EXTRACTED_SIZE`` = 250 in its settings,
  https://trafilatura.readthedocs.io/en/latest/settings.html), and an app shell
  ("Loading…", "Please enable JavaScript", a cookie banner) stays below it,
  while a real article, even a short press release, is well above it.
- Without a ``<script>`` the browser would show the same DOM the static
  extractor already read: rendering could not add text, only cost a browser.

``always`` renders every HTML page; ``off`` never does. Not rendered are
PDFs and text/plain (no DOM to build).
"""

from __future__ import annotations

import os
import re

__all__ = ["RENDER_BELOW_TEXT_CHARS", "static_text_too_short", "should_render", "browser_problem", "INSTALL_HINT"]

RENDER_BELOW_TEXT_CHARS = 200
INSTALL_HINT = "apt-get install -y chromium"
_SCRIPT = re.compile(rb"<script\b", re.IGNORECASE)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", None})


def static_text_too_short(body: bytes, text: str, content_type: str | None) -> bool:
    """True when an HTML body has scripts and its static main text is under ``RENDER_BELOW_TEXT_CHARS``."""
    if content_type not in _HTML_TYPES:
        return False
    return len(text.strip()) < RENDER_BELOW_TEXT_CHARS and _SCRIPT.search(body) is not None


def should_render(mode: str, *, status: str, content_type: str | None, needs_render: bool) -> bool:
    """Whether a statically extracted page goes to the render tier under ``mode`` (auto | off | always)."""
    if mode == "off" or content_type not in _HTML_TYPES - {None}:
        return False
    if mode == "always":
        return status in ("ok", "skipped")
    return needs_render


def browser_problem(executable_path: str) -> str | None:
    """None when the browser can run, else the reason the tier is off (``render_unavailable: ...`` with the install hint)."""
    if not os.path.isfile(executable_path) or not os.access(executable_path, os.X_OK):
        return (f"render_unavailable: the page builds its text with JavaScript and no browser is installed at "
                f"{executable_path} (install: {INSTALL_HINT}, or set fetch.render.executable_path)")
    try:
        import playwright  # noqa: F401 - only to tell a missing package from a missing browser
    except ImportError:
        return "render_unavailable: the playwright package is missing (pip install playwright)"
    return None
