"""Usage and cost: tokens by billing class, what they cost with and without caching, and the
per-call ledger.

:class:`Usage` is provider-neutral. Parsers, one per provider, live in
``promptcache/providers/<name>/usage.py`` and accept the SDK's response objects, their raw dicts
and streamed events alike; :func:`promptcache.parse_usage` recognises which one applies. Prices come from
:mod:`promptcache.limits` (dated, one row per model), so a price change is a one-line edit there.

Three modules, one job each: :mod:`~promptcache.usage.billing` (a call's tokens, their price, a
run's totals), :mod:`~promptcache.usage.records` (one call as the ledger keeps it, and its
JSON-lines form) and :mod:`~promptcache.usage.ledger` (the thread-safe accumulator). Every name
is importable from here, as before the split.
"""

from __future__ import annotations

from promptcache.usage.billing import Cost, Usage, UsageTotals, cost_of
from promptcache.usage.ledger import DEFAULT_MAXLEN as DEFAULT_MAXLEN
from promptcache.usage.ledger import Ledger
from promptcache.usage.records import CallRecord, call_record, parse_ledger, read_ledger

__all__ = ["CallRecord", "Cost", "Ledger", "Usage", "UsageTotals", "call_record", "cost_of",
           "parse_ledger", "read_ledger"]
