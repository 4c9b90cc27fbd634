"""What the request readers in ``providers/<name>/view.py`` share: one block read into a
:class:`~promptcache.positions.Position`, with a PromptError naming its path when malformed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.errors import PromptError
from promptcache.positions import (
    Level,
    Position,
    _digest,
    _raw_at,
    canonical_json,
    unmarkable_reason,
)
from promptcache.tokens import BLOCK_OVERHEAD, count_block, default_counter

__all__ = ["block_position", "content_list", "marker", "part"]


def marker(block: Mapping[str, Any], path: str, key: str = "cache_control",
            default: str = "5m") -> str | None:
    cc = block.get(key)
    if cc is None:
        return None
    if not isinstance(cc, Mapping):
        raise PromptError(f"{path}.{key} must be an object, got {cc!r}.", path=path)
    return str(cc.get("ttl", default))


def content_list(content: Any, path: str) -> list[tuple[str, Mapping[str, Any]]]:
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


def block_position(block: Mapping[str, Any], path: str, level: Level, role: str | None,
                   *, first: bool = False) -> Position:
    payload = {k: v for k, v in block.items() if k != "cache_control"}
    raw = _raw_at(payload, path)
    return Position(path=path, level=level, kind=str(block.get("type")), payload=payload, raw=raw,
                    digest=_digest(raw), tokens=count_block(payload), ttl=marker(block, path),
                    role=role if level == "messages" else None, first=first,
                    unmarkable=unmarkable_reason(block))


def _text_tokens(payload: Any) -> int:
    if isinstance(payload, Mapping) and isinstance(payload.get("text"), str):
        text = str(payload["text"])
    elif isinstance(payload, str):
        text = payload
    else:
        text = canonical_json(payload)
    return default_counter().count_text(text) + BLOCK_OVERHEAD


def part(part: Any, path: str, level: Level, role: str | None, marker_key: str | None,
          default_ttl: str = "30m") -> Position:
    ttl = None
    payload = part
    if isinstance(part, Mapping):
        if marker_key:
            ttl = marker(part, path, marker_key, default_ttl)
        payload = {k: v for k, v in part.items() if k != marker_key}
    kind = str(payload.get("type", "text")) if isinstance(payload, Mapping) else "text"
    name = None
    if level == "tools" and isinstance(payload, Mapping):
        fn = payload.get("function")
        name = str(fn.get("name") if isinstance(fn, Mapping) else payload.get("name", ""))
        kind = "tool"
    empty = isinstance(payload, str) and not payload.strip()
    raw = _raw_at(payload, path)
    return Position(path=path, level=level, kind=kind, payload=payload, raw=raw,
                    digest=_digest(raw), tokens=_text_tokens(payload), ttl=ttl,
                    role=role, name=name,
                     unmarkable="an empty text part cannot be cached" if empty else "")
