"""What a provider's cache sees: any request, or a Prompt, as positions with prefix fingerprints.

This is the one place where a request becomes cache positions. The optimizer and
:class:`~promptcache.state.CacheState` (through :attr:`Prompt.fingerprints`), the simulators,
``diff``, ``lint``, warm-up and the benchmark strategies all read it, so they cannot disagree
about whether two requests share a prefix.

A *position* is one tool definition or one content block, in the order the provider caches them
(Anthropic and OpenAI: tools, system, messages; Gemini: system, tools, messages). Its *digest* is
a hash of its JSON in the key order given (the bytes the provider sees: a shuffled key is a
different prompt), ``cache_control`` excluded, so moving a marker never looks like a content
change. A message block's key also carries its role and whether it opens a message. The
*fingerprint* at position ``i`` chains the model and every key up to ``i``; settings that the
Anthropic table says invalidate a whole level are folded in where that level starts (web search
and citations toggles, ``speed``: system; tool_choice, thinking settings, images, ``effort``:
messages; see :func:`anthropic_settings`). Web-search tool
definitions are compared through the system salt, and thinking blocks the API strips (thinking on,
last user turn not a tool result) are not in the prompt the model sees, so neither adds a key.

Digests are computed once per block: a :class:`~promptcache.blocks.Block` carries its own, and a
:class:`Chain` continues from where a shorter prompt stopped, so a new turn costs the new turn.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from promptcache.errors import PromptError
from promptcache.limits import Provider, keeps_thinking

__all__ = [
    "LEVEL_ORDER",
    "SALT",
    "SALT_SYSTEM",
    "UNMARKABLE_TYPES",
    "CacheView",
    "Chain",
    "Level",
    "Position",
    "SaltKey",
    "anthropic_settings",
    "block_digest",
    "block_flags",
    "citations_on",
    "has_image",
    "is_web_search",
    "position_key",
    "strips_thinking",
    "unmarkable_reason",
]

Level = Literal["tools", "system", "messages"]

#: The order each provider caches its levels in (Gemini puts the system instruction first).
LEVEL_ORDER: Mapping[Provider, tuple[Level, ...]] = {
    "anthropic": ("tools", "system", "messages"),
    "openai": ("tools", "system", "messages"),
    "gemini": ("system", "tools", "messages"),
    # Converse requests reach Claude as Messages requests: tools, system, messages.
    "bedrock_converse": ("tools", "system", "messages"),
}

#: Block types that can never carry ``cache_control`` (the API rejects the marker).
UNMARKABLE_TYPES = frozenset({"thinking", "redacted_thinking"})

#: Every salt key starts with SALT; the system-level one with SALT_SYSTEM (see CacheView.keys).
SALT = b"\xa7"
SALT_SYSTEM = b"\xa7system"
_THINKING_ON = frozenset({"enabled", "adaptive"})


def raw_json(value: Any) -> str:
    """JSON in the key order given: what the provider hashes."""
    return _RAW_JSON(value)


#: ``json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)``, with the
#: encoder made once: ``json.dumps`` builds a new one on every call with arguments, and every
#: new block is dumped once for its digest. (The encoder keeps no state between calls.)
_RAW_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def canonical_json(value: Any) -> str:
    """JSON with sorted keys: equal for two values that differ only by key order.

    ``sort_keys`` compares the keys before JSON turns them into strings, so a mapping whose keys
    mix types (``{None: 1, 1: 2}``, which the SDKs send as ``{"null": 1, "1": 2}``) raised a bare
    TypeError; such a value is sorted by the keys JSON will write instead.
    """
    try:
        return _CANONICAL_JSON(value)
    except TypeError:
        return json.dumps(_json_keys(value), sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"), default=str)


#: ``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)``
#: with the encoder made once (see _RAW_JSON).
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                                   default=str).encode


def _json_keys(value: Any) -> Any:
    """``value`` with every mapping's keys as the strings JSON writes for them (``None`` is
    ``"null"``, ``1`` is ``"1"``); a key JSON cannot write is kept as its ``repr``. Two keys
    that become the same string stay apart (JSON would send both), marked by their type."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if isinstance(k, str):
                name = k
            elif k is None or isinstance(k, bool | int | float):
                name = json.dumps(k)
            else:
                name = repr(k)
            if name in out:
                name = f"{name}\x00{type(k).__name__}"
            out[name] = _json_keys(v)
        return out
    if isinstance(value, list | tuple):
        return [_json_keys(v) for v in value]
    return value


def _utf8(text: str) -> bytes:
    """UTF-8, lone surrogates included: hashing must never fail on text a user could send."""
    return text.encode("utf-8", "surrogatepass")


