"""OpenAI's own cache diagnostics (Responses, GPT-5.6+): ask for them, read the reason back.

``prompt_cache_options.comparison_response_id`` (openai 3.60+ takes it on ``responses.create``)
makes the response carry ``prompt_cache_diagnostics``: ``{"type": "cache_hit"}``,
``{"type": "cache_miss", "reason": ..., "cache_missed_tokens": n,
"comparison_reusable_tokens": m}`` (reasons ``model_changed``, ``prompt_cache_key_changed``,
``tools_changed``, ``text_format_changed``, ``reasoning_effort_changed``, ``verbosity_changed``,
``context_compacted``, ``input_changed``, ``service_tier_changed``),
``comparison_response_not_found`` or ``unavailable``. Models before GPT-5.6 reject
``prompt_cache_options`` with a 400, so :func:`opt_in` leaves their requests alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.limits import ModelLimits

__all__ = ["opt_in", "reason_fields"]

_OUTCOMES = {"cache_hit": "hit", "cache_miss": "miss", "comparison_response_not_found": "not_found",
             "unavailable": "unavailable"}


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` or ``obj.name``: SDK objects and their dicts read alike."""
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def opt_in(kwargs: Mapping[str, Any], previous_id: str | None,
           limits: ModelLimits | None) -> dict[str, Any]:
    """``kwargs`` asking to compare with ``previous_id`` (only on models that take the options,
    and only when there is a previous response); a caller's own comparison id stays."""
    out = dict(kwargs)
    if previous_id is None or limits is None or not limits.explicit_breakpoints:
        return out
    options = out.get("prompt_cache_options")
    if type(options).__name__ in ("NotGiven", "Omit"):
        options = None  # the SDK's "not given" (the ``responses.stream`` helper passes it on)
    if options is not None and not isinstance(options, Mapping):
        return out  # an SDK sentinel or something we do not read: leave it as written
    options = dict(options or {})
    options.setdefault("comparison_response_id", previous_id)
    out["prompt_cache_options"] = options
    return out


def reason_fields(response: Any) -> dict[str, Any] | None:
    """``{outcome, reason, missed_tokens, reusable_tokens}`` from a ``Response`` (or its dict)."""
    diagnostics = field(response, "prompt_cache_diagnostics")
    if diagnostics is None:
        return None
    kind = str(field(diagnostics, "type"))
    missed = field(diagnostics, "cache_missed_tokens")
    reusable = field(diagnostics, "comparison_reusable_tokens")
    reason = field(diagnostics, "reason")
    return {"outcome": _OUTCOMES.get(kind, "unavailable"),
            "reason": str(reason) if reason is not None else (None if kind == "cache_hit" else kind),
            "missed_tokens": missed if isinstance(missed, int) else None,
            "reusable_tokens": reusable if isinstance(reusable, int) else None}
