"""The tree is the architecture: one package per part, imports only run down the layers, no cycles.

The parts and what each may import are written in each package's `__init__.py` docstring; `ALLOWED` below is the
same table, so a change to one without the other fails here.
"""

import ast
from pathlib import Path

import pytest

from tests.factory import ROOT

# part -> the parts of the launcher it may import (besides itself). Leaf modules first, the CLI last.
ALLOWED = {
    "launcher.errors": set(),
    "launcher.output": set(),
    "launcher.schema": set(),
    "launcher.config": {"launcher.errors", "launcher.schema"},
    "launcher.render": {"launcher.config", "launcher.schema"},
    "launcher.status": {"launcher.output"},
    "launcher.local": {"launcher.config", "launcher.render", "launcher.status", "launcher.schema"},
    "launcher.cluster": {"launcher.config", "launcher.render", "launcher.status", "launcher.schema",
                         "launcher.errors", "launcher.output"},
    "launcher.sweeps": {"launcher.cluster", "launcher.config", "launcher.render", "launcher.schema",
                        "launcher.errors"},
    "launcher.cli": {"launcher.sweeps", "launcher.cluster", "launcher.local", "launcher.config", "launcher.render",
                     "launcher.status", "launcher.schema", "launcher.errors", "launcher.output", "trainer.checkpoints"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in ("launcher", "trainer") for p in (ROOT / pkg).rglob("*.py")}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports anywhere in its source (inside functions too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found |= {f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names}
    return {m for m in found if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def part_of(module: str) -> str:
    """launcher.cluster.api -> launcher.cluster; trainer.checkpoints.s3 -> trainer.checkpoints. `python -m
    launcher` is the CLI."""
    part = ".".join(module.split(".")[:2])
    return "launcher.cli" if part == "launcher.__main__" else part


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_anywhere_in_launcher_or_trainer():
    assert cycles(graph()) == []


def test_imports_run_down_the_launcher_layers_only():
    wrong = sorted(f"{m} -> {t}" for m, targets in graph().items() if part_of(m) in ALLOWED
                   for t in targets if part_of(t) != part_of(m) and part_of(t) not in ALLOWED[part_of(m)])
    assert wrong == []


def test_the_launcher_has_no_loose_modules_but_its_leaves():
    loose = {p.stem for p in (ROOT / "launcher").glob("*.py")} - {"__init__", "__main__"}
    assert loose == {"errors", "output"}
    assert {f"launcher.{p.name}" for p in (ROOT / "launcher").iterdir() if (p / "__init__.py").exists()} \
        == set(ALLOWED) - {"launcher.errors", "launcher.output"}


@pytest.mark.parametrize("part", sorted(p for p in ALLOWED if p not in ("launcher.errors", "launcher.output")))
def test_each_package_says_what_it_is_and_what_it_may_import(part):
    doc = ast.get_docstring(ast.parse((ROOT / part.replace(".", "/") / "__init__.py").read_text())) or ""
    assert "May import:" in doc, f"{part}/__init__.py needs a docstring that ends with 'May import: ...'"
    said = doc.rpartition("May import:")[2]
    named = {f"launcher.{w}" for w in said.replace(",", " ").replace(".", " ").split()
             if f"launcher.{w}" in ALLOWED} | ({"trainer.checkpoints"} if "trainer.checkpoints" in said else set())
    assert named == ALLOWED[part]


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
