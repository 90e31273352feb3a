"""Load a job spec's YAML defensively.

``yaml.safe_load`` builds only plain data, but two things still hurt: huge
files, and alias bombs (``&a [*a, *a, ...]`` nested ten deep is a few hundred
bytes that expands to billions of nodes once anything walks it, e.g. hashing
or validation). So the text size is capped, the composed node graph is
measured with aliases expanded (memoized, so measuring is cheap) before any
Python object is built, and recursive aliases are refused. Duplicate mapping
keys, which PyYAML silently collapses (a second ``ceo:`` column would replace
the first), are reported as problems with their path and line.

Row values keep what the user wrote. YAML 1.1's implicit resolvers (PyYAML's)
turn ``NO`` into false, ``0123`` into 83, ``1e3``/``1_000`` into numbers and
``2024-01-01`` into a date; a row value is text for a question template, so
plain scalars under the top-level ``rows`` are re-tagged ``!!str`` before
construction (YAML 1.1 tag repository, https://yaml.org/type/bool.html lists
``NO``/``on``/``y`` as booleans). Nulls (``~``, ``null``, nothing) stay null.
The spec's own typed fields resolve as before.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipelines.errors import SpecProblem

__all__ = ["MAX_SPEC_BYTES", "MAX_EXPANDED_NODES", "load_yaml_text"]

MAX_SPEC_BYTES = 10 * 1024 * 1024
MAX_EXPANDED_NODES = 2_000_000


class _TooBig(Exception):
    pass


def load_yaml_text(text: str) -> tuple[object, list[SpecProblem]]:
    """Parse YAML text; returns (data, problems). Data is None when the text cannot be used at all."""
    if len(text.encode("utf-8", errors="replace")) > MAX_SPEC_BYTES:
        return None, [SpecProblem("", f"spec is larger than {MAX_SPEC_BYTES // (1024 * 1024)} MB")]
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [SpecProblem("", "spec is empty")]
        problems: list[SpecProblem] = []
        try:
            _measure(node, {}, set())
        except _TooBig as err:
            return None, [SpecProblem("", str(err))]
        _find_duplicate_keys(node, "", problems, set())
        _rows_as_written(node)
        return loader.construct_document(node), problems
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        return None, [SpecProblem("", f"invalid YAML{where}: {problem}")]
    finally:
        loader.dispose()


_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"


def _rows_as_written(root: Node) -> None:
    """Re-tag the plain scalars of ``rows[*]`` (field names and values) as strings, in place."""
    if not isinstance(root, MappingNode):
        return
    for key_node, value_node in root.value:
        if isinstance(key_node, ScalarNode) and key_node.value == "rows" and isinstance(value_node, SequenceNode):
            for row in value_node.value:
                if isinstance(row, MappingNode):
                    for field_node, cell_node in row.value:
                        _as_text(field_node)
                        _as_text(cell_node)


def _as_text(node: Node) -> None:
    # The composed node keeps the scalar's source text; an explicit `!!int 5` is re-tagged too ("5").
    if isinstance(node, ScalarNode) and node.tag != _NULL_TAG:
        node.tag = _STR_TAG


def _measure(node: Node, memo: dict[int, int], active: set[int]) -> int:
    """Node count with aliases expanded; raises _TooBig on bombs and recursion."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _TooBig("recursive YAML alias (an anchor that contains itself) is not allowed")
    if isinstance(node, ScalarNode):
        return 1
    active.add(key)
    total = 1
    children = [c for pair in node.value for c in pair] if isinstance(node, MappingNode) else node.value
    for child in children:
        total += _measure(child, memo, active)
        if total > MAX_EXPANDED_NODES:
            raise _TooBig(f"spec expands to more than {MAX_EXPANDED_NODES:,} YAML nodes (alias bomb?)")
    active.discard(key)
    memo[key] = total
    return total


def _find_duplicate_keys(node: Node, path: str, problems: list[SpecProblem], seen: set[int]) -> None:
    if id(node) in seen:  # aliased subtrees are checked once
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            child = f"{path}.{key}" if path else str(key)
            if key is not None:
                if key in keys:
                    line = key_node.start_mark.line + 1
                    problems.append(SpecProblem(child, f"duplicate key '{key}' (line {line}); each key may appear once"))
                keys.add(key)
            _find_duplicate_keys(value_node, child, problems, seen)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _find_duplicate_keys(item, f"{path}[{i}]", problems, seen)
