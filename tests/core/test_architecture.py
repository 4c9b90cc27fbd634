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
            "promptcache.plan", "promptcache.state", "promptcache.state_duel", "promptcache.state_evidence",
            "promptcache.state_model", "promptcache.state_prior", "promptcache.state_store",
            "promptcache.rules", "promptcache.usage", "promptcache.usage.billing",
            "promptcache.usage.records", "promptcache.usage.ledger", "promptcache.sdk",
            "promptcache.shapes",
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


BENCHMARKS = PACKAGE.parent / "benchmarks"


def _private_uses(source: str, filename: str) -> list[str]:
    """Each private promptcache import in ``source``: a module with a component that starts
    with ``_``, a name that does, or a name missing from its module's ``__all__``."""
    import importlib

    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            pairs = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            pairs = [(node.module or "", alias.name) for alias in node.names]
        else:
            continue
        for module, name in pairs:
            if module.split(".")[0] != "promptcache":
                continue
            where = f"{filename}:{node.lineno}: {module}" + (f".{name}" if name else "")
            if any(part.startswith("_") for part in module.split(".")):
                found.append(f"{where} (private module)")
            elif name is not None and name.startswith("_"):
                found.append(f"{where} (private name)")
            elif name is not None:
                public = getattr(importlib.import_module(module), "__all__", None)
                if public is not None and name not in public \
                        and f"{module}.{name}" not in MODULES:
                    found.append(f"{where} (not in {module}.__all__)")
    return found


def test_benchmarks_import_only_public_promptcache_names() -> None:
    """benchmarks/ is the first outside user of the API: what it needs, a user may need too, so
    it is public (in a module's ``__all__``, no leading underscore), not reached for."""
    found = [use for path in sorted(BENCHMARKS.glob("*.py"))
             for use in _private_uses(path.read_text(), path.name)]
    assert found == []


def test_the_benchmark_import_check_can_fail() -> None:
    source = ("from promptcache.session._anthropic import parse_usage\n"
              "from promptcache.cache.keys import _memo\n"
              "import promptcache.dropin._wrap\n"
              "def f():\n    from promptcache.limits import _TABLES\n"
              "from promptcache.cache import wrappers\n"
              "from promptcache.limits import limits_for\n")
    assert sorted(_private_uses(source, "b.py")) == [
        "b.py:1: promptcache.session._anthropic.parse_usage (private module)",
        "b.py:2: promptcache.cache.keys._memo (private name)",
        "b.py:3: promptcache.dropin._wrap (private module)",
        "b.py:5: promptcache.limits._TABLES (private name)",
    ]