def block_digest(payload: Any) -> bytes:
    """A 16-byte digest of one block's JSON (key order kept), its ``cache_control`` excluded."""
    if (type(payload) is dict or isinstance(payload, Mapping)) and "cache_control" in payload:
        payload = {k: v for k, v in payload.items() if k != "cache_control"}
    # _digest(raw_json(payload)), inlined: every new block entering a Prompt is digested once.
    return hashlib.blake2b(_RAW_JSON(payload).encode("utf-8", "surrogatepass"),
                           digest_size=16).digest()


def position_key(level: str, digest: bytes, role: str | None = None, first: bool = False) -> bytes:
    """What one position adds to the prefix hash: level, role, message boundary and digest."""
    return _key_head(level, role or "", bool(first)) + digest


@functools.lru_cache(maxsize=64)
def _key_head(level: str, role: str, first: bool) -> bytes:
    """``position_key``'s bytes before the digest: a few distinct (level, role, first) values,
    asked once per block."""
    return b"%s\x00%s\x00%d\x00" % (_utf8(level), _utf8(role), first)


# -- flags that change what a level means ------------------------------------------------------


def _any_mapping(value: Any, test: Callable[[Mapping[str, Any]], bool]) -> bool:
    """True if ``test`` holds for some mapping nested anywhere in ``value``.

    Iterative, not recursive: the SDKs send blocks nested 700 deep, past Python's recursion
    limit.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if test(item):
                return True
            stack.extend(v for v in item.values() if isinstance(v, Mapping | list | tuple))
        elif isinstance(item, list | tuple):
            stack.extend(v for v in item if isinstance(v, Mapping | list | tuple))
    return False


def _is_image(block: Mapping[str, Any]) -> bool:
    return block.get("type") == "image"


def _enables_citations(block: Mapping[str, Any]) -> bool:
    c = block.get("citations")
    return c is not None and isinstance(c, Mapping) and bool(c.get("enabled"))


def has_image(value: Any) -> bool:
    """True if ``value`` holds an image block anywhere (tool results included)."""
    return _any_mapping(value, _is_image)


def citations_on(value: Any) -> bool:
    """True if ``value`` holds a block with ``citations: {enabled: true}`` anywhere."""
    return _any_mapping(value, _enables_citations)


def block_flags(block: Mapping[str, Any]) -> tuple[bool, bool]:
    """``(has_image(block), citations_on(block))`` for one block, in one walk.

    Every block entering a Prompt is asked both; a block holds few containers, so the walk costs
    little next to two walks with an ABC check per value. The plain JSON containers are told
    by their exact type first; anything else by the same isinstance checks as :func:`has_image`.
    """
    # A mapping, list or tuple is walked into (the plain JSON types told by their exact type
    # first), inline: this runs for every new block.
    for value in block.values():
        kind = type(value)
        if kind is not str and (kind is dict or kind is list
                                or isinstance(value, Mapping | list | tuple)):
            break
    else:
        return block.get("type") == "image", _enables_citations(block)
    image = citations = False
    stack: list[Any] = [block]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict or (kind is not list and kind is not tuple and isinstance(item, Mapping)):
            if not image and _is_image(item):
                image = True
            if not citations and _enables_citations(item):
                citations = True
            if image and citations:
                break
            children: Iterable[Any] = item.values()
        elif kind is list or kind is tuple or isinstance(item, list | tuple):
            children = item
        else:
            continue
        for value in children:
            kind = type(value)
            if kind is dict or kind is list or (kind is not str and isinstance(
                    value, Mapping | list | tuple)):
                push(value)
    return image, citations


def is_web_search(tool: Mapping[str, Any]) -> bool:
    """Anthropic's web-search tool: the docs say toggling it changes the *system* level."""
    return str(tool.get("type", "")).startswith("web_search")


def thinking_enabled(thinking: Any) -> bool:
    return isinstance(thinking, Mapping) and thinking.get("type") in _THINKING_ON


def strips_thinking(thinking: Any, last_role: str | None, last_kinds: Iterable[str],
                    model: str = "") -> bool:
    """True when the API drops earlier thinking blocks from the context.

    With extended thinking on, a last user message that carries anything but tool results
    starts a new assistant turn: on older models (older Opus and Sonnet, Haiku through 4.5) the
    thinking blocks before it are stripped; Opus 4.5+, Sonnet 4.6+, Fable and Mythos keep them,
    and the cache with them (the model row's ``keeps_thinking``, PROVIDER_FACTS F).
    """
    return (thinking_enabled(thinking) and last_role == "user"
            and any(k != "tool_result" for k in last_kinds) and not keeps_thinking(model))


