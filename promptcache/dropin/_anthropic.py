"""The Anthropic side of the wrapper: ``messages.create`` / ``messages.stream`` keyword arguments
read into a Prompt, planned with the client's platform limits, and marked in place.

Two things keep a long conversation cheap and the request faithful:

* **Incremental reading.** A chat sends the same history again plus a turn. The Prompt of an
  earlier request whose messages are a prefix of this one's (equal in content to a private copy
  the memo kept; never matched by object identity) is extended with the new messages only
  (:meth:`Prompt.extend`), so a call costs its new turn, not its whole history.
* **Marking, not re-rendering.** The plan's breakpoints are set on the caller's own ``tools``,
  ``system`` and ``messages`` (only the marked blocks, and the lists holding them, are copied);
  everything else (SDK objects included) reaches the SDK exactly as written. A request whose
  shape the Prompt does not mirror one to one (OpenAI-shaped messages, say) is rendered from the
  Prompt instead.
"""

from __future__ import annotations

import bisect
import copy
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any, NamedTuple

from promptcache.blocks import Turn
from promptcache.dropin._core import Prepared, WrapHandle, given
from promptcache.dropin._layers import learner_for
from promptcache.errors import RuleViolation
from promptcache.limits import limits_for
from promptcache.optimizer import optimize
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.platforms import plan_summary
from promptcache.providers.anthropic.render import prompt_from_request, render_content
from promptcache.redact import redacted_repr
from promptcache.rules import request_level_ttl
from promptcache.sdk import plain

__all__ = ["MEMO_BYTES", "PromptMemo", "mark_request", "planning_view", "prepare_messages"]

#: What the wrapper's memo of recent Prompts may hold: a bound in bytes, because one request can
#: be 2 MB of system prompt (64 of them held 136 MiB when the bound was a count).
MEMO_BYTES = 32 * 1024 * 1024
#: What a Prompt adds per block beyond the texts it shares with the memo's copy of the request
#: (its Block, digest, counts, fingerprint and position entries).
_BYTES_PER_BLOCK = 1024

_HEAD = ("tools", "system")
#: The request fields an entry keeps apart from its parameters.
_NOT_PARAMS = frozenset(("messages", *_HEAD))
#: What planning adds to a Messages request (``cachePoint``: the Bedrock Converse spelling, in
#: case a gateway reports the marker under it).
_MARKERS = ("cache_control", "cachePoint")


@dataclass(frozen=True, slots=True)
class _Seen:
    """A request as it was when planned: private deep copies, never the caller's objects."""

    __repr__ = redacted_repr  # params hold extra_headers; a traceback's locals must not show them

    head: tuple[Any, ...]
    params: dict[str, Any]
    #: A list, so that a new request's prefix compares with it in one C-level ``==``.
    messages: list[Any]
    prompt: Prompt
    #: An upper estimate of what the copies and the Prompt hold (see :func:`_held`).
    size: int = 0
    #: ``type()`` of each message, and of each message's ``content`` when every message is a
    #: plain dict (else None): ``==`` holds across types (a dict equals an equal OrderedDict), but
    #: whether the request mirrors the Prompt (:func:`_turns_mirror`) depends on them.
    kinds: tuple[type, ...] = ()
    contents: tuple[type, ...] | None = None
    #: Every turn of ``prompt`` is the message at the same place, block for block.
    mirrored: bool = False


def _kinds(messages: list[Any]) -> tuple[tuple[type, ...], tuple[type, ...] | None]:
    """The types :class:`_Seen` keeps (C-level passes: this runs on every call's prefix)."""
    kinds = tuple(map(type, messages))
    if set(kinds) - {dict}:  # (an empty list has plain dicts only: ``()`` for its contents)
        return kinds, None
    return kinds, tuple(map(type, map(dict.get, messages, repeat("content"))))


_ATOMS = frozenset({str, int, float, bool, type(None)})


