"""What a wrapped client tells about each call: logs, the ledger's record, a span, a miss report.

One object per wrapped client (``client.promptcache.observer``), called once when a call is
planned and once when its usage is in. Options given to ``wrap``: ``diagnostics=True`` asks the
provider for its own miss reason on every call that takes it (Anthropic ``messages.create`` on the
Claude API, OpenAI ``responses.create`` on GPT-5.6+), comparing with this client's previous
response; ``tracer_provider=`` sends promptcache's spans to that OpenTelemetry provider, not the
global one.

Where the SDK traces the call itself (the anthropic SDK's ``anthropic.messages.create`` span, on
a non-streaming ``messages.create``), the attributes go on that span, set from inside it by the
middleware of :mod:`promptcache.providers.anthropic.telemetry`; every other call gets a
``promptcache <method>`` span of its own.

A streamed call is described when its stream ends, from what the stream carried: the response
its final event holds (OpenAI ``response.completed``) or the message its events add up to
(Anthropic, ``id`` and ``diagnostics`` from ``message_start``), read as a non-streamed response
is. So the next call compares with a streamed response too, and a streamed miss is explained.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import promptcache.providers.anthropic.telemetry as telemetry
from promptcache.diagnostics.miss import MissDiagnosis, miss_report
from promptcache.log import PlanWatch, logger
from promptcache.otel import attributes, record_call
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.diagnostics import opt_in, provider_reason
from promptcache.providers.usage import parse_usage
from promptcache.usage import CallRecord, Ledger, Usage, call_record

__all__ = ["CallObserver"]

#: A ``dropin._core.Prepared`` (not imported: ``_core`` imports this module).
P = TypeVar("P")
#: Calls described on the SDK's span whose usage is not in yet (a call that failed never is).
_PENDING_KEPT = 256


def _plan_of(prepared: Any) -> Plan | None:
    if prepared.plan is not None:
        return prepared.plan  # type: ignore[no-any-return]
    summary = prepared.summary
    return summary.base if summary is not None else None


def _field(response: Any, name: str) -> Any:
    """``response.name`` or, for a finished stream's message dict, ``response[name]``."""
    return response.get(name) if isinstance(response, Mapping) else getattr(response, name, None)


@dataclass(slots=True)
class _Described:
    """A call whose record was made (and set on the SDK's span) before its usage reached us."""

    prepared: Any
    record: CallRecord | None = None


class CallObserver:
    """The logging, telemetry and diagnostics of one wrapped client. Never raises."""

    def __init__(self, options: Mapping[str, Any], platform: str, client: Any = None) -> None:
        self.watch = PlanWatch()
        self.diagnostics = bool(options.get("diagnostics", False))
        self.tracer_provider = options.get("tracer_provider")
        self.platform = platform
        #: The most recent call that read less than it might have, explained.
        self.last_miss: MissDiagnosis | None = None
        self._client = client
        self._sdk_spans: bool | None = None  # installed the span middleware (None: not tried)
        self._described: OrderedDict[int, _Described] = OrderedDict()
        self._previous_id: str | None = None
        self._previous: Mapping[str, Any] | None = None
        self._previous_prompt: Prompt | None = None
        self._lock = threading.Lock()

    def prepared(self, method: str, prepared: P) -> P:
        """Log the plan; with ``diagnostics``, ask the provider for its reason. Returns the call
        to send (``prepared``, or a copy with the opt-in added)."""
        out: Any = replace(prepared, method=method)  # type: ignore[type-var]
        if out.planned:
            plan = _plan_of(out)
            if plan is not None:
                self.watch.seen(plan, provider=out.provider, model=out.model)
            elif out.summary is not None:
                s = out.summary
                logger.debug("planned %s %s: breakpoints %s (mode %s); expected cached prefix %d "
                             "tokens", s.provider, s.model, ", ".join(
                                 f"{p}@{t}" for p, t in s.breakpoints) or "none", s.mode,
                             s.cached_prefix_tokens)
            if self.diagnostics and self.platform == "api":
                with self._lock:
                    previous = self._previous_id
                with contextlib.suppress(Exception):  # an argument we cannot read: no opt-in
                    out = replace(out, kwargs=opt_in(method, out.kwargs, previous, out.limits))
        self._arm(method, out)
        return out  # type: ignore[no-any-return]

    def _arm(self, method: str, prepared: Any) -> None:
        """Let the SDK's own span, if it opens one for this call, carry the description."""
        if not method.endswith("messages.create") or prepared.kwargs.get("stream") is True:
            telemetry.expect(None)
            return
        if self._sdk_spans is None:
            self._sdk_spans = self._client is not None and telemetry.install(self._client)
        if not self._sdk_spans:
            return
        entry = _Described(prepared)
        with self._lock:
            self._described[id(prepared)] = entry
            while len(self._described) > _PENDING_KEPT:
                self._described.popitem(last=False)
        telemetry.expect(functools.partial(self._on_sdk_span, entry))

    def _on_sdk_span(self, entry: _Described, span: Any, message: Any) -> None:
        """Inside the SDK's span, the response parsed: describe the call there."""
        prepared = entry.prepared
        usage = parse_usage(message, provider=prepared.provider, model=prepared.model or None)
        record, plan = self._describe(prepared, usage, message)
        for key, value in attributes(record, plan=plan,
                                     unplanned_reason=prepared.reason or None).items():
            span.set_attribute(key, value)
        entry.record = record

    def accounted(self, ledger: Ledger, prepared: Any, usage: Usage, response: Any) -> None:
        """Record the call in ``ledger`` (raises only what pricing raises: an unknown model),
        explain a miss, and emit its span unless the SDK's own span already carries it."""
        with self._lock:
            entry = self._described.pop(id(prepared), None)
        if entry is not None and entry.prepared is prepared and entry.record is not None:
            ledger.append(entry.record)
            return
        record, plan = self._describe(prepared, usage, response)
        ledger.append(record)
        record_call(record, method=prepared.method or "call", started_at=prepared.at, plan=plan,
                    unplanned_reason=prepared.reason or None, tracer_provider=self.tracer_provider)

    def _describe(self, prepared: Any, usage: Usage, response: Any) -> tuple[CallRecord, Plan | None]:
        plan = _plan_of(prepared)
        expected = plan.expected.cache_read_tokens if plan is not None else None
        miss = self._miss(prepared, usage, response, expected)
        summary = prepared.summary
        own = plan is None and summary is not None
        record = call_record(
            usage, prepared.limits, plan=plan, planned=prepared.planned,
            miss_reason=miss.reason if miss is not None else None,
            breakpoints=tuple(p for p, _ in summary.breakpoints) if own else (),
            ttls=tuple(t for _, t in summary.breakpoints) if own else ())
        return record, plan

    def _miss(self, prepared: Any, usage: Usage, response: Any,
              expected: int | None) -> MissDiagnosis | None:
        with contextlib.suppress(Exception):
            reason = None if isinstance(response, Usage) else provider_reason(response)
            actual = usage.cache_read_tokens
            with self._lock:
                previous, previous_prompt = self._previous, self._previous_prompt
                self._previous, self._previous_prompt = prepared.kwargs, prepared.prompt
                ident = None if isinstance(response, Usage) else _field(response, "id")
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
