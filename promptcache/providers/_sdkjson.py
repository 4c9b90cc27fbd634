"""Helpers the per-provider usage parsers share: SDK objects and raw dicts look the same to them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["as_dict", "number"]


def as_dict(value: Any) -> dict[str, Any]:
    """A pydantic SDK object (``model_dump``) or a mapping, as a plain dict; anything else: {}."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        dumped = dump()
        return dict(dumped) if isinstance(dumped, Mapping) else {}
    return {}


def number(mapping: Mapping[str, Any], *keys: str) -> int:
    """The first of ``keys`` present with a non-null value, as an int (0 when none is)."""
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return int(value)
    return 0