def _snapshot(value: Any) -> tuple[Any, int]:
    """A deep copy of ``value`` that shares no mutable object with the caller, and an estimate
    of the bytes it holds.

    The caller owns its history and may edit a sent message in place (append a block, drop an
    image, turn a string into blocks). A memo that kept the caller's objects would compare each
    of them with itself and call it unchanged; a private copy compares by content. Container
    equality in CPython short-cuts on identity, so sharing even one inner list would hide an
    edit to it.

    Plain JSON data (dicts, lists, tuples, strings, numbers: what a request is made of) is
    copied here, one comprehension per container, several times faster than
    ``copy.deepcopy`` with its memo and dispatch, and sized as it is copied; anything else (an
    SDK object, a dict subclass) is deep-copied and walked by :func:`_held`. Strings and numbers
    are immutable: shared with the caller, as ``deepcopy`` shares them. The size counts each
    occurrence of a shared string (``"type"``, ``"text"``), where :func:`_held` counts it once:
    a little higher, the safe side for a bound.
    """
    total = 0

    def copied(item: Any) -> Any:
        nonlocal total
        kind = type(item)
        if kind in _ATOMS:
            total += sys.getsizeof(item)
            return item
        if kind is dict:
            out: Any = {copied(k): copied(v) for k, v in item.items()}
        elif kind is list:
            out = [copied(v) for v in item]
        elif kind is tuple:
            out = tuple([copied(v) for v in item])
        else:
            out = copy.deepcopy(item)
            total += _held(out)
            return out
        total += sys.getsizeof(out)
        return out

    return copied(value), total


def _held(value: Any) -> int:
    """An estimate of the bytes ``value`` holds, walking containers and objects' attributes.

    Iterative (a 300-level schema must not overflow the stack) and without cycle or sharing
    detection beyond a visited set: it errs on the high side, which is the safe side for a bound.
    """
    total = 0
    seen: set[int] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item, 64)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif not isinstance(item, str | bytes | int | float | bool) and item is not None:
            attrs = getattr(item, "__dict__", None)
            if isinstance(attrs, dict):
                stack.append(attrs)
    return total


class PromptMemo:
    """The Prompts of recent requests, to extend rather than re-read (bounded, thread-safe).

    Each entry keeps a private copy of the request it was made from and is matched by content
    (``==``), never by object identity: an already-sent message edited in place no longer
    matches, so the request is read again rather than rebuilt from the old Prompt. Only the new
    messages of a request are copied; the matched prefix reuses the entry's copies. Bounded by
    ``max_bytes`` (an estimate of the copies and Prompts held), least recently used out first;
    a request larger than the whole bound is planned but not kept.
    """

    def __init__(self, max_bytes: int = MEMO_BYTES) -> None:
        self.max_bytes = max_bytes
        self._held = 0
        self._seen: OrderedDict[int, _Seen] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        """The estimated bytes the memo holds now (at most ``max_bytes``)."""
        return self._held

    def prompt(self, request: Mapping[str, Any], platform: str) -> Prompt:
        """The Prompt of ``request`` (extended from a memoised one where it can be)."""
        return self.read(request, platform).prompt

    def _match(self, messages: list[Any], head: tuple[Any, ...], params: dict[str, Any],
               platform: str) -> _Seen | None:
        """The most recent entry whose messages are a prefix of ``messages``, equal in content
        (and in the types :func:`_turns_mirror` reads) and with the same head and parameters.

        The prefix is compared in full, by content: a sent message edited in place must not
        match. The comparisons are C-level (list and dict ``==``, which short-cut on the
        strings the deep copies share), so a long history costs little per block.
        """
        with self._lock:
            candidates = list(self._seen.values())
        for seen in reversed(candidates):
            n = len(seen.messages)
            if n > len(messages) or seen.prompt.platform != platform or \
                    seen.params != params or seen.head != head:
                continue
            prefix = messages[:n] if n < len(messages) else messages
            if seen.messages != prefix or seen.kinds != tuple(map(type, prefix)):
                continue
            if seen.contents is not None and seen.contents != tuple(
                    map(type, map(dict.get, prefix, repeat("content")))):
                continue
            return seen
        return None

    def read(self, request: Mapping[str, Any], platform: str,
             check: Callable[[Any, int], None] | None = None) -> _Read:
        """The Prompt of ``request``, and whether its turns mirror the messages one to one.

        ``check(messages, start)`` (raising to refuse the request) runs on the messages not
        matched by a memoised prefix only: an entry is stored once its messages passed it, and
        an equal prefix passes as its copy did.
        """
        head = tuple(request.get(k) for k in _HEAD)
        params = {k: v for k, v in request.items() if k not in _NOT_PARAMS}
        messages = request.get("messages")
        found = (self._match(messages, head, params, platform)
                 if isinstance(messages, list) and messages else None)
        n = len(found.messages) if found is not None else 0
        if check is not None:
            check(messages, n)
        if found is not None and isinstance(messages, list):
            prompt = found.prompt.extend(messages[n:]) if n < len(messages) else found.prompt
            mirrored = (found.mirrored and len(prompt.turns) == len(messages)
                        and _turns_mirror(prompt, messages, n))
        else:
            prompt = prompt_from_request(request, platform=platform)  # type: ignore[arg-type]
            mirrored = (isinstance(messages, list) and len(prompt.turns) == len(messages)
                        and _turns_mirror(prompt, messages, 0))
        if isinstance(messages, list):
            self._store(messages, head, params, prompt, found, mirrored)
        return _Read(prompt, mirrored)

    def _store(self, messages: list[Any], head: tuple[Any, ...], params: dict[str, Any],
               prompt: Prompt, found: _Seen | None, mirrored: bool) -> None:
        try:
            if found is not None:
                n = len(found.messages)
                # The prefix's types equal the entry's (see _match): only the new ones are read.
                kinds, contents = _kinds(messages[n:])
                kinds = found.kinds + kinds
                contents = (found.contents + contents if found.contents is not None
                            and contents is not None else None)
                more, size = _snapshot(messages[n:])
                grown = size + _BYTES_PER_BLOCK * (len(prompt.blocks) - len(found.prompt.blocks))
                entry = _Seen(found.head, found.params, found.messages + more, prompt,
                              found.size + grown, kinds, contents, mirrored)
            else:
                kinds, contents = _kinds(messages)
                (head_copy, params_copy, messages_copy), size = _snapshot(
                    (head, params, messages))
                entry = _Seen(head_copy, params_copy, messages_copy, prompt,
                              size + _BYTES_PER_BLOCK * len(prompt.blocks), kinds, contents,
                              mirrored)
        except Exception:  # an object that cannot be copied: plan it, but do not memo it
            return
        if entry.size > self.max_bytes:
            return
        with self._lock:
            old = self._seen.pop(id(messages), None)
            if old is not None:
                self._held -= old.size
            self._seen[id(messages)] = entry
            self._held += entry.size
            while self._held > self.max_bytes:
                _, gone = self._seen.popitem(last=False)
                self._held -= gone.size


