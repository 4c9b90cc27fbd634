"""An OpenAI request (chat completions or responses) read into the neutral
:class:`~promptcache.positions.CacheView`: tools, then the leading system/developer messages, then
the rest; ``prompt_cache_breakpoint`` parts carry the markers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.errors import PromptError
from promptcache.positions import CacheView, Level, Position
from promptcache.providers._view import part

__all__ = ["read_request"]


def _content(content: Any, path: str, level: Level, role: str) -> list[Position]:
    if isinstance(content, list):
        return [part(p, f"{path}[{i}]", level, role, "prompt_cache_breakpoint")
                for i, p in enumerate(content)]
    if content is None:
        return []
    return [part(content, path, level, role, "prompt_cache_breakpoint")]


def read_request(request: Mapping[str, Any], model: str, api: str) -> CacheView:
    blocks = [part(t, f"tools[{i}]", "tools", None, None)
              for i, t in enumerate(request.get("tools") or ())]
    leading = True
    if api == "responses":
        if request.get("instructions"):
            blocks += _content(request["instructions"], "instructions", "system", "developer")
        items = request.get("input")
        if isinstance(items, str):
            blocks.append(part(items, "input", "messages", "user", None))
        elif isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, Mapping) and "content" in item:
                    role = str(item.get("role", "user"))
                    level: Level = "system" if leading and role in ("system", "developer") \
                        else "messages"
                    leading = leading and level == "system"
                    blocks += _content(item["content"], f"input[{i}].content", level, role)
                else:
                    leading = False
                    blocks.append(part(item, f"input[{i}]", "messages", None,
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
            blocks += _content(message.get("content"), f"messages[{m}].content", level, role)
            if extra:
                blocks.append(part(extra, f"messages[{m}]", level, role, None))
    return CacheView(provider="openai", api=api, model=model, blocks=tuple(blocks))
