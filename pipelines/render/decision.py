"""When a page needs the headless-browser tier, and the outcome when it cannot have it.

A page is rendered (``fetch.render.mode: auto``) when static extraction found
fewer than ``RENDER_BELOW_TEXT_CHARS`` characters of main text, the HTML
carries scripts, AND the static page shows almost nothing else either: its
visible text (everything outside ``<script>``, ``<style>``, ``<noscript>``,
``<template>``) is under ``RENDER_BELOW_TEXT_CHARS`` too, or the main text is
less than ``RENDER_TEXT_TO_HTML_RATIO`` of the HTML's size. Why:

- 200 characters is about two sentences. trafilatura's own floor for a usable
  extraction is of this order (``MIN_EXTRACTED_SIZE = 250`` in its
  ``settings.cfg``, https://trafilatura.readthedocs.io/en/latest/settings.html);
  an app shell ("Loading…", an empty ``<div id="root">``) stays below it.
- Short pages are common and need no browser: the local world's contact and
  news pages have 130-200 characters of main text, an analytics snippet, and
  nav, footer and cookie banner around them (visible text well over 200
  characters; 27 of its 83 pages would be rendered by the first two rules
  alone). The third rule tells them from a shell.
- 1 %: text that is a hundredth of the HTML means the page's weight is
  elsewhere - hydration state (``__NEXT_DATA__``), inline bundles, templates -
  which is how script-built pages look before their scripts run; static
  pages, even heavy ones, keep several percent of their bytes as text.
- Measured on the 300 real pages of ``shared/realweb`` (trafilatura's
  evaluation set, every one with scripts): none has under 200 characters of
  main text, so the rule renders none of them; the 1 % ratio on its own would
  have sent 36 of them (12 %) to the browser for nothing, which is why it only
  applies to pages whose main text is short.
- Without a ``<script>`` the browser would show the same DOM the static
  extractor already read: rendering could not add text, only cost a browser.

``always`` renders every HTML page; ``off`` never does. Not rendered are
PDFs and text/plain (no DOM to build).
"""

from __future__ import annotations

import os
import re

__all__ = ["RENDER_BELOW_TEXT_CHARS", "RENDER_TEXT_TO_HTML_RATIO", "visible_text_chars", "static_text_too_short", "should_render", "browser_problem", "INSTALL_HINT"]

RENDER_BELOW_TEXT_CHARS = 200
RENDER_TEXT_TO_HTML_RATIO = 0.01
INSTALL_HINT = "apt-get install -y chromium"
_SCRIPT = re.compile(rb"<script\b", re.IGNORECASE)
_HIDDEN = re.compile(rb"<(script|style|noscript|template)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(rb"<[^>]*>")
_ENTITY = re.compile(rb"&#?\w+;")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", None})


def static_text_too_short(body: bytes, text: str, content_type: str | None) -> bool:
    """True when an HTML body looks built by its scripts (see the module docstring for the rule and its reasons)."""
    if content_type not in _HTML_TYPES:
        return False
    chars = len(text.strip())
    if chars >= RENDER_BELOW_TEXT_CHARS or _SCRIPT.search(body) is None:
        return False
    return visible_text_chars(body) < RENDER_BELOW_TEXT_CHARS or chars < RENDER_TEXT_TO_HTML_RATIO * len(body)


def visible_text_chars(body: bytes) -> int:
    """Characters of text a browser without scripts would show (tags, scripts, styles and whitespace left out)."""
    text = _TAG.sub(b" ", _HIDDEN.sub(b" ", body))
    return len(b" ".join(_ENTITY.sub(b"x", text).split()))


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
