"""A Converse request read into the neutral :class:`~promptcache.positions.CacheView`.

Tools, system, messages (Claude's order: Bedrock hands Converse requests to Claude as Messages
requests). A ``cachePoint`` is not a position: it is the marker of the block before it, and the
path named is the Converse one (``system[2]``, ``messages[1].content[0]``, ``toolConfig.tools[0]``).
``toolConfig.toolChoice`` and ``additionalModelRequestFields.thinking`` are folded in where the
messages start, as on Claude.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from promptcache.errors import PromptError
from promptcache.limits import limits_for
from promptcache.positions import (
    UNMARKABLE_TYPES,
    CacheView,
    Level,
    Position,
    _digest,
    _raw_at,
    strips_thinking,
    unmarkable_reason,
)
from promptcache.providers.bedrock_converse.blocks import marker_of, to_anthropic, tool_to_anthropic
from promptcache.providers.bedrock_converse.request import NOVA_TOOLS, tool_choice_to_anthropic
from promptcache.tokens import count_block, count_tool

__all__ = ["read_request"]


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise PromptError(f"{path} must be a list.", path=path)
    return list(value)


def _positions(items: list[Any], path: str, level: Level, role: str | None,
               *, nova: bool = False) -> list[Position]:
    out: list[Position] = []
    for i, item in enumerate(items):
        at = f"{path}[{i}]"
        ttl = marker_of(item, at) if isinstance(item, Mapping) else None
        if ttl is not None:
            if not out:
                raise PromptError(f"{at}: a cachePoint needs a block before it.", path=at)
            last = out[-1]
            out[-1] = Position(path=last.path, level=last.level, kind=last.kind,
                               payload=last.payload, raw=last.raw, digest=last.digest,
                               tokens=last.tokens, ttl=ttl, role=last.role, first=last.first,
                               name=last.name, unmarkable=last.unmarkable)
            continue
        if level == "tools":
            payload = tool_to_anthropic(item, at)
            tokens, kind, name = count_tool(payload), "tool", str(payload["name"])
            unmarkable = NOVA_TOOLS if nova else ""
        else:
            payload = to_anthropic(item, at)
            tokens, kind, name = count_block(payload), str(payload["type"]), None
            unmarkable = unmarkable_reason(payload)
        raw = _raw_at(item if isinstance(item, Mapping) else payload, at) \
            if not _has_bytes(item) else _raw_at(payload, at)
        out.append(Position(path=at, level=level, kind=kind, payload=payload, raw=raw,
                            digest=_digest(raw), tokens=tokens, role=role, name=name,
                            first=level == "messages" and not out, unmarkable=unmarkable))
    return out


def _has_bytes(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, bytes | bytearray):
            return True
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def read_request(request: Mapping[str, Any], model: str, api: str) -> CacheView:
    """The cache positions of a ``converse`` request (``api`` is always ``converse``)."""
    nova = False
    try:
        nova = limits_for(model, provider="bedrock_converse").model.startswith("nova")
    except Exception:  # an unknown model: read it as Claude reads it
        nova = False
    config = request.get("toolConfig") or {}
    if not isinstance(config, Mapping):
        raise PromptError("toolConfig must be an object.", path="toolConfig")
    blocks = _positions(_list(config.get("tools"), "toolConfig.tools"), "toolConfig.tools",
                        "tools", None, nova=nova)
    blocks += _positions(_list(request.get("system"), "system"), "system", "system", None)
    messages = _list(request.get("messages"), "messages")
    if not messages:
        raise PromptError("The request needs a non-empty 'messages' list.", path="messages")
    for m, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise PromptError(f"messages[{m}] must be an object with role and content.",
                              path=f"messages[{m}]")
        blocks += _positions(_list(message.get("content"), f"messages[{m}].content"),
                             f"messages[{m}].content", "messages", str(message.get("role")))
    extra = request.get("additionalModelRequestFields")
    thinking = extra.get("thinking") if isinstance(extra, Mapping) else None
    last = [b for b in blocks if b.level == "messages" and b.path.startswith(
        f"messages[{len(messages) - 1}].")]
    if strips_thinking(thinking, str(messages[-1].get("role")), [b.kind for b in last], model):
        # As on Claude's Messages API: earlier thinking blocks leave the prompt (on the models
        # whose row strips them, PROVIDER_FACTS F).
        blocks = [replace(b, stripped=True) if b.level == "messages"
                  and b.kind in UNMARKABLE_TYPES else b for b in blocks]
    settings: dict[str, Any] = {}
    if config.get("toolChoice") is not None:
        settings["tool_choice"] = tool_choice_to_anthropic(config["toolChoice"])
    if thinking is not None:
        settings["thinking"] = thinking
    return CacheView(provider="bedrock_converse", api="converse", model=model,
                     blocks=tuple(blocks), message_settings=settings)
