"""One call as the ledger keeps it (:class:`CallRecord`), made by :func:`call_record`, and the
JSON-lines export read back (:func:`read_ledger`, :func:`parse_ledger`) for ``promptcache report``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from promptcache.errors import TraceError
from promptcache.limits import ModelLimits, Provider
from promptcache.plan import Plan
from promptcache.usage.billing import Cost, Usage, cost_of

__all__ = ["CallRecord", "call_record", "parse_ledger", "read_ledger"]


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
