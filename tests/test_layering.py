"""Imports go one way (cluster -> actors -> pipelines), and pipelines never imports Ray."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_pipelines_never_import_ray_actors_or_cluster():
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & {"ray", "actors", "cluster"})
        for p in (ROOT / "pipelines").rglob("*.py")
        if _imports(p) & {"ray", "actors", "cluster"}
    }
    assert offenders == {}


def test_actors_never_import_cluster():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "actors").rglob("*.py") if "cluster" in _imports(p)]
    assert offenders == []


def test_importing_every_pipelines_module_loads_no_ray():
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "pipelines").rglob("*.py")
        if p.name != "__main__.py"
    ]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
