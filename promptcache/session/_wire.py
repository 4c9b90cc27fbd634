"""Small helpers the provider adapters share: reading SDK objects and dicts alike.

The adapters never import an SDK: they read the objects the client returns (pydantic models or
their dict forms), so the SDKs stay optional and the response cache's rebuilt objects, which are
the same types, read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["HIT_MARKER", "dump", "get", "served_from_cache"]

#: The attribute :mod:`promptcache.cache` sets to True on a response (or replayed stream) it
#: served without calling the API. A session reads it so that statistics never bill such a call.
HIT_MARKER = "_promptcache_hit"


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
