"""Helpers the per-provider usage parsers share: SDK objects and raw dicts look the same to them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from promptcache.errors import PromptCacheError

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
    """The first of ``keys`` present with a non-null value, as an int (0 when none is).

    Raises :class:`~promptcache.errors.PromptCacheError` naming the field when the value is not
    a token count (not a finite, non-negative number): a usage we cannot read is never guessed.
    """
    for key in keys:
        value = mapping.get(key)
        if value is None:
            continue
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or value < 0:
            raise PromptCacheError(f"usage field {key!r} is not a token count: {value!r}.")
        return int(value)
    return 0
