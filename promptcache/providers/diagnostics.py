"""The providers' own account of a cache miss, read from any response: :class:`ProviderReason`.

Anthropic answers ``diagnostics=`` with ``diagnostics.cache_miss_reason``; OpenAI Responses
answers ``prompt_cache_options.comparison_response_id`` with ``prompt_cache_diagnostics``
(``providers/<name>/diagnostics.py`` read each). The two fields never appear on the other's
responses, so the response itself says which applies. Gemini reports no reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from promptcache.limits import ModelLimits, Provider
from promptcache.providers.anthropic import diagnostics as _anthropic
from promptcache.providers.openai import diagnostics as _openai

__all__ = ["Outcome", "ProviderReason", "opt_in", "provider_reason"]

#: ``miss``: the provider names a change; ``hit``: it found none; ``not_found``: it does not know
#: the response compared with; ``unavailable``: it cannot say; ``pending``: not decided in time.
Outcome = Literal["miss", "hit", "not_found", "unavailable", "pending"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderReason:
    """What the provider said about reusing the previous request's cached prefix."""

    provider: Provider
    outcome: Outcome
    #: The provider's own word (``system_changed``, ``input_changed``, ...), when it gave one.
    reason: str | None = None
    #: Input tokens after the first divergence the provider found (its estimate).
    missed_tokens: int | None = None
    #: OpenAI only: tokens of the compared response's prefix that could have been reused.
    reusable_tokens: int | None = None

    def __str__(self) -> str:
        what = self.reason or self.outcome
        missed = f", {self.missed_tokens:,} tokens missed" if self.missed_tokens is not None else ""
        return f"{self.provider} says {what}{missed}"


def provider_reason(response: Any) -> ProviderReason | None:
    """The provider's own miss reason on ``response`` (an SDK object or its dict), if any."""
    for provider, parse in (("anthropic", _anthropic.reason_fields),
                            ("openai", _openai.reason_fields)):
        try:
            fields = parse(response)
        except (TypeError, ValueError):
            continue
        if fields is not None:
            return ProviderReason(provider=provider, **fields)  # type: ignore[arg-type]
    return None


def opt_in(method: str, kwargs: Mapping[str, Any], previous_id: str | None,
           limits: ModelLimits | None) -> Mapping[str, Any]:
    """``kwargs`` asking the provider for its miss reason, for the SDK methods that take it
    (``messages.create``/``stream`` and their beta twins; ``responses.create`` and the
    ``responses.stream`` helper, which sends the same request); else as given."""
    if method.endswith("messages.create") or method.endswith("messages.stream"):
        return _anthropic.opt_in(kwargs, previous_id)
    if method in ("responses.create", "responses.stream"):
        return _openai.opt_in(kwargs, previous_id, limits)
    return kwargs
