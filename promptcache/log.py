"""The ``promptcache`` logger: what planning decided, what it learned, and where it degraded.

Stdlib :mod:`logging` under the name ``promptcache``; the library installs no handler (an
application chooses where records go: ``logging.basicConfig(level=logging.DEBUG)`` shows them
all). Three levels, one meaning each:

- DEBUG, one record per planned request: the breakpoints, their TTLs, the expected read and write;
- INFO, when a layer is learned volatile (it stops being cached) or the TTL planned for it changes;
- WARNING, on every degradation: the shared state or a response-cache backend is down, a request
  went out unplanned.

A decision that costs money (a layer no longer cached because its content kept changing) also
raises a :class:`~promptcache.errors.CacheWarning`, once per layer and cause for each
:class:`PlanWatch` (one per wrapped client, one per chat session): a log nobody reads would
otherwise be the only trace of it, as the plan's ``warnings`` were under ``wrap()``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Mapping
from typing import Any

from promptcache.errors import CacheWarning
from promptcache.plan import Plan

__all__ = ["PlanWatch", "degraded", "logger", "once", "plan_fields"]

#: The library's logger. Records carry ``promptcache`` fields in ``extra`` (see each function).
logger = logging.getLogger("promptcache")


def plan_fields(plan: Plan) -> dict[str, Any]:
    """The figures of a plan that logs, spans and the ledger all report, as plain values."""
    e = plan.expected
    return {
        "breakpoints": [p.path for p in plan.placements],
        "ttls": [p.ttl for p in plan.placements],
        "expected_read": e.cache_read_tokens,
        "expected_write": e.cache_write_5m_tokens + e.cache_write_1h_tokens,
    }


def degraded(message: str, *, cause: str) -> None:
    """Log one degradation at WARNING; ``cause`` (``shared-state-unavailable``,
    ``response-cache-unavailable``, ``unplanned``...) is the record's ``promptcache_cause``."""
    logger.warning(message, extra={"promptcache_cause": cause})


#: How many (model, layer) TTLs a PlanWatch remembers.
_KEPT = 512


def _layer_ttls(plan: Plan) -> dict[str, str]:
    """The TTL of each layer's breakpoint (the longest, if a layer has two)."""
    out: dict[str, str] = {}
    for p in plan.placements:
        out.setdefault(p.layer, p.ttl)
    return out


def _warning_for(plan: Plan, layer: str) -> str:
    prefix = f"Layer {layer!r}"
    return next((w for w in plan.warnings if w.startswith(prefix)),
                f"Layer {layer!r} had new content on each recent request, so it is not cached.")


class PlanWatch:
    """What one client or session last planned for each layer, so each change is told once.

    Thread-safe. ``seen`` is called once per planned request; it never raises (a logging or
    warning failure must not fail the call it describes).
    """

    def __init__(self) -> None:
        #: (model, layer) -> the TTL last planned for it, most recently planned last.
        self._ttls: dict[tuple[str, str], str] = {}
        self._volatile: set[tuple[str, str]] = set()
        #: (model, layer, cause) already warned about.
        self._warned: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def seen(self, plan: Plan, *, provider: str, model: str) -> None:
        """Log the plan (DEBUG), what changed since the last one (INFO), warn once per cost."""
        with contextlib.suppress(Exception):
            self._seen(plan, provider, model)

    def _seen(self, plan: Plan, provider: str, model: str) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            fields = plan_fields(plan)
            marks = ", ".join(f"{p}@{t}" for p, t in zip(fields["breakpoints"], fields["ttls"],
                                                          strict=True)) or "none"
            logger.debug("planned %s %s: breakpoints %s; expected read %d, write %d tokens",
                         provider, model, marks, fields["expected_read"], fields["expected_write"],
                         extra={"promptcache_plan": fields, "promptcache_model": model})
        volatile = {r.layer: r.path for r in plan.rejected if r.rule == "volatile"}
        ttls = _layer_ttls(plan)
        news: list[tuple[str, str, str]] = []  # (kind, layer, message)
        costly: list[tuple[str, str]] = []  # (path, message)
        with self._lock:
            for layer, path in volatile.items():
                if (model, layer) not in self._volatile:
                    self._volatile.add((model, layer))
                    news.append(("volatile", layer, f"layer {layer!r} ({path}) learned volatile: "
                                                    "no longer cached"))
                if (model, layer, "volatile") not in self._warned:
                    self._warned.add((model, layer, "volatile"))
                    costly.append((path, _warning_for(plan, layer)))
            for layer, ttl in ttls.items():
                self._volatile.discard((model, layer))  # cached again: a relapse is news again
                old = self._ttls.pop((model, layer), None)
                if old is not None and old != ttl:
                    news.append(("ttl", layer, f"layer {layer!r} TTL changed {old} -> {ttl}"))
                self._ttls[(model, layer)] = ttl
            while len(self._ttls) > _KEPT:  # bounded: the least recently planned layers go
                del self._ttls[next(iter(self._ttls))]
        for kind, layer, message in news:
            logger.info("%s %s: %s", provider, model, message,
                        extra={"promptcache_change": kind, "promptcache_layer": layer})
        for path, message in costly:
            _cost_warning(message, path=path)


def _cost_warning(message: str, *, path: str) -> None:
    # Under ``-W error`` a warning is an exception: it must not fail the call it describes.
    with contextlib.suppress(CacheWarning):
        warnings.warn(CacheWarning(message, path=path, rule="volatile"), stacklevel=7)


def once(key: str, message: str, *, level: int = logging.WARNING,
         extra: Mapping[str, Any] | None = None) -> None:
    """Log ``message`` the first time ``key`` is seen in this process (the kill switches)."""
    with _ONCE_LOCK:
        if key in _ONCE:
            return
        _ONCE.add(key)
    logger.log(level, message, extra=dict(extra or {}))


_ONCE: set[str] = set()
_ONCE_LOCK = threading.Lock()
