"""Anthropic usage: from a ``Message``, its ``Usage``, their dicts, or the stream's events.

In a stream, ``message_start`` carries the input-side counts and ``message_delta`` the cumulative
final ones (input-side fields may be repeated there or absent), so later non-null values win.
The message's ``id`` and ``diagnostics`` come on ``message_start`` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from promptcache.providers._sdkjson import as_dict, number
from promptcache.usage import Usage

__all__ = ["AnthropicStreamUsage", "usage_from_anthropic"]

_FIELDS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "cache_creation",
)
#: What a stream's ``message_start`` carries that accounting reads besides the usage.
_MESSAGE = ("id", "diagnostics")


_BREAKDOWN = ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")


def _read(value: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """:func:`as_dict` of ``value`` where only ``keys`` are read: an SDK object's attributes are
    taken as they are (its ``model_dump()`` would serialise every field, after every call)."""
    if value is None or isinstance(value, Mapping) or not callable(
            getattr(value, "model_dump", None)):
        return as_dict(value)
    return {k: getattr(value, k, None) for k in keys}


def _from_usage(u: Mapping[str, Any], model: str) -> Usage:
    created = number(u, "cache_creation_input_tokens")
    breakdown = _read(u.get("cache_creation"), _BREAKDOWN)
    if breakdown:
        writes = {
            "5m": number(breakdown, "ephemeral_5m_input_tokens"),
            "1h": number(breakdown, "ephemeral_1h_input_tokens"),
        }
    else:
        writes = {"5m": created}  # no breakdown: the default TTL
    return Usage(
        provider="anthropic",
        model=model,
        input_tokens=number(u, "input_tokens"),
        cache_read_tokens=number(u, "cache_read_input_tokens"),
        cache_writes=writes,
        output_tokens=number(u, "output_tokens"),
    )


class AnthropicStreamUsage:
    """Accumulates usage from stream events (SDK event objects or dicts), in order."""

    def __init__(self, model: str = "") -> None:
        self.model = model
        self._usage: dict[str, Any] = {}
        self._message: dict[str, Any] = {}

    def feed(self, event: Any) -> None:
        e = as_dict(event)
        kind = e.get("type")
        if kind == "message_start":
            message = as_dict(e.get("message"))
            self.model = str(message.get("model") or self.model)
            self._message = {k: message[k] for k in _MESSAGE if message.get(k) is not None}
            self._merge(as_dict(message.get("usage")))
        elif kind == "message_delta":
            self._merge(as_dict(e.get("usage")))

    def _merge(self, usage: Mapping[str, Any]) -> None:
        for key in _FIELDS:
            if usage.get(key) is not None:
                self._usage[key] = usage[key]

    @property
    def usage(self) -> Usage:
        return _from_usage(self._usage, self.model)

    @property
    def message(self) -> dict[str, Any]:
        """The streamed message as a non-streamed ``Message`` dict reads for accounting: its
        ``id`` and ``diagnostics`` (what the next request's diagnostics compare with, and the
        provider's miss reason) beside the usage so far."""
        return {"type": "message", **self._message, "model": self.model,
                "usage": dict(self._usage)}


def usage_from_anthropic(response: Any, *, model: str | None = None) -> Usage:
    """Parse a ``Message``/``Usage`` (object or dict) or an iterable of stream events."""
    if (
        not isinstance(response, Mapping)
        and not hasattr(response, "model_dump")
        and isinstance(response, Iterable)
    ):
        acc = AnthropicStreamUsage(model or "")
        for event in response:
            acc.feed(event)
        return acc.usage
    if not isinstance(response, Mapping) and hasattr(response, "model_dump"):
        usage = getattr(response, "usage", None)
        if isinstance(usage, Mapping) or callable(getattr(usage, "model_dump", None)):
            # A ``Message``: its usage alone is read, not the whole reply dumped (its content
            # can be long, and this runs after every call).
            return _from_usage(_read(usage, _FIELDS),
                               model or str(getattr(response, "model", None) or ""))
    d = as_dict(response)
    if "usage" in d:
        return _from_usage(as_dict(d["usage"]), model or str(d.get("model") or ""))
    return _from_usage(d, model or "")
