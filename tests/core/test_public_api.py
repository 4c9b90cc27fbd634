"""The public surface: small, each name its definition's own, and __all__ never drifts."""

from __future__ import annotations

import importlib
import inspect

import pytest

import promptcache

#: The documented submodules: each has an ``__all__`` that matches what it exports.
SUBMODULES = ("promptcache.anthropic", "promptcache.openai", "promptcache.gemini",
              "promptcache.cache", "promptcache.testing", "promptcache.simulator",
              "promptcache.session", "promptcache.warmup", "promptcache.diagnostics")


def test_all_is_sorted_and_matches_the_exports() -> None:
    exported = set(promptcache.__all__)
    assert list(promptcache.__all__) == sorted(promptcache.__all__)
    missing = [name for name in exported if not hasattr(promptcache, name)]
    assert not missing
    public = {name for name in vars(promptcache) if not name.startswith("_")
              and not isinstance(getattr(promptcache, name), type(promptcache))}
    assert public - exported == set(), "public names not in __all__"


def test_the_root_surface_fits_on_one_screen() -> None:
    assert len(promptcache.__all__) <= 25


@pytest.mark.parametrize("module_name", ["promptcache", *SUBMODULES])
def test_every_public_name_is_its_definitions_own_name(module_name: str) -> None:
    module = importlib.import_module(module_name)
    renamed = {name: obj.__name__ for name in module.__all__
               if (inspect.isclass(obj := getattr(module, name)) or inspect.isfunction(obj))
               and obj.__name__ != name}
    assert renamed == {}, f"{module_name} exports names under another name"


@pytest.mark.parametrize("module_name", SUBMODULES)
def test_submodule_all_lists_real_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert [n for n in module.__all__ if not hasattr(module, n)] == []
