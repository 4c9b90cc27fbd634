"""Prompt.with_layers: other layer boundaries over the same blocks, nothing recomputed."""

from __future__ import annotations

import pytest

from promptcache import Prompt, PromptBuilder, PromptError
from promptcache.blocks import Layer, Volatility


def _prompt() -> Prompt:
    return (PromptBuilder("claude-sonnet-4-5")
            .add_system([{"type": "text", "text": "rules " * 50},
                         {"type": "text", "text": "document " * 50}])
            .add_messages([{"role": "user", "content": "hi"},
                           {"role": "assistant", "content": "hello"}])
            .add_user_turn("and?").build())


def test_relayering_keeps_blocks_turns_and_fingerprints() -> None:
    prompt = _prompt()
    fingerprints = prompt.fingerprints
    system, conversation = prompt.layers
    layers = (Layer(name="system", section="system", volatility=Volatility.STATIC,
                    reuse=system.reuse, start=0, stop=1),
              Layer(name="documents", section="system", volatility=Volatility.SESSION,
                    reuse=Volatility.SESSION.default_reuse, start=1, stop=2),
              conversation)
    out = prompt.with_layers(layers)
    assert out.layers == layers
    assert (out.blocks, out.turns, out.params) == (prompt.blocks, prompt.turns, prompt.params)
    assert out.fingerprints == fingerprints and out.prefix_tokens == prompt.prefix_tokens
    # It grows as any Prompt does: the conversation layer takes the new turn.
    grown = out.extend([{"role": "assistant", "content": "ok"}])
    assert grown.layers[:2] == layers[:2] and grown.layers[-1].stop == len(grown.blocks)


def test_layers_that_do_not_cover_the_blocks_are_refused() -> None:
    prompt = _prompt()
    with pytest.raises(PromptError, match="cover"):
        prompt.with_layers(prompt.layers[:1])
    with pytest.raises(PromptError, match="cover"):
        prompt.with_layers(prompt.layers[::-1])
