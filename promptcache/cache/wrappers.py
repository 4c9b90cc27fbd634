"""Serve official SDK clients' calls from the response cache.

``cache_client(client)`` replaces the cacheable methods of *that client instance* (not of the SDK
classes), so other clients in the process are untouched:

- anthropic: ``messages.create``
- openai: ``chat.completions.create``, ``responses.create``
- google-genai: ``models.generate_content``, ``models.generate_content_stream`` and their
  ``client.aio`` twins
- boto3 ``bedrock-runtime``: ``converse`` and ``converse_stream`` (its ``stream`` replayed)

The methods are the registry's (``SdkMethod.cached_as``). Each call goes through one pure core
(``_Settings.plan``: cache it or not, under which key; ``_served``: what a hit hands back;
``_fresh``: what a miss hands back and stores), with a sync and an async shell that only do the
I/O (the backend's ``get``/``set`` or ``aget``/``aset``, the SDK call).

A hit rebuilds the SDK's own response object (a stream is replayed as a stream) without any
network traffic. Calls that cannot be keyed, explicit sampling without opt-in, and positional
arguments go straight to the SDK. A cache that fails (a damaged file, a full disk, a lock held too
long, Redis down) is a miss with one ``CacheUnavailableWarning``: the call goes to the API.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import inspect
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from ..errors import CacheBackendError
from ..log import degraded
from ..providers.registry import spec_for_client
from ..switches import response_cache_disabled
from .base import CacheBackend, CacheUnavailableWarning, get_response_cache, mark_hit
from .endpoints import ENDPOINTS, LoadFailed, ResponseCodec
from .keys import CachePolicy, ClientIdentity, UnkeyableRequest, request_key, sampling_temperature
from .streams import AsyncCachedStream, CachedStream

__all__ = ["bypass_once", "cache_client", "uncache_client"]

C = TypeVar("C")
_ORIGINAL = "__promptcache_original__"

#: Set by :func:`bypass_once`: the next cached method called in this context goes straight to the
#: method under it (and clears the flag, so a call nested inside is cached as usual).
_bypass: contextvars.ContextVar[bool] = contextvars.ContextVar("promptcache_bypass", default=False)


@contextlib.contextmanager
def bypass_once() -> Iterator[None]:
    """Within the block, the next call of a cached method skips the response cache.

    For the drop-in's openai ``stream(...)`` helpers, which need the live stream's HTTP response
    (a replayed stream cannot give one): their request goes under the cache, to the API.
    """
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


class _Call(NamedTuple):
    """A cacheable call, decided before anything is sent (a tuple: built on every call)."""

    backend: CacheBackend
    key: str
    streaming: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class _Settings:
    backend: CacheBackend | None
    policy: CachePolicy
    identity: ClientIdentity

    def plan(self, endpoint: ResponseCodec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> _Call | None:
        """The backend and key for this call, or ``None`` to send it uncached. Pure but for the
        global default backend and the client's settings."""
        backend = self.backend if self.backend is not None else get_response_cache()
        if backend is None or args or response_cache_disabled():
            return None
        if not self.policy.cache_sampling:
            temperature = sampling_temperature(kwargs)
            if temperature is not None and temperature > 0:
                return None
        try:
            key = request_key(
                endpoint.name, kwargs, namespace=self.policy.namespace, identity=self.identity.digest()
            )
        except UnkeyableRequest:
            return None
        if endpoint.streaming == "always":
            streaming = True
        else:
            streaming = endpoint.streaming == "kwarg" and bool(kwargs.get("stream"))
        return _Call(backend, key, streaming)


# (backend id, "read"/"write") whose last attempt failed: one warning per outage, not per call.
# Reads and writes recover apart: a held lock blocks writes while reads still succeed.
_failing: set[tuple[int, str]] = set()


