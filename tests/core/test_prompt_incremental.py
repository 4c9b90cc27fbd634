"""Prompt.extend carries everything it computed forward, and gets what a full build gets."""

from __future__ import annotations

from typing import Any

import pytest

from promptcache import Prompt
from tests.helpers import chat_builder, text_of, tool_turns

PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}


def turns(n: int, seed: int = 0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        out += [{"role": "user", "content": text_of(30, seed + i)},
                {"role": "assistant", "content": text_of(40, seed + i + 1)}]
    return out


def grown(base: Prompt, *steps: list[dict[str, Any]]) -> Prompt:
    prompt = base
    _ = prompt.fingerprints, prompt.message_dicts()  # computed, so extend carries them over
    for step in steps:
        prompt = prompt.extend(step)
    return prompt


STEPS = {
    "chat": [turns(1, 10), turns(1, 20), turns(3, 30)],
    "tool loop": [tool_turns(12, seed=1), tool_turns(12, seed=2)],
    "first image": [turns(1, 40), [{"role": "user", "content": [
        {"type": "image", "source": PNG}, {"type": "text", "text": "and this?"}]}]],
}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_extend_equals_a_full_build(name: str) -> None:
    history = turns(4)
    base = chat_builder().add_messages(history).build()
    steps = STEPS[name]
    extended = grown(base, *steps)
    full = chat_builder().add_messages(history + [m for s in steps for m in s]).build()
    assert extended.blocks == full.blocks
    assert extended.turns == full.turns
    assert [(x.name, x.start, x.stop) for x in extended.layers] == \
        [(x.name, x.start, x.stop) for x in full.layers]
    assert extended.prefix_tokens == full.prefix_tokens
    assert extended.fingerprints == full.fingerprints
    assert extended.message_dicts() == full.message_dicts()


def test_extend_reuses_the_blocks_it_already_had() -> None:
    base = chat_builder().add_messages(turns(3)).build()
    extended = base.extend(turns(1, 99))
    assert all(a is b for a, b in zip(base.blocks, extended.blocks, strict=False))
    assert extended.blocks[: len(base.blocks)] == base.blocks


def test_a_first_image_re_salts_the_messages_and_nothing_before_them() -> None:
    base = chat_builder().add_messages(turns(2)).build()
    with_image = grown(base, STEPS["first image"][1])
    first_message = base.turns[0].start
    assert with_image.fingerprints[:first_message] == base.fingerprints[:first_message]
    assert with_image.fingerprints[first_message] != base.fingerprints[first_message]
