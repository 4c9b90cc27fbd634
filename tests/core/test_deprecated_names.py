"""Renamed public names: the old name still works, warns, and is the same object as the new one."""

from __future__ import annotations

import importlib

import pytest

RENAMED = [
    ("promptcache.anthropic", "Finding", "MarkerFinding"),
    ("promptcache.diagnostics", "Finding", "LintFinding"),
    ("promptcache.diagnostics", "MissReport", "MissDiagnosis"),
    ("promptcache.simulator", "Position", "SimulatedBlock"),
    ("promptcache.testing", "Reply", "ReplyText"),
    ("promptcache.warmup", "Mode", "WarmupMode"),
    ("promptcache.replay.compare", "CallRecord", "ReplayedCall"),
    ("promptcache.replay.workloads", "load_trace", "load_replay_trace"),
]


@pytest.mark.parametrize(("module", "old", "new"), RENAMED)
def test_an_old_name_warns_and_is_the_new_object(module: str, old: str, new: str) -> None:
    mod = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"{module}.{old} is deprecated: it was renamed {new}"):
        value = getattr(mod, old)
    assert value is getattr(mod, new)
    assert old not in mod.__all__ and new in mod.__all__


def test_a_name_never_defined_is_still_an_attribute_error() -> None:
    mod = importlib.import_module("promptcache.diagnostics")
    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        _ = mod.Nonexistent


def test_from_import_of_an_old_name_works() -> None:
    with pytest.warns(DeprecationWarning):
        from promptcache.testing import Reply  # type: ignore[attr-defined]  # the old name, on purpose
    from promptcache.testing import ReplyText

    assert Reply is ReplyText
