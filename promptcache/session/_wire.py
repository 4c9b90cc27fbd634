"""Small helpers the provider adapters share: reading SDK objects and dicts alike.

The adapters never import an SDK: they read the objects the client returns (pydantic models or
their dict forms), so the SDKs stay optional and the response cache's rebuilt objects, which are
the same types, read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.cache.base import HIT_MARKER

__all__ = ["HIT_MARKER", "content_param", "dump", "get", "message_param", "served_from_cache"]



def get(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` for a mapping, ``obj.name`` for an object; ``default`` when absent or None."""
    value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
    return default if value is None else value


def dump(value: Any) -> Any:
    """An SDK value as plain JSON-able data (pydantic models dumped, None fields left out)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {k: dump(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    return value


def served_from_cache(response: Any) -> bool:
    """True when promptcache's response cache answered instead of the API (see HIT_MARKER)."""
    try:
        return getattr(response, HIT_MARKER, False) is True
    except Exception:  # an SDK object's __getattr__ may raise anything for unknown names
        return False


def content_param(block: Any, *, keep_dicts: bool = False) -> dict[str, Any]:
    """A content block (an SDK object or a dict) as the param the next request must send back.

    Thinking blocks keep their ``signature`` and redacted ones their ``data`` byte for byte: the
    API verifies them when a tool-use loop continues, and any change would also change the
    cached prefix. With ``keep_dicts``, a dict (the caller's own param, markers included) is kept
    as it is; otherwise response blocks keep only the fields a request takes.
    """
    if keep_dicts and isinstance(block, Mapping):
        return dict(block)
    kind = get(block, "type")
    if kind == "text":
        out: dict[str, Any] = {"type": "text", "text": get(block, "text", "")}
        citations = get(block, "citations")
        if citations:
            out["citations"] = [dump(c) for c in citations]
        return out
    if kind == "tool_use":
        return {"type": "tool_use", "id": get(block, "id"), "name": get(block, "name"),
                "input": dump(get(block, "input", {}))}
    if kind == "thinking":
        return {"type": "thinking", "thinking": get(block, "thinking", ""),
                "signature": get(block, "signature", "")}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": get(block, "data")}
    dumped = dump(block)
    return dict(dumped) if isinstance(dumped, Mapping) else {"type": kind, "value": dumped}


def message_param(message: Any) -> Mapping[str, Any]:
    """A history message as a dict: an SDK ``Message`` (or any object with ``role`` and
    ``content``) keeps only those two, its content blocks as params. Dicts pass through, with
    SDK objects inside their content converted."""
    if isinstance(message, Mapping):
        content = message.get("content")
        if isinstance(content, list | tuple) and any(not isinstance(b, Mapping) for b in content):
            return {**message, "content": [content_param(b, keep_dicts=True) for b in content]}
        return message
    content = get(message, "content", "")
    return {"role": get(message, "role"),
            "content": content if isinstance(content, str) else [content_param(b, keep_dicts=True)
                                                                  for b in content]}
