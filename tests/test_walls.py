"""The walls between the core and the frameworks' wings, read from the source (no import runs).

The core (the engine, the variants, random numbers, scales, shapes, argument checks) imports no
framework and no wing, at module level or inside a function, and the package's import graph has
no cycle (``TYPE_CHECKING`` imports count: they are edges a reader follows too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import spatial_dropout

SRC = Path(spatial_dropout.__file__).parent
CORE = {
    "spatial_dropout._plan",
    "spatial_dropout._variants",
    "spatial_dropout._scale",
    "spatial_dropout._shapes",
    "spatial_dropout._validation",
    "spatial_dropout._options",
    "spatial_dropout._threads",
    "spatial_dropout._random",
    "spatial_dropout._random._philox",
    "spatial_dropout._random._source",
    "spatial_dropout._backends._contract",
    "spatial_dropout._backends._reference",
}
FRAMEWORKS = {"torch", "jax", "jaxlib", "flax", "equinox", "dask", "numba", "cupy"}
WINGS = (
    "_backends._torch",
    "_backends._jax",
    "_backends._dask",
    "_backends._numpy",
    "_backends._array_api",
    "torch",
    "flax",
    "equinox",
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


_FILES = {
    str(p.relative_to(SRC.parent).with_suffix("")).removesuffix("/__init__")
    for p in SRC.rglob("*.py")
}


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, anywhere in the file, as absolute names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names = {f"{base}.{alias.name}" for alias in node.names}
            known = {n for n in names if n.replace(".", "/") in _FILES}
            out |= known or {base}  # a submodule, or a name from the module ``base``
    return out


def _graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (its own ancestors, imported first, left out)."""
    modules = _modules()
    return {
        name: {m for m in _imports(name, path) if m in modules and not _within(name, m)}
        for name, path in modules.items()
    }


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_core_imports_no_framework_and_no_wing():
    modules = _modules()
    offenders = []
    for name in sorted(CORE):
        for imported in _imports(name, modules[name]):
            top = imported.split(".")[0]
            inner = imported.removeprefix("spatial_dropout.")
            if top in FRAMEWORKS or (top == "spatial_dropout" and inner.startswith(WINGS)):
                offenders.append(f"{name} imports {imported}")
    assert offenders == []


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_the_import_graph_has_no_cycle():
    assert _cycles(_graph()) == []


def test_the_checks_see_a_cycle_and_a_framework_import():
    """The checks above can fail: a cycle is found, and so is a framework import."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a -> b -> c -> a"]
    assert "torch" in _imports("spatial_dropout.torch", SRC / "torch.py")
    assert "spatial_dropout._plan" in _graph()["spatial_dropout._functional"]
    assert (
        "spatial_dropout._backends._numpy._compiled"
        in _graph()["spatial_dropout._backends._numpy._cpu"]
    )
