"""What a wrapped client tells about each call: logs, the ledger's record, a span, a miss report.

One object per wrapped client (``client.promptcache.observer``), called once when a call is
planned and once when its usage is in. Options given to ``wrap``: ``diagnostics=True`` asks the
provider for its own miss reason on every call that takes it (Anthropic ``messages.create`` on the
Claude API, OpenAI ``responses.create`` on GPT-5.6+), comparing with this client's previous
response; ``tracer_provider=`` sends the spans to that OpenTelemetry provider, not the global one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypeVar

from promptcache.diagnostics.miss import MissReport, miss_report
from promptcache.log import PlanWatch, logger
from promptcache.otel import record_call
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.diagnostics import opt_in, provider_reason
from promptcache.usage import Ledger, Usage

__all__ = ["CallObserver"]

#: A ``dropin._core.Prepared`` (not imported: ``_core`` imports this module).
P = TypeVar("P")


def _plan_of(prepared: Any) -> Plan | None:
    if prepared.plan is not None:
        return prepared.plan  # type: ignore[no-any-return]
    summary = prepared.summary
    return summary.base if summary is not None else None


class CallObserver:
    """The logging, telemetry and diagnostics of one wrapped client. Never raises."""

    def __init__(self, options: Mapping[str, Any], platform: str) -> None:
        self.watch = PlanWatch()
        self.diagnostics = bool(options.get("diagnostics", False))
        self.tracer_provider = options.get("tracer_provider")
        self.platform = platform
        #: The most recent call that read less than it might have, explained.
        self.last_miss: MissReport | None = None
        self._previous_id: str | None = None
        self._previous: Mapping[str, Any] | None = None
        self._previous_prompt: Prompt | None = None
        self._lock = threading.Lock()

    def prepared(self, method: str, prepared: P) -> P:
        """Log the plan; with ``diagnostics``, ask the provider for its reason. Returns the call
        to send (``prepared``, or a copy with the opt-in added)."""
        out: Any = replace(prepared, method=method)  # type: ignore[type-var]
        if not out.planned:
            return out  # type: ignore[no-any-return]
        plan = _plan_of(out)
        if plan is not None:
            self.watch.seen(plan, provider=out.provider, model=out.model)
        elif out.summary is not None:
            s = out.summary
            logger.debug("planned %s %s: breakpoints %s (mode %s); expected cached prefix %d tokens",
                         s.provider, s.model, ", ".join(f"{p}@{t}" for p, t in s.breakpoints) or
                         "none", s.mode, s.cached_prefix_tokens)
        if self.diagnostics and self.platform == "api":
            with self._lock:
                previous = self._previous_id
            try:
                kwargs = opt_in(method, out.kwargs, previous, out.limits)
            except Exception:  # an argument we cannot read: send the plan without the opt-in
                return out  # type: ignore[no-any-return]
            out = replace(out, kwargs=kwargs)
        return out  # type: ignore[no-any-return]

    def accounted(self, ledger: Ledger, prepared: Any, usage: Usage, response: Any) -> None:
        """Record the call in ``ledger`` (raises only what ``Ledger.record`` raises: an unknown
        model's price), then explain a miss, log and emit the span, which never raise."""
        plan = _plan_of(prepared)
        expected = plan.expected.cache_read_tokens if plan is not None else None
        miss = self._miss(prepared, usage, response, expected)
        summary = prepared.summary
        record = ledger.record(
            usage, prepared.limits, plan=plan, planned=prepared.planned,
            miss_reason=miss.reason if miss is not None else None,
            breakpoints=tuple(p for p, _ in summary.breakpoints) if plan is None and summary else (),
            ttls=tuple(t for _, t in summary.breakpoints) if plan is None and summary else ())
        record_call(record, method=prepared.method or "call", started_at=prepared.at, plan=plan,
                    unplanned_reason=prepared.reason or None, tracer_provider=self.tracer_provider)

    def _miss(self, prepared: Any, usage: Usage, response: Any,
              expected: int | None) -> MissReport | None:
        with contextlib.suppress(Exception):
            reason = None if isinstance(response, Usage) else provider_reason(response)
            actual = usage.cache_read_tokens
            with self._lock:
                previous, previous_prompt = self._previous, self._previous_prompt
                self._previous, self._previous_prompt = prepared.kwargs, prepared.prompt
                ident = None if isinstance(response, Usage) else getattr(response, "id", None)
                if isinstance(ident, str):
                    self._previous_id = ident
            said_miss = reason is not None and reason.outcome == "miss"
            if not said_miss and (expected is None or actual >= expected):
                return None
            report = miss_report(previous, prepared.kwargs, response, actual_read=actual,
                                 expected_read=expected, previous_prompt=previous_prompt,
                                 prompt=prepared.prompt)
            self.last_miss = report
            logger.debug("%s", report, extra={"promptcache_miss": report.reason})
            return report
        return None
