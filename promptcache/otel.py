"""OpenTelemetry: one span per call, with the GenAI usage attributes and what promptcache planned.

Optional (``pip install "promptcache[otel]"``: the API only; the SDK and exporter are the
application's choice). Nothing here imports OpenTelemetry unless the application already has:
when ``opentelemetry.trace`` is not in ``sys.modules`` no tracer can be configured, so recording
is skipped and ``import promptcache`` never pays for it.

Each call is described by one span, carrying the attributes below: the SDK's own span where the
SDK traces the call and the span is still open when the response is in (the anthropic SDK's
``anthropic.messages.create`` on a non-streaming call, reached through its client middleware: see
``promptcache.providers.anthropic.telemetry``), otherwise a ``promptcache <method>`` span (kind
``CLIENT``, from the call's start to its response, or its stream's end) under the application's
current span:

- the GenAI semantic conventions' ``gen_ai.provider.name``, ``gen_ai.request.model``,
  ``gen_ai.usage.input_tokens`` (every input token, cached ones included, as the conventions
  define it), ``gen_ai.usage.output_tokens``, ``gen_ai.usage.cache_read.input_tokens`` and
  ``gen_ai.usage.cache_creation.input_tokens``;
- ``promptcache.*``: whether the request was planned, its breakpoints and TTLs, the expected and
  the actual cache read and write, the miss reason, and the cost, uncached cost and saving in
  dollars where the model's price is known.

The anthropic SDK ends its span inside the SDK, before the call returns; a stream's span lasts
until its body is read, after promptcache has its usage. So a stream gets a promptcache span beside
the SDK's, as does every openai and google-genai call (those SDKs emit no span).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Mapping
from typing import Any

from promptcache.plan import Plan
from promptcache.usage import CallRecord

__all__ = ["SCOPE", "attributes", "record_call"]

#: The instrumentation scope of promptcache's spans.
SCOPE = "promptcache"

Attribute = str | bool | int | float | list[str]


def attributes(record: CallRecord, *, plan: Plan | None = None,
               unplanned_reason: str | None = None) -> dict[str, Attribute]:
    """The span attributes of one call (pure: usable without OpenTelemetry, e.g. in tests)."""
    u, c = record.usage, record.cost
    out: dict[str, Attribute] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": u.provider,
        "gen_ai.request.model": u.model,
        "gen_ai.usage.input_tokens": u.total_input_tokens,
        "gen_ai.usage.output_tokens": u.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": u.cache_read_tokens,
        "gen_ai.usage.cache_creation.input_tokens": u.cache_write_tokens,
        "promptcache.actual.cache_read_tokens": u.cache_read_tokens,
        "promptcache.actual.cache_write_tokens": u.cache_write_tokens,
        "promptcache.breakpoints": len(record.breakpoints),
        "promptcache.breakpoint.paths": list(record.breakpoints),
        "promptcache.breakpoint.ttls": list(record.ttls),
    }
    if record.planned is not None:
        out["promptcache.planned"] = record.planned
    if record.expected_read is not None:
        out["promptcache.expected.cache_read_tokens"] = record.expected_read
    if record.expected_write is not None:
        out["promptcache.expected.cache_write_tokens"] = record.expected_write
    if record.miss_reason is not None:
        out["promptcache.miss_reason"] = record.miss_reason
    if unplanned_reason:
        out["promptcache.unplanned_reason"] = unplanned_reason
    if plan is not None:
        out["promptcache.expected.savings_ratio"] = plan.expected.savings_ratio
    if c.priced:
        out["promptcache.cost_usd"] = c.billed
        out["promptcache.uncached_usd"] = c.uncached
        out["promptcache.saving_usd"] = c.savings
    return out


def record_call(record: CallRecord, *, method: str, started_at: float,
                plan: Plan | None = None, unplanned_reason: str | None = None,
                tracer_provider: Any = None) -> None:
    """Emit the span of one finished call (``started_at``: epoch seconds). Never raises.

    ``tracer_provider`` defaults to the global one (``trace.set_tracer_provider``).
    """
    if tracer_provider is None:
        trace = sys.modules.get("opentelemetry.trace")
        if trace is None:
            return
        with contextlib.suppress(Exception):
            # No provider set (the API's proxy, no SDK behind it) or the no-op one: the span
            # would be a non-recording one that goes nowhere, so it is not made (a per-call
            # cost: the attributes, the tracer, the span).
            if type(trace.get_tracer_provider()) in (trace.ProxyTracerProvider,
                                                     trace.NoOpTracerProvider):
                return
    with contextlib.suppress(Exception):  # telemetry must never fail a call that succeeded
        _emit(record, method, started_at, plan, unplanned_reason, tracer_provider)


def _emit(record: CallRecord, method: str, started_at: float, plan: Plan | None,
          unplanned_reason: str | None, tracer_provider: Any) -> None:
    from opentelemetry import trace

    tracer = trace.get_tracer(SCOPE, tracer_provider=tracer_provider)
    attrs: Mapping[str, Attribute] = attributes(record, plan=plan, unplanned_reason=unplanned_reason)
    start = int(started_at * 1e9)
    end = max(start, int(time.time() * 1e9))
    span = tracer.start_span(f"promptcache {method}", kind=trace.SpanKind.CLIENT,
                             attributes=attrs, start_time=start)
    span.end(end_time=end)
