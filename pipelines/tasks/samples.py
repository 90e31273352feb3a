"""Small functions for ``kind: python`` columns; the example job and the tests use them.

``founded_decade`` is also registered as the entry point ``founded_decade``
in the ``trawl.tasks`` group (pyproject.toml), to show both ways of naming a function.
"""

from __future__ import annotations

import re

__all__ = ["founded_decade", "domain_tld"]


def founded_decade(founded: str) -> str | None:
    """``'1989'`` -> ``'1980s'``; None when the text holds no four-digit year."""
    m = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", founded)
    return f"{int(m.group(1)) // 10 * 10}s" if m else None


def domain_tld(domain: str) -> str:
    """``'acme.example'`` -> ``'example'``: the last label of a host name."""
    return domain.strip().rstrip(".").rsplit(".", 1)[-1].lower()
