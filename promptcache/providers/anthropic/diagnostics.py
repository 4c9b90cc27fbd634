"""Anthropic's own cache diagnostics: ask for them on ``messages.create``, read the reason back.

``diagnostics={"previous_message_id": id}`` (anthropic 2.17 takes ``diagnostics=``; ``None`` opts
in on a first turn) makes the response carry ``diagnostics.cache_miss_reason``: a ``type``
(``model_changed``, ``tools_changed``, ``system_changed``, ``messages_changed``,
``previous_message_not_found``, ``unavailable``) and, for a miss, ``cache_missed_input_tokens``.
A ``null`` reason means the comparison had not finished when the response was serialised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["opt_in", "reason_fields"]


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` or ``obj.name``: SDK objects and their dicts read alike."""
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def opt_in(kwargs: Mapping[str, Any], previous_id: str | None) -> dict[str, Any]:
    """``kwargs`` asking for diagnostics against ``previous_id``; a caller's own choice stays."""
    out = dict(kwargs)
    if out.get("diagnostics") is None or type(out.get("diagnostics")).__name__ in ("NotGiven", "Omit"):
        out["diagnostics"] = {"previous_message_id": previous_id}
    return out


def reason_fields(response: Any) -> dict[str, Any] | None:
    """``{outcome, reason, missed_tokens}`` from a ``Message`` (or its dict); None without any."""
    diagnostics = field(response, "diagnostics")
    if diagnostics is None:
        return None
    reason = field(diagnostics, "cache_miss_reason")
    if reason is None:
        return {"outcome": "pending", "reason": None, "missed_tokens": None}
    kind = field(reason, "type")
    missed = field(reason, "cache_missed_input_tokens")
    outcome = {"previous_message_not_found": "not_found", "unavailable": "unavailable"}.get(
        str(kind), "miss")
    return {"outcome": outcome, "reason": None if kind is None else str(kind),
            "missed_tokens": int(missed) if isinstance(missed, int) else None}
