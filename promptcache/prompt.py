"""Prompt: an immutable request cut into cache positions, grouped into layers by volatility.

The positions are in the order the providers cache them (tools, then system, then messages), each
one top-level block. A Prompt also knows its own prefix fingerprints (what the provider's cache
keys on, see :mod:`promptcache.positions`), computed once and carried forward by
:meth:`Prompt.extend`, so planning the next turn of a long conversation costs the new turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Literal

from promptcache.blocks import Block, Layer, Section, Turn, Volatility
from promptcache.content import message_blocks
from promptcache.errors import PromptError
from promptcache.positions import (
    UNMARKABLE_TYPES,
    CacheView,
    Chain,
    Level,
    Position,
    SaltKey,
    anthropic_settings,
    position_key,
    raw_json,
    salts,
    strips_thinking,
)
from promptcache.redact import redacted_repr
from promptcache.tokens import TokenCounter, default_counter

__all__ = ["Prompt"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """An immutable request: positions in cache order, their layers, and the call parameters."""

    #: Header values and credentials in ``params`` are shown as ``<redacted>``.
    __repr__ = redacted_repr

    model: str
    blocks: tuple[Block, ...]
    layers: tuple[Layer, ...]
    turns: tuple[Turn, ...]
    #: Other keyword arguments of the call (max_tokens, tool_choice, thinking, metadata...).
    params: Mapping[str, Any] = field(default_factory=dict)
    platform: Literal["api", "bedrock", "vertex"] = "api"
    #: ``prefix_tokens[i]``: estimated tokens from the start up to and including block ``i``.
    prefix_tokens: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _fingerprints: tuple[str, ...] | None = field(init=False, repr=False, compare=False)
    _chain: Chain | None = field(init=False, repr=False, compare=False)
    #: Flags aggregated over the blocks (images, citations, web-search tools), carried by extend.
    _flags: tuple[bool, bool, tuple[Block, ...]] | None = field(init=False, repr=False,
                                                               compare=False)
    #: The turns as message dicts (payloads shared, not copied), carried by extend.
    _messages: tuple[dict[str, Any], ...] | None = field(init=False, repr=False, compare=False)
    #: ``(index, ttl)`` of the blocks the caller marked, carried by extend (see user_markers).
    _user_marks: tuple[tuple[int, str], ...] | None = field(init=False, repr=False,
                                                            compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix_tokens", tuple(accumulate(b.tokens for b in self.blocks)))
        object.__setattr__(self, "_fingerprints", None)
        object.__setattr__(self, "_chain", None)
        object.__setattr__(self, "_flags", None)
        object.__setattr__(self, "_messages", None)
        object.__setattr__(self, "_user_marks", None)

    # -- growing -------------------------------------------------------------------------------

    def extend(self, messages: Iterable[Mapping[str, Any]], *,
               counter: TokenCounter | None = None) -> Prompt:
        """A new Prompt with ``messages`` appended to the conversation.

        The incremental path of a chat service: earlier blocks are reused as they are (already
        validated, counted and digested), and so are their fingerprints, so only the new turns
        cost anything.
        """
        if isinstance(messages, Mapping | str | bytes) or not isinstance(messages, Iterable):
            raise PromptError(f"Prompt.extend takes a list of messages, got "
                              f"{type(messages).__name__}: wrap a single message in a list.",
                              path="messages")
        new = list(messages)
        if not new:
            return self
        counter = counter if counter is not None else default_counter()
        layers = list(self.layers)
        n_blocks, n_turns = len(self.blocks), len(self.turns)
        if not layers or not layers[-1].append_only:
            vol = Volatility.SESSION if n_turns or len(new) > 1 else Volatility.TURN
            layers.append(Layer(name="conversation", section="messages", volatility=vol,
                                reuse=vol.default_reuse, start=n_blocks, stop=n_blocks,
                                append_only=True))
        conv = layers[-1]
        if conv.volatility is Volatility.TURN and n_turns:
            # A single question that gets an answer has become a conversation.
            conv = Layer(name=conv.name, section=conv.section, volatility=Volatility.SESSION,
                         reuse=Volatility.SESSION.default_reuse, start=conv.start,
                         stop=conv.stop, append_only=True)
        added_turns: list[Turn] = []
        added: list[Block] = []
        for message in new:
            turn, blocks = message_blocks(message, n_turns + len(added_turns),
                                          n_blocks + len(added), conv.name, counter)
            added_turns.append(turn)
            added.extend(blocks)
        layers[-1] = Layer(name=conv.name, section=conv.section, volatility=conv.volatility,
                           reuse=conv.reuse, start=conv.start, stop=n_blocks + len(added),
                           append_only=True)
        return self._grown(tuple(added), tuple(layers), tuple(added_turns))

    def _grown(self, added: tuple[Block, ...], layers: tuple[Layer, ...],
               added_turns: tuple[Turn, ...]) -> Prompt:
        """This prompt with ``added`` blocks, without re-deriving anything about the old ones.

        Bypasses ``__init__`` on purpose: the prefix sums, fingerprints, flags and message dicts
        of the blocks already here are carried over, so a new turn costs the new turn.
        """
        out: Prompt = object.__new__(Prompt)
        prefix = tuple(accumulate((b.tokens for b in added), initial=self.total_tokens))[1:]
        for name, value in (("model", self.model), ("blocks", self.blocks + added),
                            ("layers", layers), ("turns", self.turns + added_turns),
                            ("params", self.params), ("platform", self.platform),
                            ("prefix_tokens", self.prefix_tokens + prefix),
                            ("_fingerprints", None), ("_chain", None), ("_flags", None),
                            ("_messages", None), ("_user_marks", None)):
            object.__setattr__(out, name, value)
        out._continue_from(self)
        return out

    def with_layers(self, layers: Sequence[Layer]) -> Prompt:
        """This prompt with other layer boundaries over the same blocks.

        Layers do not change what the cache sees, so the prefix sums, fingerprints, flags and
        message dicts computed so far are kept: relayering a long conversation costs its layers.
        The layers must cover the blocks in order, end to end.
        """
        layers = tuple(layers)
        stops = [0, *(layer.stop for layer in layers)]
        if (any(layer.start != stop for layer, stop in zip(layers, stops, strict=False))
                or stops[-1] != len(self.blocks)):
            raise PromptError("Prompt.with_layers: the layers must cover the prompt's "
                              f"{len(self.blocks)} blocks in order, end to end.", path="layers")
        out: Prompt = object.__new__(Prompt)
        for name in ("model", "blocks", "turns", "params", "platform", "prefix_tokens",
                     "_fingerprints", "_chain", "_flags", "_messages", "_user_marks"):
            object.__setattr__(out, name, getattr(self, name))
        object.__setattr__(out, "layers", layers)
        return out

    def _continue_from(self, parent: Prompt) -> None:
        """Carry what ``parent`` computed over to this longer prompt: only new blocks cost."""
        new = self.blocks[len(parent.blocks):]
        if parent._flags is not None:
            image, citations, web = parent._flags
            object.__setattr__(self, "_flags", (
                image or any(b.image for b in new), citations or any(b.citations for b in new),
                web))
        if parent._messages is not None:  # the turns only grew (see _grown)
            object.__setattr__(self, "_messages", parent._messages + self._message_dicts(
                self.turns[len(parent.turns):]))
        if parent._user_marks is not None:
            start = len(parent.blocks)
            object.__setattr__(self, "_user_marks", parent._user_marks + tuple(
                (i, b.user_ttl) for i, b in enumerate(new, start) if b.user_ttl))
        self._continue_fingerprints(parent)

    @property
    def user_markers(self) -> tuple[tuple[int, str], ...]:
        """``(index, ttl)`` of each block that carries the caller's own ``cache_control``.

        Read once and carried forward by :meth:`extend`: the optimizer asks on every call, and a
        scan of a long conversation's blocks would cost every block, not the new ones.
        """
        if self._user_marks is None:
            object.__setattr__(self, "_user_marks", tuple(
                (i, b.user_ttl) for i, b in enumerate(self.blocks) if b.user_ttl))
        assert self._user_marks is not None
        return self._user_marks

    # -- what the cache sees ---------------------------------------------------------------------

    def _strips_thinking(self) -> bool:
        if not self.turns:
            return False
        last = self.turns[-1]
        return strips_thinking(self.params.get("thinking"), last.role,
                               (str(self.blocks[i].payload.get("type"))
                                for i in range(last.start, last.stop)), self.model)

    def _settings(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The system-level and message-level settings (see :mod:`promptcache.positions`)."""
        if self._flags is None:
            rest = [b for b in self.blocks if b.section != "tools"]
            object.__setattr__(self, "_flags", (
                any(b.image for b in rest), any(b.citations for b in rest),
                tuple(b for b in self.blocks if b.web_search)))
        assert self._flags is not None
        image, citations, web = self._flags
        return anthropic_settings(self.params, web_search=[dict(b.payload) for b in web],
                                  citations=citations, images=image)

    def salt(self) -> SaltKey:
        """The settings folded into the fingerprints (see :mod:`promptcache.positions`)."""
        return salts("anthropic", self.model, *self._settings())

    @staticmethod
    def _stripped(b: Block, strip: bool) -> bool:
        return strip and b.section == "messages" and b.payload.get("type") in UNMARKABLE_TYPES

    def _keys(self, blocks: Sequence[Block], strip: bool) -> list[tuple[Level, bytes | None]]:
        if not strip:  # the usual case: no block is stripped, so none is asked (one call less each)
            return [(b.section, None if b.web_search
                     else position_key(b.section, b.digest, b.role, b.first)) for b in blocks]
        return [(b.section, None if b.web_search or self._stripped(b, strip)
                 else position_key(b.section, b.digest, b.role, b.first)) for b in blocks]

    def _continue_fingerprints(self, parent: Prompt) -> None:
        """Carry ``parent``'s fingerprints over when nothing that salts them has changed."""
        if parent._chain is None or parent._fingerprints is None:
            return
        strip = self._strips_thinking()
        if strip != parent._strips_thinking():
            return
        # The salt is a function of the model, the params and the flags: when extend carried all
        # three over unchanged (the usual new turn), it is the parent's, without re-serialising.
        same = (self.params is parent.params and self.model == parent.model
                and self._flags is not None and self._flags == parent._flags)
        if not same and self.salt() != parent._chain.salt:
            return
        chain = parent._chain.copy()
        added = chain.extend(self._keys(self.blocks[len(parent.blocks):], strip))
        object.__setattr__(self, "_fingerprints", parent._fingerprints + tuple(added))
        object.__setattr__(self, "_chain", chain)

    @property
    def fingerprints(self) -> tuple[str, ...]:
        """``fingerprints[i]``: what the provider's cache keys the prefix ending at block ``i`` on.

        Equal to :func:`promptcache.providers.registry.view_of` of the rendered request (markers are
        excluded), so the optimizer, the simulator and ``diff`` agree.
        """
        if self._fingerprints is None:
            chain = Chain(self.salt())
            fps = tuple(chain.extend(self._keys(self.blocks, self._strips_thinking())))
            object.__setattr__(self, "_fingerprints", fps)
            object.__setattr__(self, "_chain", chain)
            return fps
        return self._fingerprints

    def cache_view(self) -> CacheView:
        """This prompt as a :class:`~promptcache.positions.CacheView` (what diff and lint read)."""
        strip = self._strips_thinking()
        system, messages = self._settings()
        positions = tuple(
            Position(path=b.path, level=b.section, kind="tool" if b.section == "tools"
                     else str(b.payload.get("type")), payload=b.payload,
                     raw=raw_json(b.payload), digest=b.digest, tokens=b.tokens,
                     ttl=b.user_ttl, role=b.role, first=b.first,
                     name=str(b.payload.get("name", "")) if b.section == "tools" else None,
                     unmarkable=b.unmarkable, system_salted=b.web_search,
                     stripped=self._stripped(b, strip))
            for b in self.blocks)
        return CacheView(provider="anthropic", api="messages", model=self.model, blocks=positions,
                         system_settings=system, message_settings=messages)

    # -- reading ---------------------------------------------------------------------------------

    def _message_dicts(self, turns: Sequence[Turn]) -> tuple[dict[str, Any], ...]:
        blocks = self.blocks
        return tuple({"role": t.role, "content": [blocks[i].payload for i in range(t.start, t.stop)]}
                     for t in turns)

    def message_dicts(self) -> tuple[dict[str, Any], ...]:
        """The conversation as ``{"role", "content"}`` dicts holding the blocks' own payloads.

        Built once and carried forward by :meth:`extend`, so a renderer that needs the unmarked
        turns of a long conversation gets them without walking it. Shared, not copied: treat them
        as read-only (copy a turn before adding a marker to it).
        """
        if self._messages is None:
            object.__setattr__(self, "_messages", self._message_dicts(self.turns))
        assert self._messages is not None
        return self._messages

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
