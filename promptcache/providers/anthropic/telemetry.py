"""promptcache's attributes on the anthropic SDK's own ``anthropic.messages.create`` span.

The SDK (2.17) starts that span when a traced call begins and ends it inside the SDK, before the
call returns: the only code that runs while it is open and after the response has arrived is
client middleware (the SDK's public ``middleware=`` option, run inside the span). :func:`install`
adds one pass-through middleware to a wrapped client; :func:`expect` arms it for the next call,
with a callback that receives the open span and the parsed ``Message``. Untraced calls never run
it (the SDK uses its prebuilt chain, which is left as it was), nor do streams (the span outlives
the call: promptcache's own span describes those).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable
from typing import Any

__all__ = ["SDK_SPAN", "expect", "install"]

#: The name of the SDK's span for ``messages.create`` (and ``messages.stream``).
SDK_SPAN = "anthropic.messages.create"
_MARK = "__promptcache_span_middleware__"

#: Called with the SDK's open span and the parsed Message of the call armed by :func:`expect`.
OnSpan = Callable[[Any, Any], None]
_armed: contextvars.ContextVar[OnSpan | None] = contextvars.ContextVar("promptcache_sdk_span",
                                                                       default=None)


def expect(on_span: OnSpan | None) -> None:
    """Arm (or, with None, disarm) the middleware for the next call in this context."""
    _armed.set(on_span)


def _take(request: Any, response: Any) -> tuple[OnSpan, Any] | None:
    """The armed callback and the SDK's span, when this attempt is the call to describe."""
    on_span = _armed.get()
    if on_span is None or getattr(request, "stream", False):
        return None
    if not 200 <= int(getattr(response, "status_code", 0)) < 300:
        return None  # a failed attempt: the SDK retries or raises; the next one may succeed
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording() or getattr(span, "name", None) != SDK_SPAN:
        return None
    _armed.set(None)  # one call, one description
    return on_span, span


def _sync(request: Any, call_next: Callable[[Any], Any]) -> Any:
    response = call_next(request)
    with contextlib.suppress(Exception):  # telemetry never fails a call
        taken = _take(request, response)
        if taken is not None:
            taken[0](taken[1], response.parse())
    return response


async def _async(request: Any, call_next: Callable[[Any], Any]) -> Any:
    response = await call_next(request)
    with contextlib.suppress(Exception):
        taken = _take(request, response)
        if taken is not None:
            taken[0](taken[1], await response.parse())
    return response


setattr(_sync, _MARK, True)
setattr(_async, _MARK, True)


def install(client: Any) -> bool:
    """Add the span middleware to an anthropic client (once); False when the client has no
    middleware support (an SDK before 2.17), and promptcache's own span is used instead."""
    current = getattr(client, "_middleware", None)
    if not isinstance(current, tuple) or not callable(getattr(client, "_build_middleware_chain", None)):
        return False
    if any(getattr(m, _MARK, False) for m in current):
        return True
    asynchronous = type(client).__name__.startswith("Async")
    client._middleware = (*current, _async if asynchronous else _sync)
    return True
