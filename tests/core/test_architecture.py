"""The package's dependencies go one way: no module of promptcache takes part in an import cycle.

Every ``import`` counts, those inside functions included: a lazy import hides a cycle from the
interpreter, not from the design. A package's ``__init__`` that re-exports its submodules is an
edge from the package to them; a submodule is never taken to import its parent package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import promptcache

PACKAGE = Path(promptcache.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield sub if sub in MODULES else target


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        graph[module] = {t for t in _imports(module, path) if t in MODULES and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_takes_part_in_an_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_can_fail() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_core_never_imports_a_feature_or_a_provider() -> None:
    core = {"promptcache.blocks", "promptcache.prompt", "promptcache.content",
            "promptcache.builder", "promptcache.positions", "promptcache.tokens",
            "promptcache.limits", "promptcache.errors", "promptcache.clock",
            "promptcache.optimizer", "promptcache.placement", "promptcache.placement_search",
            "promptcache.plan", "promptcache.state", "promptcache.state_evidence",
            "promptcache.rules", "promptcache.usage", "promptcache.sdk", "promptcache.shapes",
            "promptcache.redact",
            # Logging and the kill switches: stdlib only, so the state can log its outages.
            "promptcache.log", "promptcache.switches"}
    graph = import_graph()
    leaks = {m: sorted(t for t in graph[m] if t not in core) for m in core if m in graph}
    assert {m: t for m, t in leaks.items() if t} == {}


def test_docs_architecture_lists_every_module_once() -> None:
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    listed = [m for m in MODULES if f"`{m}`" in page]
    assert sorted(set(MODULES) - set(listed)) == []
