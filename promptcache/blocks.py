"""The values a Prompt is made of: Volatility, Reuse, Block, Layer, Turn, Document, Example.

A Block is one cache position, and carries everything about it that the planner needs and that
never changes: its digest, token count and flags are computed once, when it is made, so a long
conversation is never walked again to re-derive them. Block payloads keep the Anthropic shape
(the richest of the three); the OpenAI and Gemini renderers translate from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from promptcache.positions import (
    block_digest,
    block_flags,
    is_web_search,
)

__all__ = [
    "Block",
    "Document",
    "Example",
    "Layer",
    "PartKind",
    "Reuse",
    "Section",
    "Turn",
    "Volatility",
]

Section = Literal["tools", "system", "messages"]
PartKind = Literal["tool", "instruction", "example", "document", "message"]



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
    #: The message role (``user``/``assistant``) for a message block.
    role: str | None = None
    #: True for the first block of a message.
    first: bool = False
    #: Computed once from the payload: its digest (see :func:`promptcache.positions.block_digest`)
    #: and whether it holds an image, enables citations, or is the web-search tool. Each changes
    #: what a cache level means, so the prompt needs them on every plan.
    digest: bytes = field(init=False, repr=False, compare=False)
    image: bool = field(init=False, repr=False, compare=False)
    citations: bool = field(init=False, repr=False, compare=False)
    web_search: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        payload = self.payload
        set_ = object.__setattr__
        set_(self, "digest", block_digest(payload))
        if self.section == "tools":
            set_(self, "image", payload.get("type") == "image")
            set_(self, "citations", False)
            set_(self, "web_search", is_web_search(payload))
        else:
            image, citations = block_flags(payload)  # has_image and citations_on, one walk
            set_(self, "image", image)
            set_(self, "citations", citations)
            set_(self, "web_search", False)

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
