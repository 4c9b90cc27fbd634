"""Usage from a Converse response: ``usage`` of ``converse``, or the ``metadata`` event that ends
a ``converse_stream``.

Converse reports ``inputTokens`` (uncached input only: the tokens after the last checkpoint
read or written), ``outputTokens``, ``cacheReadInputTokens`` and ``cacheWriteInputTokens``;
``totalTokens`` is their sum. A write's TTL is not reported apart, except in ``cacheDetails``
(``[{"ttl": "1h", "inputTokens": n}, ...]``) where the service sends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from promptcache.errors import PromptCacheError
from promptcache.usage import Usage

__all__ = ["ConverseStreamUsage", "usage_from_converse", "usage_of_fields"]


def _int(fields: Mapping[str, Any], key: str) -> int:
    value = fields.get(key)
    return int(value) if isinstance(value, int | float) and value > 0 else 0


def usage_of_fields(fields: Mapping[str, Any], *, model: str) -> Usage:
    """A Converse ``TokenUsage`` dict as a :class:`Usage`."""
    write = _int(fields, "cacheWriteInputTokens")
    one_hour = 0
    for detail in fields.get("cacheDetails") or ():
        if isinstance(detail, Mapping) and detail.get("ttl") == "1h":
            one_hour += _int(detail, "inputTokens")
    one_hour = min(one_hour, write)
    return Usage(provider="bedrock_converse", model=model,
                 input_tokens=_int(fields, "inputTokens"),
                 output_tokens=_int(fields, "outputTokens"),
                 cache_read_tokens=_int(fields, "cacheReadInputTokens"),
                 cache_writes={t: n for t, n in (("5m", write - one_hour), ("1h", one_hour))
                               if n})


def _fields(response: Any) -> Mapping[str, Any] | None:
    if not isinstance(response, Mapping):
        return None
    usage = response.get("usage")
    if isinstance(usage, Mapping):
        return usage  # converse(), or a stream's metadata event body
    metadata = response.get("metadata")
    inner = metadata.get("usage") if isinstance(metadata, Mapping) else None
    if isinstance(inner, Mapping):
        return inner  # one converse_stream event
    if "inputTokens" in response or "cacheReadInputTokens" in response:
        return response  # the usage dict itself
    return None


def usage_from_converse(response: Any, *, model: str | None = None) -> Usage:
    """The usage of a ``converse`` response, a stream event (or a list of them), or a
    ``TokenUsage`` dict. Converse responses do not name their model: pass ``model``."""
    fields = _fields(response)
    if fields is None and isinstance(response, Iterable) and not isinstance(
            response, str | bytes | Mapping):
        for item in response:
            fields = _fields(item) or fields
    if fields is None:
        raise PromptCacheError(f"No Converse usage in this {type(response).__name__}: expected "
                               "a converse() response, a metadata stream event or a usage dict.")
    return usage_of_fields(fields, model=model or "")


class ConverseStreamUsage:
    """Reads a ``converse_stream``'s events as they go by; :attr:`usage` once ``metadata`` came."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._fields: Mapping[str, Any] | None = None

    def feed(self, event: Any) -> None:
        fields = _fields(event) if isinstance(event, Mapping) and "metadata" in event else None
        if fields is not None:
            self._fields = fields

    def usage(self) -> Usage | None:
        return None if self._fields is None else usage_of_fields(self._fields, model=self.model)
