"""The provider-neutral prompt model: Volatility, Reuse, Block, Layer, Turn and Prompt.

A Prompt is the request cut into *positions* in the order the providers cache them (tools, then
system, then messages), each position one top-level block, grouped into *layers* of equal
volatility. It is immutable: the optimizer and the renderers read it, nothing writes it.
Block payloads keep the Anthropic shape (the richest of the three); the OpenAI and Gemini
renderers translate from it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import accumulate
from typing import Any, Literal

__all__ = [
    "Block",
    "Document",
    "Example",
    "Layer",
    "PartKind",
    "Prompt",
    "Reuse",
    "Section",
    "Turn",
    "Volatility",
]

Section = Literal["tools", "system", "messages"]
PartKind = Literal["tool", "instruction", "example", "document", "message"]

#: Block types that can never carry ``cache_control`` (the API rejects the marker).
UNMARKABLE_TYPES = frozenset({"thinking", "redacted_thinking"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Reuse:
    """How a piece of content is expected to be reused: the input of every TTL decision.

    ``uses`` is how many requests are expected to share the content before it changes (1: used
    once). ``gaps`` are sample intervals in seconds between those requests (observed ones, or
    ``(480, 1500)`` for "every 8 to 25 minutes"); the share of gaps within a TTL is the
    probability that a cache entry with that TTL is still warm for the next use. ``interval`` is
    the typical gap, used as the only sample when no ``gaps`` are given. Deliberately not a mean:
    a TTL decision turns on how many gaps exceed the TTL, which an average hides.
    """

    uses: float = 1.0
    interval: float = 60.0
    gaps: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.uses >= 1 or not math.isfinite(self.uses):
            raise ValueError(f"Reuse.uses must be a finite number >= 1, got {self.uses!r}")
        if not self.interval > 0:
            raise ValueError(f"Reuse.interval must be > 0 seconds, got {self.interval!r}")

    def hit_probability(self, ttl_seconds: float) -> float:
        """Probability that the next reuse arrives within ``ttl_seconds`` of the previous one."""
        if self.gaps:
            return sum(1 for g in self.gaps if g <= ttl_seconds) / len(self.gaps)
        return 1.0 if self.interval <= ttl_seconds else 0.0


class Volatility(StrEnum):
    """How often a part of the prompt changes; decides its layer and its default Reuse."""

    STATIC = "static"
    """Changes only on deploy: tool definitions, core instructions, few-shot examples."""
    DAILY = "daily"
    """Changes a few times a day: a knowledge-base snapshot, today's context."""
    SESSION = "session"
    """Lives as long as one conversation or user session: documents chosen for it, the history."""
    TURN = "turn"
    """Changes on every request: the question, a timestamp, per-request retrieval results."""

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def default_reuse(self) -> Reuse:
        return _DEFAULT_REUSE[self]


_RANK = {Volatility.STATIC: 0, Volatility.DAILY: 1, Volatility.SESSION: 2, Volatility.TURN: 3}
_DEFAULT_REUSE = {
    Volatility.STATIC: Reuse(uses=1_000, interval=60),
    Volatility.DAILY: Reuse(uses=200, interval=60),
    Volatility.SESSION: Reuse(uses=8, interval=60),
    Volatility.TURN: Reuse(uses=1, interval=60),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A document for a retrieval-augmented prompt."""

    id: str
    text: str
    title: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Example:
    """A few-shot example: an input and the output the model should give for it."""

    input: str
    output: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """One top-level position of the request, the unit a cache breakpoint can mark."""

    #: Where it renders: ``tools``, ``system`` or ``messages``.
    section: Section
    #: What kind of part it came from.
    kind: PartKind
    #: The Anthropic-shaped payload (tool param or content block), without ``cache_control``.
    payload: Mapping[str, Any]
    #: Its path in the rendered Anthropic request, e.g. ``messages[3].content[1]``.
    path: str
    #: Estimated tokens of this block (see promptcache.tokens).
    tokens: int
    #: Name of the layer it belongs to.
    layer: str
    #: The TTL of a ``cache_control`` marker the user set by hand, if any.
    user_ttl: str | None = None
    #: Why this block cannot carry a breakpoint (empty when it can).
    unmarkable: str = ""

    @property
    def markable(self) -> bool:
        return not self.unmarkable


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    """Consecutive positions that share a volatility, and so a cache lifetime."""

    name: str
    section: Section
    volatility: Volatility
    reuse: Reuse
    #: Index of its first and one past its last position in ``Prompt.blocks``.
    start: int
    stop: int
    #: True for the conversation: it grows by appending, so earlier turns stay a valid prefix.
    append_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """One message of the conversation: a role and the indexes of its blocks in ``Prompt.blocks``."""

    role: Literal["user", "assistant"]
    start: int
    stop: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """An immutable request: positions in cache order, their layers, and the call parameters."""

    model: str
    blocks: tuple[Block, ...]
    layers: tuple[Layer, ...]
    turns: tuple[Turn, ...]
    #: Other keyword arguments of the call (max_tokens, tool_choice, thinking, metadata...).
    params: Mapping[str, Any] = field(default_factory=dict)
    platform: Literal["api", "bedrock", "vertex"] = "api"
    #: ``prefix_tokens[i]``: estimated tokens from the start up to and including block ``i``.
    prefix_tokens: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix_tokens", tuple(accumulate(b.tokens for b in self.blocks)))

    def extend(self, messages: Iterable[Mapping[str, Any]]) -> Prompt:
        """A new Prompt with ``messages`` appended to the conversation.

        The incremental path of a chat service: earlier blocks are reused as they are (already
        validated, counted and digested), so only the new turns cost anything.
        """
        from .builder import extend_prompt  # the builder owns validation

        return extend_prompt(self, messages)

    @property
    def total_tokens(self) -> int:
        return self.prefix_tokens[-1] if self.blocks else 0

    def section(self, name: Section) -> Sequence[Block]:
        return [b for b in self.blocks if b.section == name]

    def layer_of(self, index: int) -> Layer:
        for layer in self.layers:
            if layer.start <= index < layer.stop:
                return layer
        raise IndexError(f"position {index} is outside the prompt's {len(self.blocks)} blocks")
