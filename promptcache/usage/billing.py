"""A call's tokens by billing class (:class:`Usage`), what they cost (:class:`Cost`,
:func:`cost_of`), and a run's sums (:class:`UsageTotals`).

``input_tokens`` is plain, uncached input only, whatever the provider reports; prices come from
the model's row in :mod:`promptcache.limits`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from promptcache.limits import ModelLimits, Provider, limits_for

__all__ = ["Cost", "Usage", "UsageTotals", "cost_of"]

_EMPTY: Mapping[str, int] = MappingProxyType({})


def _frozen(writes: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType({k: v for k, v in writes.items() if v})


class _TokenClasses:
    """What one call and a run's totals both say about their input tokens."""

    __slots__ = ()
    cache_read_tokens: int
    cache_writes: Mapping[str, int]

    @property
    def uncached_input_tokens(self) -> int:
        """Input neither read from nor written to a cache, billed at the base input price."""
        raise NotImplementedError

    @property
    def cache_write_5m_tokens(self) -> int:
        return self.cache_writes.get("5m", 0)

    @property
    def cache_write_1h_tokens(self) -> int:
        return self.cache_writes.get("1h", 0)

    @property
    def cache_write_tokens(self) -> int:
        """All cache writes, whatever their TTL."""
        return sum(self.cache_writes.values())

    @property
    def total_input_tokens(self) -> int:
        """Every input token: uncached, read and written."""
        return self.uncached_input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def hit_rate(self) -> float:
        """Share of input tokens read from cache (0.0 when there are none)."""
        total = self.total_input_tokens
        return self.cache_read_tokens / total if total else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage(_TokenClasses):
    """The tokens of one call, split by how each class is billed.

    ``input_tokens`` is plain, uncached input only (Anthropic's meaning), whatever the provider
    reports: OpenAI's and Gemini's prompt totals include cached tokens, and the parsers subtract
    them so every class is counted once.
    """

    provider: Provider
    model: str
    #: Input neither read from nor written to a cache, billed at the base input price.
    input_tokens: int = 0
    #: Input read from a cache (Anthropic ``cache_read_input_tokens``, OpenAI ``cached_tokens``,
    #: Gemini ``cachedContentTokenCount``).
    cache_read_tokens: int = 0
    #: Input written to a cache, by TTL (``5m``, ``1h``, ``30m``, ``12h``).
    cache_writes: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    output_tokens: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache_writes", _frozen(self.cache_writes))

    @property
    def uncached_input_tokens(self) -> int:
        """``input_tokens`` by the name :class:`UsageTotals` uses: the same count."""
        return self.input_tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class Cost:
    """Dollars for some usage: billed, and what the same tokens would cost with no caching."""

    billed: float
    #: Every input token at the base input price, plus output: the bill without caching.
    uncached: float
    #: Gemini explicit-cache storage, included in ``billed``.
    storage: float = 0.0
    #: False when the model has no confirmed price; the dollar figures are then 0.
    priced: bool = True

    @property
    def savings(self) -> float:
        """``uncached - billed``; negative when caching cost more than it saved."""
        return self.uncached - self.billed


def _limits(usage: Usage, limits: ModelLimits | None) -> ModelLimits:
    return limits if limits is not None else limits_for(usage.model, provider=usage.provider)


def cost_of(usage: Usage, limits: ModelLimits | None = None, *, storage_token_hours: float = 0.0) -> Cost:
    """The dollar cost of ``usage``, with prices from ``limits`` (default: the model's row).

    Raises :class:`~promptcache.errors.UnknownModelError` for a model with no row; returns an
    unpriced zero :class:`Cost` for a known model whose price is unconfirmed.
    """
    row = _limits(usage, limits)
    if row.input_price is None:
        return Cost(billed=0.0, uncached=0.0, priced=False)
    per = row.input_price / 1e6
    output = usage.output_tokens * (row.output_price or 0.0) / 1e6
    writes = sum(n * row.write_multiplier(ttl) for ttl, n in usage.cache_writes.items())
    billed_input = (usage.input_tokens + usage.cache_read_tokens * row.cache_read_multiplier + writes) * per
    storage = storage_token_hours * (row.storage_price_per_mtok_hour or 0.0) / 1e6
    return Cost(
        billed=billed_input + output + storage,
        uncached=usage.total_input_tokens * per + output,
        storage=storage,
        priced=row.output_price is not None,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageTotals(_TokenClasses):
    """A run's usage and cost, summed over its calls.

    ``uncached_input_tokens`` is the input billed at the base price only; every input token,
    cached or not, is ``total_input_tokens``. The old name ``input_tokens`` read like the total
    and still works, with a DeprecationWarning.
    """

    calls: int = 0
    #: Input neither read from nor written to a cache (the sum of the calls' ``input_tokens``).
    uncached_input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_writes: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    output_tokens: int = 0
    billed: float = 0.0
    uncached: float = 0.0
    storage: float = 0.0
    #: Calls whose model has no confirmed price (their dollars are not in the totals).
    unpriced_calls: int = 0

    @property
    def savings(self) -> float:
        return self.uncached - self.billed

    @property
    def input_tokens(self) -> int:
        """Deprecated: the uncached input only, which the name hid; use
        ``uncached_input_tokens`` (or ``total_input_tokens`` for every input token)."""
        warnings.warn("UsageTotals.input_tokens is deprecated: it counts uncached input only. "
                      "Use uncached_input_tokens, or total_input_tokens for all input.",
                      DeprecationWarning, stacklevel=2)
        return self.uncached_input_tokens
