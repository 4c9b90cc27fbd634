"""An Anthropic Messages request read into the neutral :class:`~promptcache.positions.CacheView`.

Tools, system, messages in that order; settings the Anthropic table says invalidate a level are
folded in where it starts (see :func:`~promptcache.positions.anthropic_settings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from promptcache.errors import PromptError
from promptcache.positions import (
    UNMARKABLE_TYPES,
    CacheView,
    Position,
    _digest,
    _raw_at,
    anthropic_settings,
    citations_on,
    has_image,
    is_web_search,
    strips_thinking,
)
from promptcache.providers._view import block_position, content_list, marker
from promptcache.tokens import count_tool

__all__ = ["read_request"]


def read_request(request: Mapping[str, Any], model: str, api: str) -> CacheView:
    """The cache positions of ``request``; ``api`` is always ``messages`` here."""
    blocks: list[Position] = []
    web_search: list[Any] = []
    tools = request.get("tools") or []
    if not isinstance(tools, list):
        raise PromptError("'tools' must be a list of tool definitions.", path="tools")
    for i, tool in enumerate(tools):
        path = f"tools[{i}]"
        if not isinstance(tool, Mapping):
            raise PromptError(f"{path} must be a tool definition object.", path=path)
        payload = {k: v for k, v in tool.items() if k != "cache_control"}
        is_search = is_web_search(tool)
        if is_search:
            web_search.append(payload)
        raw = _raw_at(payload, path)
        blocks.append(Position(path=path, level="tools", kind="tool", payload=payload, raw=raw,
                               digest=_digest(raw), tokens=count_tool(payload),
                               ttl=marker(tool, path), name=str(tool.get("name", "")),
                               system_salted=is_search))
    system = request.get("system")
    if system:
        for path, b in content_list(system, "system"):
            blocks.append(block_position(b, path, "system", None))
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise PromptError("The request needs a non-empty 'messages' list.", path="messages")
    for m, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise PromptError(f"messages[{m}] must be an object with role and content.",
                              path=f"messages[{m}]")
        role = str(message.get("role"))
        for n, (path, b) in enumerate(content_list(message.get("content"),
                                                    f"messages[{m}].content")):
            blocks.append(block_position(b, path, "messages", role, first=n == 0))
    thinking = request.get("thinking")
    last = messages[-1] if isinstance(messages[-1], Mapping) else {}
    last_content = last.get("content")
    last_kinds = ["text"] if isinstance(last_content, str) else [
        str(b.get("type")) for b in last_content or () if isinstance(b, Mapping)]
    if strips_thinking(thinking, last.get("role"), last_kinds, model):
        blocks = [replace(b, stripped=True) if b.level == "messages" and b.kind in UNMARKABLE_TYPES
                  else b for b in blocks]
    system_settings, message_settings = anthropic_settings(
        request, web_search=web_search,
        citations=citations_on(request.get("messages")) or citations_on(system),
        images=has_image(messages) or has_image(system))
    auto = request.get("cache_control")
    automatic = marker(request, "<request>") if isinstance(auto, Mapping) else None
    return CacheView(provider="anthropic", api="messages", model=model, blocks=tuple(blocks),
                       system_settings=system_settings, message_settings=message_settings,
                       automatic_ttl=automatic)
