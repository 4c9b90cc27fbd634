"""Any provider's request dict, flattened into the positions its prompt cache keys on.

:mod:`promptcache.diff` and :mod:`promptcache.lint` inspect requests built by promptcache *or by
hand*, for Anthropic (``messages.create``), OpenAI (chat completions and responses) and Gemini
(``generate_content``). This module reads each shape into one list of :class:`FlatBlock` in cache
order. It is deliberately tolerant: lint must *report* a marker on a thinking block or an empty
text block, so unlike :func:`promptcache.prompt_from_request` it never rejects a marker.

Two JSON forms are kept per block: ``raw`` in the key order given (the bytes the provider sees,
so a shuffled key is a different prompt) and ``canonical`` with sorted keys (to tell a key-order
change from a content change). Settings that the Anthropic table says invalidate a whole level
(web search and citations toggles: system; tool_choice, thinking, images: messages) are folded
into the fingerprints where that level starts, as :mod:`promptcache.fingerprint` does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .errors import PromptError
from .limits import Provider
from .tokens import BLOCK_OVERHEAD, count_block, count_tool, default_counter

__all__ = [
    "LEVEL_ORDER",
    "FlatBlock",
    "FlatRequest",
    "Level",
    "detect_provider",
    "flatten_request",
]

Level = Literal["tools", "system", "messages"]

#: The order each provider caches its levels in (Gemini puts the system instruction first).
LEVEL_ORDER: Mapping[Provider, tuple[Level, ...]] = {
    "anthropic": ("tools", "system", "messages"),
    "openai": ("tools", "system", "messages"),
    "gemini": ("system", "tools", "messages"),
}

_UNMARKABLE = frozenset({"thinking", "redacted_thinking"})
_THINKING_ON = frozenset({"enabled", "adaptive"})


def _raw(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlatBlock:
    """One cache position of a request: a tool, a system block or a content block."""

    #: Where it is in the request dict, e.g. ``messages[3].content[1]`` or ``tools[0]``.
    path: str
    level: Level
    #: The block's ``type`` (``"tool"`` for a tool definition, ``"text"`` for a bare string).
    kind: str
    #: The block without its marker.
    payload: Any
    #: JSON in the key order given: what the provider hashes.
    raw: str
    #: JSON with sorted keys: equal for two blocks that differ only by key order.
    canonical: str
    #: Estimated tokens (see promptcache.tokens).
    tokens: int
    #: TTL of an explicit marker on this block (``cache_control`` or ``prompt_cache_breakpoint``).
    ttl: str | None = None
    role: str | None = None
    #: A tool's name, so reorderings of the tool list can be told apart from edits.
    name: str | None = None
    #: Why a marker on this block cannot work ("" when it can).
    unmarkable: str = ""
    #: True for Anthropic's web-search tool: the docs say toggling it changes the *system* level,
    #: so it is compared there and not as a tool definition.
    system_salted: bool = False
    #: True for an earlier thinking block the API drops because the last user message carries
    #: non-tool-result content while extended thinking is on.
    stripped: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FlatRequest:
    """A request as its provider's cache sees it: blocks in cache order, settings, markers."""

    provider: Provider
    #: ``messages`` (Anthropic), ``chat`` or ``responses`` (OpenAI), ``generate_content`` (Gemini).
    api: str
    model: str
    blocks: tuple[FlatBlock, ...]
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
    def total_tokens(self) -> int:
        return self.prefix_tokens[-1] if self.blocks else 0

    def tokens_before(self, index: int) -> int:
        """Tokens of blocks ``[0, index)``."""
        return self.prefix_tokens[index - 1] if index > 0 else 0

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

    def keys(self) -> tuple[tuple[int, str], ...]:
        """The sequence the cache hashes: ``(block index, key)``, salts included.

        A salt key carries the index of the block it precedes. Web-search tools and stripped
        thinking blocks are left out: the first is compared through the system salt, the second
        is not in the prompt the model sees.
        """
        order = LEVEL_ORDER[self.provider]
        out: list[tuple[int, str]] = []
        salted: set[str] = set()
        for i, b in enumerate(self.blocks):
            rank = order.index(b.level)
            if self.system_settings and "system" not in salted and rank >= order.index("system"):
                out.append((i, "§system\x00" + _canonical(self.system_settings)))
                salted.add("system")
            if self.message_settings and "messages" not in salted and b.level == "messages":
                out.append((i, "§messages\x00" + _canonical(self.message_settings)))
                salted.add("messages")
            if b.system_salted or b.stripped:
                continue
            out.append((i, f"{b.level}\x00{b.raw}"))
        return tuple(out)

    def fingerprints(self) -> tuple[str, ...]:
        """``result[i]``: hash of the model and every key up to and including block ``i``."""
        h = hashlib.blake2b(f"{self.provider}:{self.model}".encode(), digest_size=16)
        keys = self.keys()
        out: list[str] = []
        k = 0
        for i in range(len(self.blocks)):
            while k < len(keys) and keys[k][0] == i:
                h.update(keys[k][1].encode())
                h.update(b"\x00")
                k += 1
            out.append(h.copy().hexdigest())
        return tuple(out)