def _unavailable(backend: CacheBackend, what: str, error: BaseException) -> None:
    """Warn once that the cache failed; the caller then goes on to the API."""
    if (id(backend), what) in _failing:
        return
    _failing.add((id(backend), what))
    degraded(f"The response cache ({type(backend).__name__}) could not {what} an entry ({error}); "
             "calls go to the API uncached.", cause="response-cache-unavailable")
    warnings.warn(
        f"The response cache ({type(backend).__name__}) could not {what} an entry ({error}); the "
        "call goes to the API uncached. promptcache warns once until the cache works again.",
        CacheUnavailableWarning,
        stacklevel=4,
    )


def _recovered(backend: CacheBackend, what: str) -> None:
    if _failing:
        _failing.discard((id(backend), what))


def _decode(endpoint: ResponseCodec, call: _Call, raw: bytes | None) -> Any:
    """The rebuilt response (or event list) for a stored entry, or ``None`` for a miss."""
    if raw is None:
        return None
    try:
        return endpoint.load_events(raw) if call.streaming else endpoint.load(raw, call.key)
    except LoadFailed:
        return None


# -- the pure core: what a call does, decided without I/O; the shells below do the I/O -----------

#: ``CachedStream`` or ``AsyncCachedStream``: the only thing the two shells pass in differently.
StreamType = Callable[..., Any]


def _served(endpoint: ResponseCodec, call: _Call, found: Any, stream: StreamType) -> Any:
    """What a hit hands back: the rebuilt response, or a replay of the stored stream (inside the
    dict the SDK returns it in, when it does: boto3's ``converse_stream``)."""
    if not call.streaming:
        return found  # marked by the codec (``ResponseCodec.load`` with a key)
    replay = mark_hit(stream(found))
    if endpoint.stream_key is None:
        return replay
    return {**copy.deepcopy(dict(endpoint.served_with)), endpoint.stream_key: replay}


def _fresh(endpoint: ResponseCodec, call: _Call, result: Any, stream: StreamType,
           on_complete: Callable[[list[Any]], Any]) -> tuple[Any, Callable[[], bytes] | None]:
    """What a miss hands back once the API answered, and the entry to store now (``None``: a
    stream is stored by ``on_complete`` once read to the end, or a shape not to store)."""
    if not call.streaming:
        return result, lambda: endpoint.dump(result)
    key = endpoint.stream_key
    if key is None:
        return stream(result, on_complete=on_complete), None
    if not isinstance(result, Mapping) or key not in result:
        return result, None  # not the shape the registry describes: hand it back untouched
    return {**result, key: stream(result[key], on_complete=on_complete)}, None


# -- the I/O shells ------------------------------------------------------------------------------


def _lookup(endpoint: ResponseCodec, call: _Call) -> Any:
    """A hit, or ``None``; a failing backend is a miss (with one warning), never an error."""
    try:
        raw = call.backend.get(call.key)
    except Exception as e:  # a cache is an optimisation: any backend failure is a miss
        _unavailable(call.backend, "read", e)
        return None
    _recovered(call.backend, "read")
    return _decode(endpoint, call, raw)


async def _alookup(endpoint: ResponseCodec, call: _Call) -> Any:
    try:
        raw = await call.backend.aget(call.key)
    except Exception as e:
        _unavailable(call.backend, "read", e)
        return None
    _recovered(call.backend, "read")
    return _decode(endpoint, call, raw)


def _store(call: _Call, encode: Callable[[], bytes], ttl: float | None) -> None:
    try:
        call.backend.set(call.key, encode(), ttl=ttl)
    except Exception as e:  # the answer is already in hand: return it uncached
        _unavailable(call.backend, "write", e)
        return
    _recovered(call.backend, "write")


async def _astore(call: _Call, encode: Callable[[], bytes], ttl: float | None) -> None:
    try:
        await call.backend.aset(call.key, encode(), ttl=ttl)
    except Exception as e:
        _unavailable(call.backend, "write", e)
        return
    _recovered(call.backend, "write")