def _section_sizes(prompt: Prompt) -> tuple[int, int]:
    """How many tool blocks and system blocks ``prompt`` has (from its layers, not its blocks)."""
    tools = system = 0
    for layer in prompt.layers:
        if layer.section == "tools":
            tools += layer.stop - layer.start
        elif layer.section == "system":
            system += layer.stop - layer.start
    return tools, system


class _Read(NamedTuple):
    prompt: Prompt
    #: Every turn of the Prompt is the message at the same place, block for block.
    mirrored: bool


def _turns_mirror(prompt: Prompt, messages: list[Any], start: int) -> bool:
    """True when each turn from ``start`` on holds as many blocks as the message at its place
    (a plain dict whose ``content`` is a string, one block, or a list of blocks)."""
    for turn, message in zip(prompt.turns[start:], messages[start:], strict=True):
        content = message.get("content") if type(message) is dict else None
        if type(content) is str:
            if turn.stop - turn.start != 1:
                return False
        elif type(content) is not list or len(content) != turn.stop - turn.start:
            return False
    return True


def _mirrors(request: Mapping[str, Any], prompt: Prompt, turns: bool | None = None) -> bool:
    """True when every Prompt block is the request block at the same place (one to one).

    ``turns``: the memo's answer for the messages (see :meth:`PromptMemo.read`), else they are
    walked here.
    """
    system = request.get("system")
    n_system = 0 if not system else 1 if isinstance(system, str) else len(system)
    messages = request["messages"]
    if len(prompt.turns) != len(messages) or _section_sizes(prompt) != (
            len(request.get("tools") or ()), n_system):
        return False
    return turns if turns is not None else _turns_mirror(prompt, messages, 0)


def _entry(tool: Any) -> Any:
    """A ``tools`` item as the SDK sends it: an object with ``to_dict()`` (a ``@beta_tool``
    function, a builtin tool) is its entry, as the SDK's own ``to_tool_params`` does."""
    to_dict = getattr(tool, "to_dict", None)
    return to_dict() if callable(to_dict) and not isinstance(tool, Mapping) else tool


def planning_view(request: Mapping[str, Any]) -> dict[str, Any]:
    """The given arguments as the SDK turns them into the request body, for planning.

    ``output_format`` (a type, on ``stream``) is the SDK's own: it becomes
    ``output_config.format``, which does not change what the cache sees (only ``effort`` does),
    and is never sent as such. Tool objects are read through their ``to_dict()``. The request
    itself is sent as the caller wrote it.
    """
    view = given(request)
    view.pop("output_format", None)
    tools = view.get("tools")
    if isinstance(tools, list | tuple):
        entries = [_entry(t) for t in tools]
        if any(e is not t for e, t in zip(entries, tools, strict=True)):
            view["tools"] = entries
    return view


def _with_marker(block: Any, ttl: str) -> dict[str, Any]:
    out = dict(plain(_entry(block), "block"))
    out["cache_control"] = {"type": "ephemeral", "ttl": ttl}
    return out


def _start(turn: Turn) -> int:
    return turn.start