# -- provider detection ------------------------------------------------------------------------


def detect_provider(request: Mapping[str, Any]) -> tuple[Provider, str]:
    """``(provider, api)`` from the shape of a request dict.

    Shape first (``contents`` is Gemini, ``input``/``instructions`` is OpenAI responses), then
    the markers and roles that only one API has, then the model id.
    """
    if "contents" in request or "system_instruction" in request or "systemInstruction" in request:
        return "gemini", "generate_content"
    if "input" in request or "instructions" in request:
        return "openai", "responses"
    if "messages" in request:
        messages = request["messages"]
        roles = {m.get("role") for m in messages if isinstance(m, Mapping)} \
            if isinstance(messages, list) else set()
        openai_keys = {"prompt_cache_key", "prompt_cache_retention", "prompt_cache_options"}
        if roles & {"system", "developer", "tool"} or openai_keys & set(request):
            return "openai", "chat"
        model = str(request.get("model", "")).lower()
        if model.startswith(("gpt-", "o1", "o3", "o4", "chatgpt")):
            return "openai", "chat"
        return "anthropic", "messages"
    raise PromptError("Cannot tell which provider this request is for: expected 'messages' "
                      "(Anthropic or OpenAI chat), 'input' (OpenAI responses) or 'contents' "
                      "(Gemini).", path="<request>")


def flatten_request(request: Mapping[str, Any], *, provider: Provider | None = None) -> FlatRequest:
    """Read a request dict of any provider into cache positions; raises PromptError if malformed."""
    if not isinstance(request, Mapping):
        raise PromptError(f"A request must be a JSON object (dict), got {type(request).__name__}.",
                          path="<request>")
    detected, api = detect_provider(request)
    if provider is not None and provider != detected:
        api = {"anthropic": "messages", "gemini": "generate_content"}.get(
            provider, "responses" if "input" in request else "chat")
    chosen = provider or detected
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise PromptError("The request has no 'model' string.", path="model")
    if chosen == "anthropic":
        return _anthropic(request, model)
    if chosen == "openai":
        return _openai(request, model, api)
    return _gemini(request, model)


# -- Anthropic ---------------------------------------------------------------------------------


def _marker(block: Mapping[str, Any], path: str, key: str = "cache_control",
            default: str = "5m") -> str | None:
    cc = block.get(key)
    if cc is None:
        return None
    if not isinstance(cc, Mapping):
        raise PromptError(f"{path}.{key} must be an object, got {cc!r}.", path=path)
    return str(cc.get("ttl", default))


def _content_list(content: Any, path: str) -> list[tuple[str, Mapping[str, Any]]]:
    if isinstance(content, str):
        return [(path, {"type": "text", "text": content})]
    if isinstance(content, list):
        out = []
        for i, b in enumerate(content):
            if not isinstance(b, Mapping):
                raise PromptError(f"{path}[{i}] must be a content block object, got {b!r}.",
                                  path=f"{path}[{i}]")
            out.append((f"{path}[{i}]", b))
        return out
    raise PromptError(f"{path} must be a string or a list of content blocks.", path=path)


def _unmarkable(block: Mapping[str, Any]) -> str:
    kind = block.get("type")
    if kind in _UNMARKABLE:
        return f"a {kind} block cannot carry cache_control"
    if kind == "text" and not str(block.get("text", "")).strip():
        return "an empty text block cannot carry cache_control"
    return ""