def _wrap_sync(original: Callable[..., Any], endpoint: ResponseCodec, settings: _Settings) -> Any:
    @functools.wraps(original)
    def cached(*args: Any, **kwargs: Any) -> Any:
        if _bypass.get():
            _bypass.set(False)
            return original(*args, **kwargs)
        call = settings.plan(endpoint, args, kwargs)
        if call is None:
            return original(*args, **kwargs)
        found = _lookup(endpoint, call)
        if found is not None:
            return _served(endpoint, call, found, CachedStream)
        ttl = settings.policy.ttl

        def on_complete(events: list[Any]) -> None:
            _store(call, lambda: endpoint.dump_events(events), ttl)

        value, encode = _fresh(endpoint, call, original(*args, **kwargs), CachedStream, on_complete)
        if encode is not None:
            _store(call, encode, ttl)
        return value

    setattr(cached, _ORIGINAL, original)
    return cached


def _wrap_async(original: Callable[..., Any], endpoint: ResponseCodec, settings: _Settings) -> Any:
    @functools.wraps(original)
    async def cached(*args: Any, **kwargs: Any) -> Any:
        if _bypass.get():
            _bypass.set(False)
            return await original(*args, **kwargs)
        call = settings.plan(endpoint, args, kwargs)
        if call is None:
            return await original(*args, **kwargs)
        found = await _alookup(endpoint, call)
        if found is not None:
            return _served(endpoint, call, found, AsyncCachedStream)
        ttl = settings.policy.ttl

        async def on_complete(events: list[Any]) -> None:
            await _astore(call, lambda: endpoint.dump_events(events), ttl)

        value, encode = _fresh(endpoint, call, await original(*args, **kwargs), AsyncCachedStream,
                               on_complete)
        if encode is not None:
            await _astore(call, encode, ttl)
        return value

    setattr(cached, _ORIGINAL, original)
    return cached


def _targets(client: Any) -> list[tuple[Any, str, str]]:
    """(resource object, method name, endpoint name) for each cacheable method of ``client``."""
    spec = spec_for_client(client)
    if spec is None:
        raise CacheBackendError(
            f"cache_client() does not know {type(client).__module__}.{type(client).__name__}. "
            "Pass an anthropic, openai or google-genai client (sync or async), or a boto3 "
            "bedrock-runtime client."
        )
    return [(resource, m.method, m.cached_as) for resource, m in spec.targets(client, cached=True)
            if m.cached_as is not None]


def cache_client(
    client: C,
    *,
    backend: CacheBackend | None = None,
    namespace: str = "default",
    cache_sampling: bool = False,
    ttl: float | None = None,
) -> C:
    """Make ``client`` serve identical calls from the response cache; returns the same client.

    ``backend=None`` uses whatever ``set_response_cache`` holds at call time (no cache: calls
    pass through). ``namespace`` keeps tenants apart. Calling it again replaces the settings.
    """
    settings = _Settings(
        backend=backend,
        policy=CachePolicy(namespace=namespace, cache_sampling=cache_sampling, ttl=ttl),
        identity=ClientIdentity(client),
    )
    for resource, method, name in _targets(client):
        current = getattr(resource, method)
        original = getattr(current, _ORIGINAL, current)
        # The SDKs wrap async methods in sync decorators, so ask the resource, not the function.
        is_async = type(resource).__name__.startswith("Async")
        wrap = _wrap_async if is_async or inspect.iscoroutinefunction(original) else _wrap_sync
        setattr(resource, method, wrap(original, ENDPOINTS[name], settings))
    return client


def uncache_client(client: C) -> C:
    """Undo ``cache_client``: the client's methods call the API directly again."""
    for resource, method, _ in _targets(client):
        original = getattr(getattr(resource, method), _ORIGINAL, None)
        if original is not None:
            setattr(resource, method, original)
    return client
