"""The session's Anthropic edge: request keyword arguments out, SDK ``Message`` in.

Only this module knows the shape of an ``anthropic`` response; it never imports the SDK, it reads
the objects the client returns, so the core stays provider-neutral and the SDK optional.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.providers.anthropic.render import render_anthropic
from promptcache.session._core import Parsed, Pending
from promptcache.session._values import TurnUsage

__all__ = ["content_param", "parse_message", "request_kwargs"]


def request_kwargs(pending: Pending, *, previous_message_id: str | None,
                   diagnostics: bool) -> dict[str, Any]:
    """``messages.create`` keyword arguments, asking for cache diagnostics against the last reply.

    ``previous_message_id=None`` still opts in on the first turn, as the API documents.
    """
    kwargs = render_anthropic(pending.prompt, pending.plan)
    if diagnostics:
        kwargs["diagnostics"] = {"previous_message_id": previous_message_id}
    return kwargs


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def content_param(block: Any) -> dict[str, Any]:
    """An SDK content block as the param the next request must send back.

    Thinking blocks keep their ``signature`` and redacted ones their ``data`` byte for byte: the
    API verifies them when a tool-use loop continues, and any change would also change the
    cached prefix.
    """
    kind = _get(block, "type")
    if kind == "text":
        out: dict[str, Any] = {"type": "text", "text": _get(block, "text")}
        citations = _get(block, "citations")
        if citations:
            out["citations"] = [_dump(c) for c in citations]
        return out
    if kind == "tool_use":
        return {"type": "tool_use", "id": _get(block, "id"), "name": _get(block, "name"),
                "input": _dump(_get(block, "input") or {})}
    if kind == "thinking":
        return {"type": "thinking", "thinking": _get(block, "thinking"),
                "signature": _get(block, "signature")}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": _get(block, "data")}
    dumped = _dump(block)
    return dict(dumped) if isinstance(dumped, Mapping) else {"type": kind, "value": dumped}


def _dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


def parse_usage(usage: Any) -> TurnUsage:
    """Anthropic ``usage``: ``input_tokens`` counts only tokens after the last breakpoint."""
    creation = int(_get(usage, "cache_creation_input_tokens") or 0)
    detail = _get(usage, "cache_creation")
    w1h = int(_get(detail, "ephemeral_1h_input_tokens") or 0) if detail is not None else 0
    w5m = int(_get(detail, "ephemeral_5m_input_tokens") or 0) if detail is not None else creation
    return TurnUsage(input_tokens=int(_get(usage, "input_tokens") or 0),
                     cache_read_tokens=int(_get(usage, "cache_read_input_tokens") or 0),
                     cache_write_5m_tokens=w5m, cache_write_1h_tokens=w1h,
                     output_tokens=int(_get(usage, "output_tokens") or 0))


def parse_message(message: Any) -> Parsed:
    """Reduce an ``anthropic.types.Message`` (or its dict form) to what the session keeps."""
    diagnostics = _get(message, "diagnostics")
    reason = _get(diagnostics, "cache_miss_reason") if diagnostics is not None else None
    missed = _get(reason, "cache_missed_input_tokens") if reason is not None else None
    return Parsed(
        content=tuple(content_param(b) for b in _get(message, "content") or ()),
        stop_reason=_get(message, "stop_reason"),
        message_id=_get(message, "id"),
        usage=parse_usage(_get(message, "usage")),
        server_reason=_get(reason, "type") if reason is not None else None,
        server_missed_tokens=int(missed) if missed is not None else None,
        raw=message,
    )
