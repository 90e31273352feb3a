"""``kind: python``: a registered Python function answers the cell, in a Ray task on the cluster.

``function:`` names it either by an entry point in the ``trawl.tasks`` group
(a package declares ``[project.entry-points."trawl.tasks"] name =
"pkg.module:func"``; https://packaging.python.org/en/latest/specifications/entry-points/)
or by a dotted path (``pkg.module:func`` or ``pkg.module.func``). ``inputs:``
lists the row fields and upstream columns passed to it as keyword arguments
(all as text). Results are cached by function, version and inputs
(``pipelines.tasks.python_cache``) unless the column says ``cache: false``. It returns the answer (str, int, float, bool, a list, or
None for "no answer"); an exception fails the cell with reason
``python_error``.

The function's identity, ``module:qualname@version``, is shown in the cell's
``question`` and hashed into the job id: a new version is a new job, so
resume never keeps an answer an older function wrote. The version is the
installed distribution's version for an entry point, and for a dotted path
the module's ``__version__`` (or its distribution's version) plus a hash of
the function's source, so editing an unpackaged function counts too.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import logging
from importlib import metadata

from pipelines.answers import coerce
from pipelines.errors import PermanentError, TrawlError
from pipelines.research import CellOutcome, CellTask
from pipelines.status import CellStatus
from pipelines.tasks.base import KindSpec, TaskServices, failed, spec_of
from pipelines.tasks.python_cache import MISS
from pipelines.templates import NAME_RE

__all__ = ["PythonKind", "KIND", "ENTRY_POINT_GROUP", "PythonTarget", "resolve_function", "call_function", "run_python_inline"]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "trawl.tasks"
_MAX_ANSWER_CHARS = 10_000  # a cell answer, not a document


class PythonTarget(tuple):
    """``(target, version)``: ``target`` is ``module:qualname``."""

    @property
    def target(self) -> str:
        return self[0]

    @property
    def version(self) -> str:
        return self[1]


def _load(target: str):
    module_name, _, qualname = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _dist_version(module_name: str) -> str | None:
    top = module_name.split(".")[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def resolve_function(name: str) -> PythonTarget:
    """The target and version ``name`` refers to. Raises ValueError saying what is wrong (imports the module)."""
    if ":" not in name and "." not in name:
        found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            known = sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})
            raise ValueError(f"no entry point '{name}' in group '{ENTRY_POINT_GROUP}' (installed: {', '.join(known) or 'none'})")
        ep = found[0]
        target = ep.value.replace(" ", "")
        version = ep.dist.version if ep.dist is not None else None
        fn = _checked(target)
        return PythonTarget((target, version or _source_version(fn)))
    target = name if ":" in name else ":".join(name.rsplit(".", 1))
    fn = _checked(target)
    module = inspect.getmodule(fn)
    declared = getattr(module, "__version__", None) or _dist_version(target.split(":")[0])
    return PythonTarget((target, f"{declared}+{_source_version(fn)}" if declared else _source_version(fn)))


def _checked(target: str):
    module_name, _, qualname = target.partition(":")
    if not module_name or not qualname:
        raise ValueError(f"'{target}' is not 'module:function' or 'module.function'")
    try:
        fn = _load(target)
    except ImportError as err:
        raise ValueError(f"cannot import module '{module_name}': {err}") from None
    except AttributeError:
        raise ValueError(f"module '{module_name}' has no attribute '{qualname}'") from None
    if not callable(fn):
        raise ValueError(f"'{target}' is not callable")
    return fn


def _source_version(fn) -> str:
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):  # built-in or generated: its name is all we know
        source = getattr(fn, "__qualname__", repr(fn))
    return "src-" + hashlib.sha256(source.encode()).hexdigest()[:12]


def call_function(target: str, kwargs: dict[str, str]) -> tuple[str, object]:
    """Call ``target(**kwargs)`` here: ``("ok", value)`` or ``("error", "ExcType: message")``.

    A plain function so a Ray task (``actors.python_task``) and the in-process
    runner share it; it never raises, so nothing but plain values crosses the boundary.
    """
    try:
        value = _load(target)(**kwargs)
        json.dumps(value)  # the answer must be plain data: it is written to Parquet as JSON
    except Exception as exc:  # noqa: BLE001 - the user's function failed: this cell fails with the reason
        logger.info("python task %s failed: %s: %s", target, type(exc).__name__, exc)
        return "error", f"{type(exc).__name__}: {str(exc)[:300]}"
    return "ok", value


async def run_python_inline(target: str, version: str, kwargs: dict[str, str]):
    """``TaskServices.run_python`` without Ray (unit tests, tools): the call runs in a thread of this process."""
    import asyncio

    status, value = await asyncio.to_thread(call_function, target, kwargs)
    if status != "ok":
        raise PermanentError(str(value), reason="python_error")
    return value


class PythonKind:
    name = "python"
    fields = {"function": "entry point name (group trawl.tasks) or dotted path 'pkg.module:func'",
              "inputs": "row fields and upstream columns passed as keyword arguments",
              "cache": "reuse a result for the same function, version and inputs (default true)"}
    needs_question = False

    def build(self, spec, path, problems) -> KindSpec | None:
        raw_inputs = spec.get("inputs") or []
        if isinstance(raw_inputs, str):
            raw_inputs = [raw_inputs]
        if not isinstance(raw_inputs, list) or not all(isinstance(i, str) and NAME_RE.match(i) for i in raw_inputs):
            problems.add(f"{path}.inputs", "must be a list of row field or column names", spec.get("inputs"))
            raw_inputs = []
        inputs = tuple(dict.fromkeys(raw_inputs))
        refs = tuple((f"{path}.inputs[{k}]", i) for k, i in enumerate(inputs))
        use_cache = spec.get("cache", True)
        if not isinstance(use_cache, bool):
            problems.add(f"{path}.cache", "must be true or false", use_cache)
        name = spec.get("function")
        if not isinstance(name, str) or not name.strip():
            problems.add(f"{path}.function", "required: an entry point name (group trawl.tasks) or 'pkg.module:func'", name)
            return KindSpec(refs=refs)  # the inputs are still checked
        try:
            resolved = resolve_function(name.strip())
        except ValueError as err:
            problems.add(f"{path}.function", str(err))
            return KindSpec(refs=refs)
        shown = ", ".join(f"{i}={{{i}}}" for i in inputs)
        return KindSpec(
            config=(resolved.target, resolved.version, inputs, use_cache is not False),
            refs=refs,
            question=f"python {resolved.target}@{resolved.version}({shown})",
            identity={"function": resolved.target, "version": resolved.version},
        )

    async def run(self, task: CellTask, services: TaskServices) -> CellOutcome:
        target, version, inputs, use_cache = spec_of(task).config
        missing = [i for i in inputs if i not in task.context]
        if missing:
            return failed("no_input", f"input(s) {', '.join(missing)} have no value")
        kwargs = {i: task.context[i] for i in inputs}
        cache = getattr(services, "python_cache", None) if use_cache else None
        value = cache.get(target, version, kwargs) if cache is not None else MISS
        if value is not MISS:
            services.count("python_cache_hits")
        else:
            services.count("python_calls")
            try:
                value = await services.run_python(target, version, kwargs)
            except TrawlError as exc:
                return failed(exc.reason, str(exc))
            if cache is not None:
                cache.put(target, version, kwargs, value)
        if value is None:
            return failed("no_answer", f"{target} returned None")
        answer = " ; ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        answer = answer[:_MAX_ANSWER_CHARS]
        typed, problem = coerce(answer, task.answer_type)
        return CellOutcome(status=CellStatus.DONE, answer=answer, value=typed, confidence=1.0, error=problem)


KIND = PythonKind()
