"""The tests mirror the package: every test module sits in a ``tests/<area>/`` folder, and gets
its fixtures from ``tests/conftest.py`` by injection.

A test file dropped straight into ``tests/`` breaks the mirror; a fixture imported by name is a
second registration pytest makes in the importing module (the way five modules once each imported
and re-exported the Redis fixtures), and hides from a reader where the fixture comes from.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ALLOWED_AT_TOP = {"__init__.py", "conftest.py", "helpers.py"}


def _is_fixture(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return (isinstance(target, ast.Attribute) and target.attr == "fixture") or (
        isinstance(target, ast.Name) and target.id == "fixture")


def fixture_names(tree: ast.Module) -> set[str]:
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and any(_is_fixture(d) for d in node.decorator_list)}


def misplaced(root: Path) -> list[str]:
    """Test modules directly in ``root`` (only ``ALLOWED_AT_TOP`` and ``_*.py`` helpers may be)."""
    return sorted(p.name for p in root.glob("*.py")
                  if p.name not in ALLOWED_AT_TOP and not p.name.startswith("_"))


def fixture_imports(root: Path) -> list[str]:
    """``path: name`` for every fixture defined under ``root`` that a module imports by name from
    a module under ``root`` (``tests._redis`` may import the benchmarks' ``redis_server()``)."""
    trees = {p: ast.parse(p.read_text(), str(p)) for p in sorted(root.rglob("*.py"))}
    fixtures = set().union(*(fixture_names(t) for t in trees.values()))
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            local = isinstance(node, ast.ImportFrom) and (
                node.level > 0 or (node.module or "").split(".")[0] in {"tests", "conftest"})
            if isinstance(node, ast.ImportFrom) and local:
                found += [f"{path.relative_to(root)}: {a.name}" for a in node.names if a.name in fixtures]
    return found


def test_no_test_module_sits_directly_in_tests() -> None:
    assert misplaced(TESTS) == []


def test_every_test_folder_is_a_package() -> None:
    folders = {p.parent for p in TESTS.rglob("test_*.py")}
    assert sorted(str(f.relative_to(TESTS)) for f in folders if not (f / "__init__.py").exists()) == []


def test_no_fixture_is_imported_by_name() -> None:
    assert fixture_imports(TESTS) == []


def test_the_checks_can_fail(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("import pytest\n\n@pytest.fixture\ndef clock():\n    return 1\n")
    (tmp_path / "test_flat.py").write_text("from conftest import clock\n")
    assert misplaced(tmp_path) == ["test_flat.py"]
    assert fixture_imports(tmp_path) == ["test_flat.py: clock"]
