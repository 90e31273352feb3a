"""Question templates: ``"Where did {ceo} work before joining {company}?"``.

A template names row fields and upstream columns in ``{braces}``. Only plain
names are allowed: attribute access (``{company.__class__}``), indexing
(``{company[0]}``), conversions (``{company!r}``), format specs
(``{company:>10}``), positional fields (``{0}``, ``{}``) are rejected, because
``str.format`` on user text with real objects is an escape hatch into Python
objects. ``string.Formatter().parse`` only *tokenizes*; :func:`render` then
substitutes plain strings, so nothing is ever formatted or evaluated.
``{{`` and ``}}`` stay literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from string import Formatter

__all__ = ["NAME_RE", "TemplateProblem", "template_names", "render"]

# Names a template may use; also the rule for column names, so every column can be referenced.
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_formatter = Formatter()


class TemplateProblem(ValueError):
    """The template is malformed or uses a forbidden placeholder; ``str()`` says which."""


def template_names(template: str) -> list[str]:
    """Names referenced by ``template``, in order of first use, without duplicates.

    Raises TemplateProblem naming every bad placeholder at once (joined by '; ').
    """
    try:
        parts = list(_formatter.parse(template))
    except ValueError as err:  # unbalanced braces
        raise TemplateProblem(f"malformed template: {err} (write '{{{{' or '}}}}' for a literal brace)") from None
    names: list[str] = []
    problems: list[str] = []
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if field == "":
            problems.append(f"empty placeholder '{shown}': name a row field or column")
        elif field.isdigit():
            problems.append(f"positional placeholder '{shown}': name a row field or column")
        elif not NAME_RE.match(field):
            problems.append(f"placeholder '{shown}' must be a plain name (no attribute access, indexing or spaces)")
        elif conversion is not None:
            problems.append(f"placeholder '{shown}': conversions like '!{conversion}' are not allowed")
        elif spec:
            problems.append(f"placeholder '{shown}': format specs like ':{spec}' are not allowed")
        elif field not in names:
            names.append(field)
    if problems:
        raise TemplateProblem("; ".join(problems))
    return names


def render(template: str, values: Mapping[str, str]) -> str:
    """Substitute ``values`` into a template already checked by :func:`template_names`.

    Values are inserted as plain text (braces in them are not interpreted).
    Raises KeyError naming the first missing value.
    """
    out: list[str] = []
    for literal, field, _spec, _conversion in _formatter.parse(template):
        out.append(literal)
        if field is not None:
            if field not in values:
                raise KeyError(field)
            out.append(str(values[field]))
    return "".join(out)
