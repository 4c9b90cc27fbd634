"""The wrapper's machinery: plan a call's keyword arguments, send them, account for the response.

Shared by every provider and by sync and async methods (the I/O shells in :mod:`._patch` are
thin). The one promise: a call that would succeed unwrapped succeeds wrapped. A request that
cannot be planned is sent exactly as written with one :class:`UnplannedRequestWarning`; a planned
request the API rejects with HTTP 400 over a marker promptcache added (the error names
``cache_control``, ``prompt_cache_key``...) is sent again exactly as written, with a warning; any
other error reaches the caller as the SDK raised it, the request sent once. The bookkeeping after
a response (state, ledger) never raises.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from promptcache.dropin._observe import CallObserver
from promptcache.errors import CacheWarning, PromptCacheError
from promptcache.limits import ModelLimits, Platform, Provider
from promptcache.log import degraded
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import record_sent
from promptcache.providers.anthropic.usage import AnthropicStreamUsage
from promptcache.providers.common import ProviderPlan
from promptcache.providers.spec import ProviderSpec, SdkMethod
from promptcache.providers.usage import parse_usage
from promptcache.redact import redacted_repr
from promptcache.sdk import plain
from promptcache.state import CacheState
from promptcache.switches import DISABLE, planning_disabled
from promptcache.usage import Ledger, Usage

__all__ = ["Prepared", "UnplannedRequestWarning", "WrapHandle", "WrappedMethod",
           "attributable", "default_state", "wrapped_method"]


class UnplannedRequestWarning(CacheWarning):
    """A wrapped call was sent exactly as written, without a caching plan.

    The request could not be read or planned (an unknown model, a block type promptcache does not
    model, ...), or the API rejected the planned request. The call itself is unaffected.
    """


_DEFAULT_STATE: CacheState | None = None
_DEFAULT_LOCK = threading.Lock()


def default_state() -> CacheState:
    """The process-wide CacheState wrapped clients share unless given their own."""
    global _DEFAULT_STATE
    with _DEFAULT_LOCK:
        if _DEFAULT_STATE is None:
            _DEFAULT_STATE = CacheState()
        return _DEFAULT_STATE


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """One call as it will be sent: the keyword arguments and what planning decided."""

    #: Header values and credentials in ``kwargs`` are shown as ``<redacted>``.
    __repr__ = redacted_repr

    kwargs: Mapping[str, Any]
    provider: Provider
    model: str
    #: False when the request is sent exactly as written (it could not be planned).
    planned: bool
    limits: ModelLimits | None = None
    #: The Prompt and optimizer Plan, where the optimizer placed markers (recorded in the state).
    prompt: Prompt | None = None
    plan: Plan | None = None
    #: The provider's view of the plan (OpenAI, Gemini, Bedrock/Vertex), when there is one.
    summary: ProviderPlan | None = None
    #: Why the request was not planned.
    reason: str = ""
    #: The request fields this provider's planning adds or sets (``cache_control``...): a 400
    #: naming one that promptcache added is promptcache's doing, and the request is resent.
    markers: tuple[str, ...] = ()
    #: Called once the response has started (e.g. a Gemini cache manager's bookkeeping).
    on_start: Callable[[], None] | None = field(default=None, repr=False)
    #: The SDK method (``messages.create``...) and when the call was prepared (epoch seconds),
    #: for its log records and span.
    method: str = ""
    at: float = field(default_factory=time.time)


Preparer = Callable[[Mapping[str, Any], "WrapHandle"], Prepared]


@dataclass(frozen=True, slots=True, kw_only=True)
class WrappedMethod:
    """One wrapped SDK method."""

    name: str
    provider: Provider
    prepare: Preparer
    #: ``create``: streams when ``stream=True``; ``stream``: always an iterator;
    #: ``manager``: anthropic's ``messages.stream(...)`` context manager; ``helper``: openai's
    #: ``stream(...)`` helpers, whose manager calls the client's own (wrapped) ``create`` when
    #: entered: they are planned there, not twice.
    kind: Literal["create", "stream", "manager", "helper"] = "create"
    #: The returned dict's key that holds the stream (boto3's ``converse_stream``), if any.
    stream_key: str | None = None
    #: ``(model) -> accumulator`` for the stream's usage, where the provider has its own.
    stream_usage: Callable[[str], Any] | None = None


@functools.cache
def wrapped_method(spec: ProviderSpec, method: SdkMethod) -> WrappedMethod:
    """The drop-in's view of one registry method (built once: patches compare them)."""
    return WrappedMethod(name=method.name, provider=spec.name, prepare=method.prepare.load(),
                         kind=method.kind, stream_key=method.stream_key,
                         stream_usage=spec.stream_usage.load() if spec.stream_usage else None)