def unmarkable_reason(block: Mapping[str, Any]) -> str:
    """Why a marker on this Anthropic block cannot work ("" when it can)."""
    kind = block.get("type")
    if isinstance(kind, str) and kind in UNMARKABLE_TYPES:
        return f"a {kind} block cannot carry cache_control"
    if kind == "text" and not str(block.get("text", "")).strip():
        return "an empty text block cannot carry cache_control"
    return ""


def anthropic_settings(params: Mapping[str, Any], *, web_search: Sequence[Any], citations: bool,
                       images: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings Anthropic's table says invalidate the system level, then the messages.

    System: the web-search tool, citations, and ``speed`` (switching it invalidates system and
    messages). Messages: ``tool_choice``, thinking settings, images anywhere, and the ``effort``
    of ``output_config`` (rendered into the prompt like thinking). ``speed`` and ``effort`` are
    only folded in when set, so requests that never use them keep their fingerprints.
    """
    system: dict[str, Any] = {"web_search": list(web_search), "citations": citations}
    if params.get("speed") is not None:
        system["speed"] = params["speed"]
    messages: dict[str, Any] = {"tool_choice": params.get("tool_choice"),
                                "thinking": params.get("thinking"), "images": images}
    output_config = params.get("output_config")
    if isinstance(output_config, Mapping) and output_config.get("effort") is not None:
        messages["effort"] = output_config["effort"]
    return system, messages


# -- the chain -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SaltKey:
    """Everything besides content that changes a prefix's fingerprints: if two prompts have the
    same SaltKey, the fingerprints of their common blocks are equal."""

    head: bytes
    order: tuple[Level, ...]
    system: bytes | None
    messages: bytes | None


def salts(provider: Provider, model: str, system: Mapping[str, Any] | None,
          messages: Mapping[str, Any] | None) -> SaltKey:
    return SaltKey(head=_utf8(f"{provider}:{model}"), order=LEVEL_ORDER[provider],
                   system=_utf8(canonical_json(system)) if system else None,
                   messages=_utf8(canonical_json(messages)) if messages else None)


class Chain:
    """Prefix fingerprints, built one position at a time and continued later.

    ``copy()`` before continuing a chain that another prompt still uses.
    """

    __slots__ = ("_h", "_rank", "_salt")

    def __init__(self, salt: SaltKey) -> None:
        self._salt = salt
        self._h = hashlib.blake2b(salt.head, digest_size=16)
        self._rank = -1  # highest level rank seen so far

    def copy(self) -> Chain:
        out = Chain.__new__(Chain)
        out._salt, out._h, out._rank = self._salt, self._h.copy(), self._rank
        return out

    @property
    def salt(self) -> SaltKey:
        return self._salt

    def _enter(self, level: Level) -> None:
        order = self._salt.order
        rank = order.index(level)
        if rank <= self._rank:
            return
        system_rank = order.index("system")
        if self._salt.system is not None and self._rank < system_rank <= rank:
            self._h.update(b"\xa7system\x00" + self._salt.system + b"\x00")
        if self._salt.messages is not None and level == "messages":
            self._h.update(b"\xa7messages\x00" + self._salt.messages + b"\x00")
        self._rank = rank

    def add(self, level: Level, key: bytes | None) -> str:
        """Add one position (``key`` None: a position that adds nothing) and return its fingerprint."""
        self._enter(level)
        if key is not None:
            self._h.update(key)
        return self._h.copy().hexdigest()

    def extend(self, items: Iterable[tuple[Level, bytes | None]]) -> list[str]:
        """``[self.add(level, key) for level, key in items]``, with the level entered once per
        run of equal levels (entering a level already entered changes nothing)."""
        out: list[str] = []
        h = self._h
        entered: Level | None = None
        for level, key in items:
            if level != entered:
                self._enter(level)
                entered = level
            if key is not None:
                h.update(key)
            out.append(h.copy().hexdigest())
        return out


# -- positions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """One cache position of a request: a tool definition or a content block."""

    #: Where it is in the request, e.g. ``messages[3].content[1]`` or ``tools[0]``.
    path: str
    level: Level
    #: The block's ``type`` (``"tool"`` for a tool definition, ``"text"`` for a bare string).
    kind: str
    #: The block without its marker.
    payload: Any
    #: JSON in the key order given: what the provider hashes.
    raw: str
    #: Digest of ``raw`` (see :func:`block_digest`).
    digest: bytes
    #: Estimated tokens (see promptcache.tokens).
    tokens: int
    #: TTL of an explicit marker on this block (``cache_control`` or ``prompt_cache_breakpoint``).
    ttl: str | None = None
    role: str | None = None
    #: True for the first block of a message.
    first: bool = False
    #: A tool's name, so reorderings of the tool list can be told apart from edits.
    name: str | None = None
    #: Why a marker on this block cannot work ("" when it can).
    unmarkable: str = ""
    #: True for Anthropic's web-search tool: compared through the system salt, not as a tool.
    system_salted: bool = False
    #: True for an earlier thinking block the API drops (see :func:`strips_thinking`).
    stripped: bool = False

    @property
    def canonical(self) -> str:
        """JSON with sorted keys: equal for two blocks that differ only by key order."""
        return canonical_json(self.payload)

    @property
    def markable(self) -> bool:
        return not self.unmarkable

    def key(self) -> bytes | None:
        """What this position adds to the prefix hash (None: nothing, see the module doc)."""
        if self.system_salted or self.stripped:
            return None
        return position_key(self.level, self.digest, self.role, self.first)


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheView:
    """A request as its provider's cache sees it: positions in cache order, settings, markers."""

    provider: Provider
    #: ``messages`` (Anthropic), ``chat`` or ``responses`` (OpenAI), ``generate_content`` (Gemini).
    api: str
    model: str
    blocks: tuple[Position, ...]
    #: Settings folded in where the system level starts (Anthropic: web search, citations).
    system_settings: Mapping[str, Any] = field(default_factory=dict)
    #: Settings folded in where the messages start (Anthropic: tool_choice, thinking, images).
    message_settings: Mapping[str, Any] = field(default_factory=dict)
    #: TTL of Anthropic's request-level ``cache_control``, if set.
    automatic_ttl: str | None = None
    prefix_tokens: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        total, out = 0, []
        for b in self.blocks:
            total += b.tokens
            out.append(total)
        object.__setattr__(self, "prefix_tokens", tuple(out))

    @property
    def positions(self) -> tuple[Position, ...]:
        return self.blocks

    @property
    def total_tokens(self) -> int:
        return self.prefix_tokens[-1] if self.blocks else 0

    def tokens_before(self, index: int) -> int:
        """Tokens of blocks ``[0, index)``."""
        return self.prefix_tokens[index - 1] if index > 0 else 0

    @property
    def salt(self) -> SaltKey:
        return salts(self.provider, self.model, self.system_settings, self.message_settings)

    def breakpoints(self) -> tuple[tuple[int, str, bool], ...]:
        """``(block index, ttl, automatic)`` for every breakpoint, the request-level one resolved.

        The request-level ``cache_control`` lands on the last block that can carry a marker; it
        is listed even when that block also has an explicit marker (it still takes a slot).
        """
        out = [(i, b.ttl, False) for i, b in enumerate(self.blocks) if b.ttl is not None]
        if self.automatic_ttl is not None:
            last = next((i for i in range(len(self.blocks) - 1, -1, -1)
                         if not self.blocks[i].unmarkable), None)
            if last is not None:
                out.append((last, self.automatic_ttl, True))
        out.sort(key=lambda m: (m[0], m[2]))
        return tuple((i, str(t), a) for i, t, a in out)

    def keys(self) -> tuple[tuple[int, bytes], ...]:
        """The sequence the cache hashes: ``(block index, key)``, salts included.

        A salt key carries the index of the block it precedes; positions that add nothing (see
        :meth:`Position.key`) are left out.
        """
        salt = self.salt
        order = salt.order
        out: list[tuple[int, bytes]] = []
        rank = -1
        for i, b in enumerate(self.blocks):
            level_rank = order.index(b.level)
            if level_rank > rank:
                if salt.system is not None and rank < order.index("system") <= level_rank:
                    out.append((i, b"\xa7system\x00" + salt.system))
                if salt.messages is not None and b.level == "messages":
                    out.append((i, b"\xa7messages\x00" + salt.messages))
                rank = level_rank
            key = b.key()
            if key is not None:
                out.append((i, key))
        return tuple(out)

    def fingerprints(self) -> tuple[str, ...]:
        """``result[i]``: the fingerprint of the request up to and including block ``i``."""
        chain = Chain(self.salt)
        return tuple(chain.extend((b.level, b.key()) for b in self.blocks))


# -- reading blocks (shared by the providers' readers) -------------------------------------------


def _raw_at(payload: Any, path: str) -> str:
    """The block's JSON, or a PromptError naming ``path`` when it is not JSON data."""
    try:
        return raw_json(payload)
    except (TypeError, ValueError) as e:
        raise PromptError(f"{path}: not JSON data ({e}).", path=path) from None
    except RecursionError:
        raise PromptError(f"{path}: nested too deeply to read as JSON.", path=path) from None


def _digest(raw: str) -> bytes:
    return hashlib.blake2b(_utf8(raw), digest_size=16).digest()
