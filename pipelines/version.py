"""trawl's version, written once: pyproject.toml reads it (``[tool.setuptools.dynamic]``), the runner
records it in every ``jobs`` row (``trawl_version``) and ``trawl --version`` prints it.

A plain attribute rather than ``importlib.metadata``, so a checkout shipped to a
cluster as a Ray ``working_dir`` (not pip-installed) still knows its version.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
