"""The :class:`Ledger`: a run's usage and cost, summed over every call, with the last calls' records.

Thread-safe, because every wrapped client and chat session adds to one from whichever thread
made the call.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

from promptcache.limits import ModelLimits, limits_for
from promptcache.plan import Plan
from promptcache.usage.billing import Cost, Usage, UsageTotals
from promptcache.usage.records import CallRecord, call_record

__all__ = ["DEFAULT_MAXLEN", "Ledger"]

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