def _has_image(value: Any) -> bool:
    if isinstance(value, Mapping):
        return value.get("type") == "image" or any(_has_image(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_image(v) for v in value)
    return False


def _citations_on(value: Any) -> bool:
    if isinstance(value, Mapping):
        c = value.get("citations")
        if isinstance(c, Mapping) and c.get("enabled"):
            return True
        return any(_citations_on(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_citations_on(v) for v in value)
    return False


def _anthropic(request: Mapping[str, Any], model: str) -> FlatRequest:
    blocks: list[FlatBlock] = []
    web_search: list[Any] = []
    tools = request.get("tools") or []
    if not isinstance(tools, list):
        raise PromptError("'tools' must be a list of tool definitions.", path="tools")
    for i, tool in enumerate(tools):
        path = f"tools[{i}]"
        if not isinstance(tool, Mapping):
            raise PromptError(f"{path} must be a tool definition object.", path=path)
        payload = {k: v for k, v in tool.items() if k != "cache_control"}
        is_search = str(tool.get("type", "")).startswith("web_search")
        if is_search:
            web_search.append(payload)
        blocks.append(FlatBlock(path=path, level="tools", kind="tool", payload=payload,
                                raw=_raw(payload), canonical=_canonical(payload),
                                tokens=count_tool(payload), ttl=_marker(tool, path),
                                name=str(tool.get("name", "")), system_salted=is_search))
    system = request.get("system")
    if system:
        for path, b in _content_list(system, "system"):
            blocks.append(_content_block(b, path, "system", None))
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise PromptError("The request needs a non-empty 'messages' list.", path="messages")
    for m, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise PromptError(f"messages[{m}] must be an object with role and content.",
                              path=f"messages[{m}]")
        role = str(message.get("role"))
        for path, b in _content_list(message.get("content"), f"messages[{m}].content"):
            blocks.append(_content_block(b, path, "messages", role))
    thinking = request.get("thinking")
    thinking_on = isinstance(thinking, Mapping) and thinking.get("type") in _THINKING_ON
    last = messages[-1] if isinstance(messages[-1], Mapping) else {}
    last_content = last.get("content")
    non_tool_result = last.get("role") == "user" and (
        isinstance(last_content, str) or any(
            isinstance(b, Mapping) and b.get("type") != "tool_result" for b in last_content or ()))
    if thinking_on and non_tool_result:
        blocks = [replace(b, stripped=True) if b.level == "messages" and b.kind in _UNMARKABLE
                  else b for b in blocks]
    system_settings: dict[str, Any] = {"web_search": web_search,
                                       "citations": _citations_on(request.get("messages"))
                                       or _citations_on(system)}
    message_settings = {"tool_choice": request.get("tool_choice"), "thinking": thinking,
                        "images": _has_image(messages) or _has_image(system)}
    auto = request.get("cache_control")
    automatic = _marker(request, "<request>") if isinstance(auto, Mapping) else None
    return FlatRequest(provider="anthropic", api="messages", model=model, blocks=tuple(blocks),
                       system_settings=system_settings, message_settings=message_settings,
                       automatic_ttl=automatic)


def _content_block(block: Mapping[str, Any], path: str, level: Level, role: str | None) -> FlatBlock:
    payload = {k: v for k, v in block.items() if k != "cache_control"}
    return FlatBlock(path=path, level=level, kind=str(block.get("type")), payload=payload,
                     raw=_raw(payload), canonical=_canonical(payload),
                     tokens=count_block(payload), ttl=_marker(block, path), role=role,
                     unmarkable=_unmarkable(block))


# -- OpenAI and Gemini -------------------------------------------------------------------------


def _text_tokens(payload: Any) -> int:
    if isinstance(payload, Mapping) and isinstance(payload.get("text"), str):
        text = str(payload["text"])
    elif isinstance(payload, str):
        text = payload
    else:
        text = _canonical(payload)
    return default_counter().count_text(text) + BLOCK_OVERHEAD


def _part(part: Any, path: str, level: Level, role: str | None, marker_key: str | None,
          default_ttl: str = "30m") -> FlatBlock:
    ttl = None
    payload = part
    if isinstance(part, Mapping):
        if marker_key:
            ttl = _marker(part, path, marker_key, default_ttl)
        payload = {k: v for k, v in part.items() if k != marker_key}
    kind = str(payload.get("type", "text")) if isinstance(payload, Mapping) else "text"
    name = None
    if level == "tools" and isinstance(payload, Mapping):
        fn = payload.get("function")
        name = str(fn.get("name") if isinstance(fn, Mapping) else payload.get("name", ""))
        kind = "tool"
    empty = isinstance(payload, str) and not payload.strip()
    return FlatBlock(path=path, level=level, kind=kind, payload=payload, raw=_raw(payload),
                     canonical=_canonical(payload), tokens=_text_tokens(payload), ttl=ttl,
                     role=role, name=name,
                     unmarkable="an empty text part cannot be cached" if empty else "")


def _openai_content(content: Any, path: str, level: Level, role: str) -> list[FlatBlock]:
    if isinstance(content, list):
        return [_part(p, f"{path}[{i}]", level, role, "prompt_cache_breakpoint")
                for i, p in enumerate(content)]
    if content is None:
        return []
    return [_part(content, path, level, role, "prompt_cache_breakpoint")]


def _openai(request: Mapping[str, Any], model: str, api: str) -> FlatRequest:
    blocks = [_part(t, f"tools[{i}]", "tools", None, None)
              for i, t in enumerate(request.get("tools") or ())]
    leading = True
    if api == "responses":
        if request.get("instructions"):
            blocks += _openai_content(request["instructions"], "instructions", "system", "developer")
        items = request.get("input")
        if isinstance(items, str):
            blocks.append(_part(items, "input", "messages", "user", None))
        elif isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, Mapping) and "content" in item:
                    role = str(item.get("role", "user"))
                    level: Level = "system" if leading and role in ("system", "developer") \
                        else "messages"
                    leading = leading and level == "system"
                    blocks += _openai_content(item["content"], f"input[{i}].content", level, role)
                else:
                    leading = False
                    blocks.append(_part(item, f"input[{i}]", "messages", None,
                                        "prompt_cache_breakpoint"))
        else:
            raise PromptError("'input' must be a string or a list of items.", path="input")
    else:
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise PromptError("The request needs a non-empty 'messages' list.", path="messages")
        for m, message in enumerate(messages):
            if not isinstance(message, Mapping):
                raise PromptError(f"messages[{m}] must be an object.", path=f"messages[{m}]")
            role = str(message.get("role"))
            level = "system" if leading and role in ("system", "developer") else "messages"
            leading = leading and level == "system"
            extra = {k: v for k, v in message.items() if k not in ("role", "content")}
            blocks += _openai_content(message.get("content"), f"messages[{m}].content", level, role)
            if extra:
                blocks.append(_part(extra, f"messages[{m}]", level, role, None))
    return FlatRequest(provider="openai", api=api, model=model, blocks=tuple(blocks))


def _gemini(request: Mapping[str, Any], model: str) -> FlatRequest:
    config = request.get("config")
    scope, prefix = (config, "config.") if isinstance(config, Mapping) else (request, "")
    blocks: list[FlatBlock] = []
    system_key = next((k for k in ("system_instruction", "systemInstruction") if scope.get(k)), None)
    if system_key is None and scope is not request:
        system_key = next((k for k in ("system_instruction", "systemInstruction")
                           if request.get(k)), None)
        scope, prefix = (request, "") if system_key else (scope, prefix)
    if system_key:
        system = scope[system_key]
        path = f"{prefix}{system_key}"
        parts = system.get("parts") if isinstance(system, Mapping) else system
        if isinstance(parts, list):
            path = f"{path}.parts" if isinstance(system, Mapping) else path
            blocks += [_part(p, f"{path}[{i}]", "system", None, None) for i, p in enumerate(parts)]
        else:
            blocks.append(_part(parts, path, "system", None, None))
    tool_scope, tool_prefix = (config, "config.") if isinstance(config, Mapping) \
        and config.get("tools") else (request, "")
    blocks += [_part(t, f"{tool_prefix}tools[{i}]", "tools", None, None)
               for i, t in enumerate(tool_scope.get("tools") or ())]
    contents = request.get("contents")
    if isinstance(contents, str):
        blocks.append(_part(contents, "contents", "messages", "user", None))
    elif isinstance(contents, list) and contents:
        for c, content in enumerate(contents):
            if isinstance(content, Mapping):
                role = str(content.get("role", "user"))
                blocks += [_part(p, f"contents[{c}].parts[{i}]", "messages", role, None)
                           for i, p in enumerate(content.get("parts") or ())]
            else:
                blocks.append(_part(content, f"contents[{c}]", "messages", "user", None))
    else:
        raise PromptError("The request needs 'contents' (a string or a list).", path="contents")
    return FlatRequest(provider="gemini", api="generate_content", model=model,
                       blocks=tuple(blocks))

