"""Reading an Anthropic Messages request the way the cache does: positions, marks, settings.

Split from :mod:`.anthropic` so the validation rules (the 400s) sit apart from the cache state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from promptcache.providers._simerrors import SimulatedAPIError

Level = Literal["tools", "system", "messages"]

_UNMARKABLE = frozenset({"thinking", "redacted_thinking"})
_TTLS = ("5m", "1h")


@dataclass(frozen=True, slots=True, kw_only=True)
class RawBlock:
    path: str
    level: Level
    block: Mapping[str, Any]
    role: str | None = None
    first_in_message: bool = False


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def without_cache_control(block: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


def fingerprint_of(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()


def as_blocks(content: Any) -> list[Mapping[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, Sequence):
        return [b for b in content if isinstance(b, Mapping)]
    return []


def _has_image(value: Any) -> bool:
    if isinstance(value, Mapping):
        return value.get("type") == "image" or any(_has_image(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_image(v) for v in value)
    return False


def flatten(request: Mapping[str, Any]) -> list[RawBlock]:
    raws: list[RawBlock] = []
    for i, tool in enumerate(request.get("tools") or ()):
        raws.append(RawBlock(path=f"tools[{i}]", level="tools", block=tool))
    system = request.get("system")
    if isinstance(system, str):
        if system:
            raws.append(
                RawBlock(path="system", level="system", block={"type": "text", "text": system})
            )
    else:
        for i, block in enumerate(as_blocks(system)):
            raws.append(RawBlock(path=f"system[{i}]", level="system", block=block))
    for m, message in enumerate(request.get("messages") or ()):
        content = message.get("content")
        for c, block in enumerate(as_blocks(content)):
            path = (
                f"messages[{m}].content"
                if isinstance(content, str)
                else (f"messages[{m}].content[{c}]")
            )
            raws.append(
                RawBlock(
                    path=path,
                    level="messages",
                    block=block,
                    role=str(message.get("role")),
                    first_in_message=c == 0,
                )
            )
    return raws


def settings_key(request: Mapping[str, Any]) -> str:
    """The request settings that, per the docs, invalidate message-level entries only."""
    return canonical_json(
        {
            "tool_choice": request.get("tool_choice"),
            "thinking": request.get("thinking"),
            "images": _has_image(request.get("messages")) or _has_image(request.get("system")),
        }
    )


def _cannot_mark(raw: RawBlock) -> str | None:
    kind = raw.block.get("type")
    if kind in _UNMARKABLE:
        return f"{kind} blocks cannot be cached directly with cache_control"
    if kind == "text" and not raw.block.get("text"):
        return "cache_control cannot be set for empty text blocks"
    return None


def _mark_ttl(raw: RawBlock) -> str | None:
    control = raw.block.get("cache_control")
    if control is None:
        return None
    if not isinstance(control, Mapping) or control.get("type") != "ephemeral":
        raise SimulatedAPIError(
            f"{raw.path}.cache_control.type: Input should be 'ephemeral'",
            rule="cache-control-type",
            path=raw.path,
        )
    ttl = control.get("ttl", "5m")
    if ttl not in _TTLS:
        raise SimulatedAPIError(
            f"{raw.path}.cache_control.ttl: Input should be '5m' or '1h'",
            rule="cache-control-ttl",
            path=raw.path,
        )
    reason = _cannot_mark(raw)
    if reason is not None:
        raise SimulatedAPIError(f"{raw.path}: {reason}.", rule="uncacheable-block", path=raw.path)
    return str(ttl)


def breakpoint_ttls(
    request: Mapping[str, Any], raws: Sequence[RawBlock], max_breakpoints: int
) -> list[str | None]:
    """The TTL of the breakpoint on each position, validated as the API validates them."""
    ttls = [_mark_ttl(raw) for raw in raws]
    explicit = sum(t is not None for t in ttls)
    automatic = request.get("cache_control")
    if automatic is not None:
        if not isinstance(automatic, Mapping) or automatic.get("type") != "ephemeral":
            raise SimulatedAPIError(
                "cache_control.type: Input should be 'ephemeral'",
                rule="cache-control-type",
                path="cache_control",
            )
        ttl = str(automatic.get("ttl", "5m"))
        if ttl not in _TTLS:
            raise SimulatedAPIError(
                "cache_control.ttl: Input should be '5m' or '1h'",
                rule="cache-control-ttl",
                path="cache_control",
            )
        last = next(
            (i for i in range(len(raws) - 1, -1, -1) if _cannot_mark(raws[i]) is None), None
        )
        if last is not None:
            if ttls[last] is not None and ttls[last] != ttl:
                raise SimulatedAPIError(
                    f"The request-level cache_control (ttl '{ttl}') conflicts with the "
                    f"cache_control on the last cacheable block {raws[last].path} "
                    f"(ttl '{ttls[last]}').",
                    rule="automatic-ttl-conflict",
                    path=raws[last].path,
                )
            ttls[last] = ttl
        explicit += 1
    if explicit > max_breakpoints:
        raise SimulatedAPIError(
            f"A maximum of {max_breakpoints} blocks with cache_control may be provided. "
            f"Found {explicit}.",
            rule="max-breakpoints",
        )
    seen_5m: str | None = None
    for raw, mark in zip(raws, ttls, strict=True):
        if mark == "5m" and seen_5m is None:
            seen_5m = raw.path
        elif mark == "1h" and seen_5m is not None:
            raise SimulatedAPIError(
                f"A cache_control block with ttl='1h' ({raw.path}) must not come after a "
                f"cache_control block with ttl='5m' ({seen_5m}). Note that blocks are processed "
                "in the following order: `tools`, `system`, `messages`.",
                rule="ttl-order",
                path=raw.path,
            )
    return ttls