def mark_request(kwargs: Mapping[str, Any], prompt: Prompt, plan: Plan) -> dict[str, Any]:
    """The caller's request with the plan's breakpoints set on its own blocks."""
    out = dict(kwargs)
    marks = [p for p in plan.placements if p.source == "optimizer"]
    if plan.automatic_ttl is not None:
        out["cache_control"] = {"type": "ephemeral", "ttl": plan.automatic_ttl}
    if not marks:
        return out
    system_start, n_system = _section_sizes(prompt)
    messages_start = system_start + n_system
    turns = prompt.turns
    for p in marks:
        if p.index < system_start:
            tools = out["tools"] = list(out["tools"])
            tools[p.index] = _with_marker(tools[p.index], p.ttl)
        elif p.index < messages_start:
            system = out["system"]
            k = p.index - system_start
            if isinstance(system, str):
                out["system"] = [{"type": "text", "text": system,
                                  "cache_control": {"type": "ephemeral", "ttl": p.ttl}}]
            else:
                system = out["system"] = list(system)
                system[k] = _with_marker(system[k], p.ttl)
        else:
            m = bisect.bisect_right(turns, p.index, key=_start) - 1  # O(log turns), no copy
            c = p.index - turns[m].start
            messages = out["messages"]
            if messages is kwargs["messages"]:
                messages = out["messages"] = list(messages)
            message = dict(messages[m])
            content = message["content"]
            blocks: list[Any] = ([{"type": "text", "text": content}] if isinstance(content, str)
                                 else list(content))
            blocks[c] = _with_marker(blocks[c], p.ttl)
            message["content"] = blocks
            messages[m] = message
    return out


def _check_roles(messages: Any, start: int = 0) -> None:
    """Raise for a turn the Messages API does not take as written (``role: "system"``, say).

    The Prompt would read it (the system turn moved into ``system=``) and the request would be
    rendered from it: a request the caller did not write. The SDK sends it as written, and so
    does the wrapper, unplanned.
    """
    if not isinstance(messages, list | tuple):
        return
    for i, message in enumerate(messages[start:], start):
        role = message.get("role") if isinstance(message, Mapping) else getattr(message, "role",
                                                                                None)
        if role not in ("user", "assistant"):
            raise RuleViolation(f"messages[{i}].role: {role!r} is not a Messages API role (user, "
                                "assistant); the request is sent as written.",
                                path=f"messages[{i}].role", rule="message-role")


def prepare_messages(kwargs: Mapping[str, Any], handle: WrapHandle) -> Prepared:
    """Plan one ``messages.create``/``messages.stream`` call, or the same on ``beta.messages``
    (raises when it cannot be planned).

    Every argument the planner does not read (``betas``, ``context_management``,
    ``mcp_servers``, ``container``, ...) stays in the request untouched.
    """
    request = planning_view(kwargs)
    thread = request.get("thread")
    if isinstance(thread, Mapping) and thread.get("type") != "create":
        # The server holds the earlier turns (system and tools included): the request shows only
        # the new messages, so a plan made from it would be of a prefix that does not exist.
        raise RuleViolation("a thread continuation carries only the new turn; the server holds "
                            "the prefix, which promptcache cannot see.", path="thread",
                            rule="thread-continuation")
    memo = handle.memo
    turns: bool | None = None
    if isinstance(memo, PromptMemo):  # checks the roles of the messages it has not seen
        prompt, turns = memo.read(request, handle.platform, check=_check_roles)
    else:
        _check_roles(request.get("messages"))
        prompt = prompt_from_request(request, platform=handle.platform)
    # Where the request's stable part ends, learned from its family's earlier requests: only
    # the layer boundaries move (see _layers), the request is marked as written.
    prompt = learner_for(handle.state).relayer(prompt, handle.state)
    limits = limits_for(prompt.model, provider="anthropic", platform=handle.platform)
    automatic = request_level_ttl(request)
    if automatic is not None and handle.platform == "bedrock":
        raise RuleViolation("Bedrock rejects a request-level cache_control.", path="cache_control",
                            rule="automatic-unsupported")
    plan = optimize(prompt, state=handle.state, limits=limits, automatic=automatic)
    if _mirrors(request, prompt, turns):
        out = mark_request(kwargs, prompt, plan)
    else:
        out = dict(kwargs)
        out.update(render_content(prompt, plan))
        out["model"] = kwargs["model"]
    return Prepared(kwargs=out, provider="anthropic", model=prompt.model, planned=True,
                    limits=limits, prompt=prompt, plan=plan, markers=_MARKERS,
                    summary=plan_summary(plan, platform=handle.platform, model=prompt.model))


