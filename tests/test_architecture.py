"""The import graph of the package: layers, and no cycle between them.

Data flows structures -> workflows -> analysis, and the VASP production path sits on top
(README, "Where things live"). Every ``import`` of a ``lis_dft`` module counts, the ones
inside functions as well: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lis_dft

PACKAGE = Path(lis_dft.__file__).parent
#: layer -> the layers it must not import
FORBIDDEN = {
    "structures": {"dft_workflows", "analysis", "vasp", "cli"},
    "dft_workflows": {"vasp", "cli"},
    "analysis": {"dft_workflows", "vasp", "cli"},
    "vasp": {"cli"},
}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "lis_dft"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "lis_dft" or m.startswith("lis_dft.")}


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(("lis_dft", *path.relative_to(PACKAGE).with_suffix("").parts))
        edges[module] = _imports(path)
    return edges


def test_no_layer_imports_one_above_it():
    wrong = [
        f"{module} imports {target}"
        for module, targets in _edges().items()
        for target in targets
        if _layer(target) in FORBIDDEN.get(_layer(module), set())
    ]
    assert not wrong, "\n".join(wrong)


def test_workflows_and_analysis_do_not_import_each_other():
    layers: dict[str, set[str]] = {}
    for module, targets in _edges().items():
        layers.setdefault(_layer(module), set()).update(_layer(t) for t in targets)
    assert not ("analysis" in layers["dft_workflows"] and "dft_workflows" in layers["analysis"])
    assert "dft_workflows" not in layers["analysis"]


def test_the_checker_sees_lazy_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from lis_dft.vasp.parse import parse_calculation\n")
    assert _imports(source) == {"lis_dft.vasp.parse"}


def test_the_readme_names_every_module():
    readme = (PACKAGE.parent / "README.md").read_text()
    start = readme.index("## Where things live")
    table = readme[start : readme.index("\n## ", start + 1)]
    missing = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
        and f"`{path.name}`" not in table
        and f"/{path.name}`" not in table
    ]
    assert not missing, f"README 'Where things live' does not list: {missing}"
