"""Usage and cost: tokens by billing class, and what they cost with and without caching.

:class:`Usage` is provider-neutral. Parsers, one per provider, live in
``promptcache/providers/<name>/usage.py`` and accept the SDK's response objects, their raw dicts
and streamed events alike; :func:`promptcache.parse_usage` recognises which one applies. Prices come from
:mod:`promptcache.limits` (dated, one row per model), so a price change is a one-line edit there.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, get_args

from promptcache.errors import TraceError
from promptcache.limits import ModelLimits, Provider, limits_for
from promptcache.plan import Plan

__all__ = ["CallRecord", "Cost", "Ledger", "Usage", "UsageTotals", "call_record", "cost_of",
           "parse_ledger", "read_ledger"]

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


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecord:
    """One call as the ledger keeps it: when, what it used and cost, and what the plan expected.

    The unit of the JSON-lines export (:meth:`Ledger.export_jsonl`) that ``promptcache report``
    reads back, so a run's cost and savings can be tabled and plotted after the fact.
    """

    #: Seconds since the epoch when the call was accounted (its response, or its stream, ended).
    at: float
    usage: Usage
    cost: Cost
    #: True when promptcache planned the request, False when it went out as written, None when
    #: the ledger was fed usage alone.
    planned: bool | None = None
    #: The plan's breakpoints (block paths) and their TTLs, in order.
    breakpoints: tuple[str, ...] = ()
    ttls: tuple[str, ...] = ()
    #: Tokens the plan expected to read from and write to the cache.
    expected_read: int | None = None
    expected_write: int | None = None
    #: Why the call read less than expected: the provider's own reason when it gave one
    #: (``system_changed``, ``input_changed``...), else promptcache's.
    miss_reason: str | None = None

    @property
    def saving(self) -> float:
        """Dollars saved against the same tokens uncached (negative: caching cost more)."""
        return self.cost.savings

    def to_json(self) -> dict[str, Any]:
        """The record as one JSON object (a line of the export)."""
        u, c = self.usage, self.cost
        return {
            "at": self.at, "provider": u.provider, "model": u.model,
            "input_tokens": u.input_tokens, "cache_read_tokens": u.cache_read_tokens,
            "cache_writes": dict(u.cache_writes), "output_tokens": u.output_tokens,
            "billed_usd": c.billed, "uncached_usd": c.uncached, "saving_usd": c.savings,
            "storage_usd": c.storage, "priced": c.priced, "planned": self.planned,
            "breakpoints": list(self.breakpoints), "ttls": list(self.ttls),
            "expected_read": self.expected_read, "expected_write": self.expected_write,
            "miss_reason": self.miss_reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallRecord:
        """The record a line of the export describes; raises ``ValueError``/``TypeError`` (or
        ``KeyError``) on a malformed one (:func:`read_ledger` names the line)."""
        provider = data["provider"]
        if provider not in get_args(Provider):
            raise ValueError(f"unknown provider {provider!r}")
        writes = data.get("cache_writes") or {}
        if not isinstance(writes, Mapping):
            raise TypeError("cache_writes is not an object")
        usage = Usage(provider=provider, model=str(data["model"]),
                      input_tokens=_count(data, "input_tokens"),
                      cache_read_tokens=_count(data, "cache_read_tokens"),
                      cache_writes={str(k): int(v) for k, v in writes.items()},
                      output_tokens=_count(data, "output_tokens"))
        cost = Cost(billed=float(data["billed_usd"]), uncached=float(data["uncached_usd"]),
                    storage=float(data.get("storage_usd") or 0.0), priced=bool(data.get("priced", True)))
        planned = data.get("planned")
        return cls(at=float(data["at"]), usage=usage, cost=cost,
                   planned=None if planned is None else bool(planned),
                   breakpoints=tuple(str(b) for b in data.get("breakpoints") or ()),
                   ttls=tuple(str(t) for t in data.get("ttls") or ()),
                   expected_read=_optional_count(data, "expected_read"),
                   expected_write=_optional_count(data, "expected_write"),
                   miss_reason=None if data.get("miss_reason") is None else str(data["miss_reason"]))


def _count(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} is not a token count: {value!r}")
    return value


def _optional_count(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) is None else _count(data, key)


def read_ledger(path: str | Path) -> list[CallRecord]:
    """The records of a JSON-lines ledger export (:meth:`Ledger.export_jsonl`)."""
    return parse_ledger(Path(path).read_text(encoding="utf-8"), source=str(path))


def parse_ledger(text: str, *, source: str = "<ledger>") -> list[CallRecord]:
    """The records of a ledger export's text; a malformed line is a
    :class:`~promptcache.errors.TraceError` naming ``source`` and the line."""
    out: list[CallRecord] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, Mapping):
                raise TypeError("not a JSON object")
            out.append(CallRecord.from_json(data))
        except (ValueError, TypeError, KeyError) as e:
            raise TraceError(f"{source}, line {n}: not a ledger record ({type(e).__name__}: "
                             f"{e}). Each line must be one record as Ledger.export_jsonl "
                             "writes it.", path=f"line {n}") from e
    return out


def call_record(usage: Usage, limits: ModelLimits | None = None, *, plan: Plan | None = None,
                planned: bool | None = None, miss_reason: str | None = None,
                at: float | None = None, breakpoints: tuple[str, ...] = (),
                ttls: tuple[str, ...] = ()) -> CallRecord:
    """The record of one call, priced (``breakpoints``/``ttls``: a provider's own plan when
    there is no optimizer ``plan``); raises what :func:`cost_of` raises."""
    cost = cost_of(usage, limits)
    expected = plan.expected if plan is not None else None
    return CallRecord(
        at=time.time() if at is None else at, usage=usage, cost=cost,
        planned=planned if planned is not None else (True if plan is not None else None),
        breakpoints=tuple(p.path for p in plan.placements) if plan is not None else breakpoints,
        ttls=tuple(p.ttl for p in plan.placements) if plan is not None else ttls,
        expected_read=expected.cache_read_tokens if expected is not None else None,
        expected_write=(expected.cache_write_5m_tokens + expected.cache_write_1h_tokens
                        if expected is not None else None),
        miss_reason=miss_reason)


#: How many per-call records a Ledger keeps by default (the totals count every call).
DEFAULT_MAXLEN = 10_000


class Ledger:
    """Accumulates the usage of a run. Thread-safe; :meth:`totals` returns a frozen snapshot.

    Besides the totals (every call), the ledger keeps the last ``maxlen`` calls as
    :class:`CallRecord` s (``None``: all of them), bounded so a long-running service does not
    grow without end; :meth:`export_jsonl` writes them out for ``promptcache report``.
    """

    def __init__(self, maxlen: int | None = DEFAULT_MAXLEN) -> None:
        self._lock = threading.Lock()
        self._totals = UsageTotals()
        self._records: deque[CallRecord] = deque(maxlen=maxlen)

    @property
    def records(self) -> tuple[CallRecord, ...]:
        """The kept per-call records, oldest first."""
        with self._lock:
            return tuple(self._records)

    @property
    def calls(self) -> list[tuple[Usage, Cost]]:
        """The kept calls as (usage, cost) pairs, oldest first."""
        return [(r.usage, r.cost) for r in self.records]

    def add(self, usage: Usage, limits: ModelLimits | None = None, *, plan: Plan | None = None,
            planned: bool | None = None, miss_reason: str | None = None,
            at: float | None = None) -> Cost:
        """Record one call and return its cost (``plan``: what it expected, for the record)."""
        return self.record(usage, limits, plan=plan, planned=planned, miss_reason=miss_reason,
                           at=at).cost

    def record(self, usage: Usage, limits: ModelLimits | None = None, *, plan: Plan | None = None,
               planned: bool | None = None, miss_reason: str | None = None,
               at: float | None = None, breakpoints: tuple[str, ...] = (),
               ttls: tuple[str, ...] = ()) -> CallRecord:
        """Record one call and return its :class:`CallRecord` (see :func:`call_record`)."""
        return self.append(call_record(usage, limits, plan=plan, planned=planned,
                                       miss_reason=miss_reason, at=at, breakpoints=breakpoints,
                                       ttls=ttls))

    def append(self, record: CallRecord) -> CallRecord:
        """Add a record made by :func:`call_record` (its usage to the totals too)."""
        usage, cost = record.usage, record.cost
        with self._lock:
            t = self._totals
            writes = dict(t.cache_writes)
            for ttl, n in usage.cache_writes.items():
                writes[ttl] = writes.get(ttl, 0) + n
            self._totals = UsageTotals(
                calls=t.calls + 1,
                uncached_input_tokens=t.uncached_input_tokens + usage.input_tokens,
                cache_read_tokens=t.cache_read_tokens + usage.cache_read_tokens,
                cache_writes=MappingProxyType(writes),
                output_tokens=t.output_tokens + usage.output_tokens,
                billed=t.billed + cost.billed,
                uncached=t.uncached + cost.uncached,
                storage=t.storage,
                unpriced_calls=t.unpriced_calls + (not cost.priced),
            )
            self._records.append(record)
        return record

    def export_jsonl(self, path: str | Path) -> Path:
        """Write the kept records to ``path``, one JSON object a line; returns the path."""
        out = Path(path)
        with out.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(r.to_json()) + "\n" for r in self.records)
        return out

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(self.records)

    def add_storage(self, model: str, token_hours: float, limits: ModelLimits | None = None) -> float:
        """Record Gemini explicit-cache storage (token-hours); returns its dollar cost."""
        row = limits if limits is not None else limits_for(model, provider="gemini")
        dollars = token_hours * (row.storage_price_per_mtok_hour or 0.0) / 1e6
        with self._lock:
            t = self._totals
            self._totals = UsageTotals(
                calls=t.calls,
                uncached_input_tokens=t.uncached_input_tokens,
                cache_read_tokens=t.cache_read_tokens,
                cache_writes=t.cache_writes,
                output_tokens=t.output_tokens,
                billed=t.billed + dollars,
                uncached=t.uncached,
                storage=t.storage + dollars,
                unpriced_calls=t.unpriced_calls,
            )
        return dollars

    def totals(self) -> UsageTotals:
        with self._lock:
            return self._totals

