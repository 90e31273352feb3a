"""Shared fixtures are plugins in tests/fixtures_*.py, one per component."""

import glob
import os

pytest_plugins = sorted(
    f"tests.{os.path.basename(p)[:-3]}" for p in glob.glob(os.path.join(os.path.dirname(__file__), "fixtures_*.py"))
)
