"""The I/O shells: replace a client instance's methods with planning ones, sync or async.

Like :func:`promptcache.cache.cache_client`, only the given client *instance* is changed (its
resource objects' methods), never the SDK classes, so other clients in the process are untouched.
Each replacement keeps the method it replaced, for :func:`unwrap` and for wrapping again.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from promptcache.cache.wrappers import bypass_once
from promptcache.dropin._core import (
    Prepared,
    WrapHandle,
    WrappedMethod,
    attributable,
    materialised,
)
from promptcache.dropin._streams import (
    AsyncHelperManagerProxy,
    AsyncStreamManagerProxy,
    AsyncStreamProxy,
    HelperManagerProxy,
    StreamManagerProxy,
    StreamProxy,
)

__all__ = ["WRAPPED", "is_async_resource", "patch", "restore"]

#: Attribute of a replacement method holding the method it replaced.
WRAPPED = "__promptcache_wrapped__"
#: The response cache's own attribute for the method it replaced (see promptcache.cache).
CACHE_ORIGINAL = "__promptcache_original__"
#: Set while an openai stream helper's manager starts its request (through ``create``): the
#: helper's endpoint.
_helper: contextvars.ContextVar[WrappedMethod | None] = contextvars.ContextVar(
    "promptcache_helper", default=None)


@contextlib.contextmanager
def _from_helper(endpoint: WrappedMethod) -> Iterator[None]:
    # The response cache sits above the planning layer (see ``wrap``): the helper's request
    # passes under it to the API, then the planning layer sees it come from a helper.
    token = _helper.set(endpoint)
    try:
        with bypass_once():
            yield
    finally:
        _helper.reset(token)


def _route(original: Callable[..., Any], endpoint: WrappedMethod) -> tuple[Callable[..., Any],
                                                                       WrappedMethod]:
    """The method to send with and the endpoint to name in warnings.

    A helper's stream goes *under* the response cache and always reaches the API: the helper
    builds its events and final message from the live SDK stream, and the wrapper accounts for
    it from there. (``cache_client`` alone does serve helpers from the cache, with a replayed
    stream they can close.)
    """
    via = _helper.get()
    if via is None:
        return original, endpoint
    _helper.set(None)  # one request per helper: a nested call is the caller's own
    return getattr(original, CACHE_ORIGINAL, original), via


def _streams(endpoint: WrappedMethod, prepared: Prepared) -> bool:
    return endpoint.kind == "stream" or (endpoint.kind == "create"
                                         and prepared.kwargs.get("stream") is True)


def _finish(handle: WrapHandle, endpoint: WrappedMethod, prepared: Prepared, result: Any,
            is_async: bool) -> Any:
    if endpoint.kind == "manager":
        manager = AsyncStreamManagerProxy if is_async else StreamManagerProxy
        return manager(result, lambda: handle.started(prepared),
                       lambda message: handle.account(prepared, message))
    handle.started(prepared)
    if not _streams(endpoint, prepared):
        handle.account(prepared, result)
        return result
    acc = handle.accumulator(prepared, endpoint)
    proxy = AsyncStreamProxy if is_async else StreamProxy
    key = endpoint.stream_key
    if key is not None and isinstance(result, Mapping) and key in result:
        # The stream is one value of the returned dict: the caller still gets the dict.
        return {**result, key: proxy(result[key], acc.feed,
                                     lambda: handle.account(prepared, acc.usage()))}
    return proxy(result, acc.feed, lambda: handle.account(prepared, acc.usage()))


def _sync(original: Callable[..., Any], endpoint: WrappedMethod, handle: WrapHandle) -> Any:
    @functools.wraps(original, updated=())
    def planned(*args: Any, **kwargs: Any) -> Any:
        if args:  # the SDK methods are keyword-only: let the SDK say so
            return original(*args, **kwargs)
        send, named = _route(original, endpoint)
        kwargs = dict(materialised(kwargs))
        prepared = handle.prepare(named, kwargs)
        try:
            result = send(**prepared.kwargs)
        except Exception as e:
            marker = attributable(e, prepared, kwargs)
            if marker is None:
                raise
            prepared = handle.resent(named, prepared, kwargs, e, marker)
            result = send(**kwargs)
        return _finish(handle, endpoint, prepared, result, is_async=False)

    setattr(planned, WRAPPED, original)
    return planned


def _async(original: Callable[..., Any], endpoint: WrappedMethod, handle: WrapHandle) -> Any:
    if endpoint.kind == "manager":  # ``messages.stream`` is a plain method even on async clients
        return _sync_manager_for_async(original, endpoint, handle)

    @functools.wraps(original, updated=())
    async def planned(*args: Any, **kwargs: Any) -> Any:
        if args:
            return await original(*args, **kwargs)
        send, named = _route(original, endpoint)
        kwargs = dict(materialised(kwargs))
        prepared = handle.prepare(named, kwargs)
        try:
            result = await send(**prepared.kwargs)
        except Exception as e:
            marker = attributable(e, prepared, kwargs)
            if marker is None:
                raise
            prepared = handle.resent(named, prepared, kwargs, e, marker)
            result = await send(**kwargs)
        return _finish(handle, endpoint, prepared, result, is_async=True)

    setattr(planned, WRAPPED, original)
    return planned


def _sync_manager_for_async(original: Callable[..., Any], endpoint: WrappedMethod,
                            handle: WrapHandle) -> Any:
    @functools.wraps(original, updated=())
    def planned(*args: Any, **kwargs: Any) -> Any:
        if args:
            return original(*args, **kwargs)
        kwargs = dict(materialised(kwargs))
        prepared = handle.prepare(endpoint, kwargs)
        return _finish(handle, endpoint, prepared, original(**prepared.kwargs), is_async=True)

    setattr(planned, WRAPPED, original)
    return planned


def _helper_layer(original: Callable[..., Any], endpoint: WrappedMethod, is_async: bool) -> Any:
    """openai's ``stream(...)`` helper: the SDK's own manager, marked as coming from a helper.

    Nothing is planned here: the manager sends its request through the client's ``create``,
    already wrapped, which plans, sends and accounts for it once.
    """
    proxy = AsyncHelperManagerProxy if is_async else HelperManagerProxy

    @functools.wraps(original, updated=())
    def helper(*args: Any, **kwargs: Any) -> Any:
        return proxy(original(*args, **kwargs), lambda: _from_helper(endpoint))

    setattr(helper, WRAPPED, original)
    return helper


def restore(resource: Any, method: str, *, cache: bool = False) -> Any:
    """Peel the planning layer a previous wrap put on ``resource.method`` (with ``cache``, also
    the response cache); return the method now in place."""
    while True:
        current = getattr(resource, method)
        original = getattr(current, WRAPPED, None)
        if original is None and cache:
            original = getattr(current, CACHE_ORIGINAL, None)
        if original is None:
            return current
        setattr(resource, method, original)
        if not cache:
            return original


def is_async_resource(resource: Any) -> bool:
    # The SDKs decorate async methods with sync wrappers: ask the resource, not the function.
    return type(resource).__name__.startswith("Async")


def patch(resource: Any, method: str, endpoint: WrappedMethod, handle: WrapHandle) -> None:
    """Replace ``resource.method`` with its planning twin (sync or async, as the resource is)."""
    original = restore(resource, method)
    if endpoint.kind == "helper":
        setattr(resource, method, _helper_layer(original, endpoint, is_async_resource(resource)))
        return
    wrapper = _async if is_async_resource(resource) else _sync
    setattr(resource, method, wrapper(original, endpoint, handle))