def _sentinel(value: Any) -> bool:
    """The SDKs' "not given" markers (``NOT_GIVEN``, ``omit``): absent arguments."""
    return type(value).__name__ in ("NotGiven", "Omit")


def materialised(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    """``kwargs`` with one-shot iterators (generators, ``map``...) turned into lists.

    Planning reads the arguments before the SDK does: a generator read once would reach the SDK
    empty. The lists carry the same items, so the request is the one the caller wrote.
    """
    if not any(isinstance(v, Iterator) for v in kwargs.values()):
        return kwargs
    return {k: list(v) if isinstance(v, Iterator) else v for k, v in kwargs.items()}


def given(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments actually given (the SDKs' not-given sentinels removed)."""
    return {k: v for k, v in kwargs.items() if not _sentinel(v)}


class _LastUsage:
    """The usage of an OpenAI or Gemini stream: the last item that carries one.

    ``usage()`` gives that item itself (an OpenAI ``Response`` from ``response.completed``, the
    last chunk), which :meth:`WrapHandle.account` reads as it reads a non-streamed response: its
    id and the provider's diagnostics are there too.
    """

    def __init__(self) -> None:
        self._last: Any = None

    def feed(self, item: Any) -> None:
        if getattr(item, "usage", None) is not None or getattr(item, "usage_metadata", None):
            self._last = item
            return
        response = getattr(item, "response", None)
        if response is not None and getattr(response, "usage", None) is not None:
            self._last = response

    def usage(self) -> Any:
        return self._last


class _AnthropicUsage:
    """The usage of an Anthropic stream, given as the ``Message`` dict it adds up to (id and
    diagnostics included: see :attr:`AnthropicStreamUsage.message`)."""

    def __init__(self, model: str) -> None:
        self._acc = AnthropicStreamUsage(model)
        self._seen = False

    def feed(self, item: Any) -> None:
        self._seen = True
        self._acc.feed(item)

    def usage(self) -> dict[str, Any] | None:
        return self._acc.message if self._seen else None


def _warn(message: str) -> None:
    degraded(message, cause="unplanned")
    # Never let the warning itself fail the call (``-W error`` turns warnings into exceptions).
    with contextlib.suppress(UnplannedRequestWarning):
        warnings.warn(UnplannedRequestWarning(message, rule="unplanned"), stacklevel=5)


def rejected(error: BaseException) -> bool:
    """True for an HTTP 400 from any of the SDKs: the request itself was refused (botocore's
    ``ClientError`` carries it in ``response["ResponseMetadata"]``)."""
    status = getattr(error, "status_code", None)
    if status is None:
        status = getattr(error, "code", None)
    if status is None:
        response = getattr(error, "response", None)
        meta = response.get("ResponseMetadata") if isinstance(response, Mapping) else None
        status = meta.get("HTTPStatusCode") if isinstance(meta, Mapping) else None
    return status == 400


def _mentions(value: Any, name: str) -> int:
    """How many times ``name`` is a key in ``value`` (plain JSON data), at any depth."""
    if isinstance(value, Mapping):
        return sum((k == name) + _mentions(v, name) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_mentions(v, name) for v in value)
    return 0


def attributable(error: BaseException, prepared: Prepared,
                 written: Mapping[str, Any]) -> str | None:
    """The marker field a 400 is about, when promptcache added that field to the request; else
    None (the request would have been refused as written too: sending it again only repeats the
    error)."""
    if not (prepared.planned and rejected(error)):
        return None
    text = f"{error} {getattr(error, 'body', '')} {getattr(error, 'message', '')}"
    for name in prepared.markers:
        if name not in text:
            continue
        try:
            sent = plain(given(prepared.kwargs), "request")
            asked = plain(given(written), "request")
        except PromptCacheError:  # cannot be read: say it was ours if the request was changed
            if prepared.kwargs != written:
                return name
            continue
        if _mentions(sent, name) > _mentions(asked, name):
            return name
    return None


class WrapHandle:
    """What ``wrap`` attaches to a client as ``client.promptcache``: its state, ledger and plans.

    ``ledger`` sums the usage and cost of every call the wrapped client made (streams included,
    once they end); ``last`` is the most recent call as sent, with its plan; ``planned`` and
    ``unplanned`` count the calls sent with and without a plan.
    """

    def __init__(self, client: Any, *, provider: Provider, platform: Platform,
                 state: CacheState, ledger: Ledger, options: Mapping[str, Any]) -> None:
        self.client = client
        self.provider = provider
        self.platform = platform
        self.state = state
        self.ledger = ledger
        #: Per-provider options given to ``wrap`` (e.g. ``retention`` for OpenAI).
        self.options = dict(options)
        self.last: Prepared | None = None
        #: The provider's memo of recent Prompts (see ``_anthropic.PromptMemo``), if it has one.
        self.memo: Any = None
        #: True when ``wrap`` added the response cache (``unwrap`` and a new ``wrap`` remove it).
        self.owns_cache = False
        self.planned = 0
        self.unplanned = 0
        #: Logs, ledger records, spans and miss reports of this client's calls.
        self.observer = CallObserver(options, platform, client)
        self._lock = threading.Lock()
        self._endpoints: dict[str, WrappedMethod] = {}


    def prepare(self, endpoint: WrappedMethod, kwargs: Mapping[str, Any], *,
                sending: bool = True) -> Prepared:
        """The call as it will be sent; never raises (unplannable requests go as written).

        ``kwargs`` must already be :func:`materialised` (the caller keeps them to resend).
        ``sending``: the call goes out now, so its writes are recorded in the state as in flight
        (see :meth:`started`).
        """
        model = kwargs.get("model")
        if planning_disabled():  # the kill switch: sent as written, no warning (it was asked for)
            prepared = Prepared(kwargs=kwargs, provider=endpoint.provider, planned=False,
                                model=model if isinstance(model, str) else "",
                                reason=f"{DISABLE} is set")
        else:
            try:
                # The optimizer's CacheWarnings about hand-set markers reach the user as usual;
                # under ``-W error`` they abort planning, and the request is sent as written.
                prepared = endpoint.prepare(kwargs, self)
            except Exception as e:  # anything at all: the request goes out as the user wrote it
                reason = f"{type(e).__name__}: {e}"
                _warn(f"promptcache could not plan this {endpoint.name} call and sent it exactly "
                      f"as written ({reason}).")
                prepared = Prepared(kwargs=kwargs, provider=endpoint.provider, planned=False,
                                    model=model if isinstance(model, str) else "", reason=reason)
        prepared = self.observer.prepared(endpoint.name, prepared)
        if sending:
            self._in_flight(prepared)
        with self._lock:
            self.last = prepared
            if prepared.planned:
                self.planned += 1
            else:
                self.unplanned += 1
        return prepared

    def plan_call(self, path: str, kwargs: Mapping[str, Any]) -> Prepared:
        """What ``client.<path>(**kwargs)`` would send (``path`` as in the registry, e.g.
        ``messages.create``), planned as a wrapped call is, ``last`` and the counts included, but
        not sent and not recorded: for code (and benchmarks) that look at a plan before sending."""
        endpoint = self._endpoints.get(path)
        if endpoint is None:
            from promptcache.providers.registry import spec_named

            spec = spec_named(self.provider)
            method = next((m for m in spec.methods if m.path == path), None)
            if method is None:
                raise PromptCacheError(f"plan_call: {self.provider} has no wrapped method "
                                       f"{path!r}; known: "
                                       f"{', '.join(m.path for m in spec.methods)}.")
            # Kept: ``wrapped_method``'s cache hashes the whole spec, on every call.
            endpoint = self._endpoints[path] = wrapped_method(spec, method)
        return self.prepare(endpoint, dict(materialised(kwargs)), sending=False)

    def resent(self, endpoint: WrappedMethod, prepared: Prepared, kwargs: Mapping[str, Any],
               error: BaseException, marker: str) -> Prepared:
        """The original request (``kwargs`` as the caller wrote them), after the API refused the
        planned one over a ``marker`` field promptcache added."""
        _warn(f"the API rejected the planned {endpoint.name} request over the {marker} "
              f"promptcache added ({error}); promptcache sent it again exactly as written. Please "
              "report this as a promptcache bug.")
        out = Prepared(kwargs=kwargs, provider=prepared.provider, model=prepared.model,
                       planned=False, limits=prepared.limits, reason=f"rejected: {error}",
                       method=endpoint.name, at=prepared.at)
        with self._lock:
            self.last = out
            self.planned -= 1
            self.unplanned += 1
        return out

    def _in_flight(self, prepared: Prepared) -> None:
        """Record a planned call as sent: its layers' sightings, and its writes as pending.

        Concurrent calls (a fan-out burst) planned before this one's response starts then see
        its writes in flight and do not pay for the same prefix again, which a state told only
        once the response started cannot know.
        """
        try:
            if prepared.prompt is not None and prepared.plan is not None:
                record_sent(self.state, prepared.prompt, prepared.plan, response_started=False)
        except Exception as e:  # bookkeeping must never fail a call
            _warn(f"promptcache could not record a request in flight in its CacheState ({e}).")

    def started(self, prepared: Prepared) -> None:
        """The response has started: the plan's writes are now readable in the state (its
        sightings were recorded when it was sent, see :meth:`_in_flight`)."""
        try:
            if prepared.prompt is not None and prepared.plan is not None:
                plan = prepared.plan
                fps = plan.fingerprints or prepared.prompt.fingerprints
                writes = [(fps[p.index], p.ttl, p.prefix_tokens) for p in plan.placements
                          if p.prefix_tokens >= plan.limits.estimated_minimum]
                if writes:
                    now = self.state.now()
                    self.state.record_request(None, fps, writes, now, readable_at=now)
            if prepared.on_start is not None:
                prepared.on_start()
        except Exception as e:  # bookkeeping must never fail a call that succeeded
            _warn(f"promptcache could not record a sent request in its CacheState ({e}).")

    def account(self, prepared: Prepared, response: Any) -> None:
        """Add a response's (or a finished stream's) usage to the ledger."""
        if response is None:
            return
        try:
            usage = response if isinstance(response, Usage) else parse_usage(
                response, provider=prepared.provider, model=prepared.model or None)
            self.observer.accounted(self.ledger, prepared, usage, response)
            if (prepared.provider == "anthropic" and prepared.prompt is not None
                    and prepared.plan is not None):
                # What the provider read teaches the state what it could not see itself.
                self.state.record_read(prepared.prompt, prepared.plan, usage.cache_read_tokens,
                                       self.state.now(), total=usage.total_input_tokens)
        except PromptCacheError:
            return  # a model with no known prices: nothing to add up
        except Exception as e:
            _warn(f"promptcache could not read the usage of a response ({e}).")

    def accumulator(self, prepared: Prepared, endpoint: WrappedMethod | None = None) -> Any:
        if endpoint is not None and endpoint.stream_usage is not None:
            return endpoint.stream_usage(prepared.model)
        if prepared.provider == "anthropic":
            return _AnthropicUsage(prepared.model)
        return _LastUsage()

    def __repr__(self) -> str:
        t = self.ledger.totals()
        return (f"WrapHandle({self.provider}/{self.platform}, planned={self.planned}, "
                f"unplanned={self.unplanned}, calls={t.calls}, billed=${t.billed:.6f})")
