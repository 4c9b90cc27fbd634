"""A Gemini ``generate_content`` request read into the neutral
:class:`~promptcache.positions.CacheView`: system instruction, tools, contents (Gemini's order);
``config.*`` and top-level spellings both read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from promptcache.errors import PromptError
from promptcache.positions import CacheView, Position
from promptcache.providers._view import part

__all__ = ["read_request"]


def read_request(request: Mapping[str, Any], model: str, api: str) -> CacheView:
    config = request.get("config")
    scope, prefix = (config, "config.") if isinstance(config, Mapping) else (request, "")
    blocks: list[Position] = []
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
            blocks += [part(p, f"{path}[{i}]", "system", None, None) for i, p in enumerate(parts)]
        else:
            blocks.append(part(parts, path, "system", None, None))
    tool_scope, tool_prefix = (config, "config.") if isinstance(config, Mapping) \
        and config.get("tools") else (request, "")
    tools = _listed(tool_scope.get("tools"), f"{tool_prefix}tools", "a list of tools")
    blocks += [part(t, f"{tool_prefix}tools[{i}]", "tools", None, None) for i, t in enumerate(tools)]
    contents = request.get("contents")
    if isinstance(contents, str):
        blocks.append(part(contents, "contents", "messages", "user", None))
    elif isinstance(contents, list) and contents:
        for c, content in enumerate(contents):
            if isinstance(content, Mapping):
                role = str(content.get("role", "user"))
                parts = _listed(content.get("parts"), f"contents[{c}].parts", "a list of parts")
                blocks += [part(p, f"contents[{c}].parts[{i}]", "messages", role, None)
                           for i, p in enumerate(parts)]
            else:
                blocks.append(part(content, f"contents[{c}]", "messages", "user", None))
    else:
        raise PromptError("The request needs 'contents' (a string or a list).", path="contents")
    return CacheView(provider="gemini", api="generate_content", model=model,
                       blocks=tuple(blocks))


def _listed(value: Any, path: str, what: str) -> Sequence[Any]:
    """``value`` as a sequence (absent is empty); anything else is a PromptError naming ``path``.

    The SDK refuses such a request too; read on, the view would raise a bare TypeError.
    """
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return value
    raise PromptError(f"{path} must be {what} (got {type(value).__name__}); the SDK refuses it.",
                      path=path)
