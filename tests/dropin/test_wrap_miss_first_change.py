"""The miss report names the first changed block of a long conversation (found by bisecting the
prefix fingerprints): the same block a block-by-block walk finds, wherever the change is."""

from __future__ import annotations

from typing import Any

import pytest

from promptcache import PromptBuilder
from promptcache.diagnostics.miss import miss_report

MODEL = "claude-sonnet-4-6"


def _messages(n: int) -> list[dict[str, Any]]:
    return [{"role": "user" if i % 2 == 0 else "assistant",
             "content": [{"type": "text", "text": f"turn {i} " * 20}]} for i in range(n)]


def _prompt(messages: list[dict[str, Any]]) -> Any:
    return PromptBuilder(MODEL).add_system("You are terse. " * 200).add_messages(messages).build()


@pytest.mark.parametrize("changed", [0, 1, 17, 63, 64, 119])
def test_first_changed_block_is_named(changed: int) -> None:
    before = _messages(120)
    after = [dict(m) for m in before] + _messages(2)
    after[changed] = {"role": after[changed]["role"],
                      "content": [{"type": "text", "text": "edited"}]}
    old, new = _prompt(before), _prompt(after)
    walked = next(i for i, (a, b) in enumerate(zip(old.fingerprints, new.fingerprints,
                                                   strict=False)) if a != b)
    report = miss_report(None, {}, None, actual_read=0, previous_prompt=old, prompt=new)
    assert report.changed_path == new.blocks[walked].path == f"messages[{changed}].content[0]"


def test_an_unchanged_prefix_names_no_block() -> None:
    before = _messages(50)
    old, new = _prompt(before), _prompt(before + _messages(3))
    report = miss_report(None, {}, None, actual_read=0, previous_prompt=old, prompt=new)
    assert report.changed_path is None and report.reason == "read-below-expected"
