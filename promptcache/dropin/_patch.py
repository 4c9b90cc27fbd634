"""The I/O shells: replace a client instance's methods with planning ones, sync or async.

Like :func:`promptcache.cache.cache_client`, only the given client *instance* is changed (its
resource objects' methods), never the SDK classes, so other clients in the process are untouched.
Each replacement keeps the method it replaced, for :func:`unwrap` and for wrapping again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from promptcache.dropin._core import Endpoint, Prepared, WrapHandle, rejected
from promptcache.dropin._streams import (
    AsyncStreamManagerProxy,
    AsyncStreamProxy,
    StreamManagerProxy,
    StreamProxy,
)

__all__ = ["WRAPPED", "patch", "restore"]

#: Attribute of a replacement method holding the method it replaced.
WRAPPED = "__promptcache_wrapped__"


def _streams(endpoint: Endpoint, prepared: Prepared) -> bool:
    return endpoint.kind == "stream" or (endpoint.kind == "create"
                                         and prepared.kwargs.get("stream") is True)


def _finish(handle: WrapHandle, endpoint: Endpoint, prepared: Prepared, result: Any,
            is_async: bool) -> Any:
    if endpoint.kind == "manager":
        manager = AsyncStreamManagerProxy if is_async else StreamManagerProxy
        return manager(result, lambda: handle.started(prepared),
                       lambda message: handle.account(prepared, message))
    handle.started(prepared)
    if not _streams(endpoint, prepared):
        handle.account(prepared, result)
        return result
    acc = handle.accumulator(prepared)
    proxy = AsyncStreamProxy if is_async else StreamProxy
    return proxy(result, acc.feed, lambda: handle.account(prepared, acc.usage()))


def _sync(original: Callable[..., Any], endpoint: Endpoint, handle: WrapHandle) -> Any:
    @functools.wraps(original, updated=())
    def planned(*args: Any, **kwargs: Any) -> Any:
        if args:  # the SDK methods are keyword-only: let the SDK say so
            return original(*args, **kwargs)
        prepared = handle.prepare(endpoint, kwargs)
        try:
            result = original(**prepared.kwargs)
        except Exception as e:
            if not (prepared.planned and rejected(e)):
                raise
            prepared = handle.resent(endpoint, Prepared(
                kwargs=kwargs, provider=prepared.provider, model=prepared.model, planned=False,
                limits=prepared.limits), e)
            result = original(**kwargs)
        return _finish(handle, endpoint, prepared, result, is_async=False)

    setattr(planned, WRAPPED, original)
    return planned


def _async(original: Callable[..., Any], endpoint: Endpoint, handle: WrapHandle) -> Any:
    if endpoint.kind == "manager":  # ``messages.stream`` is a plain method even on async clients
        return _sync_manager_for_async(original, endpoint, handle)

    @functools.wraps(original, updated=())
    async def planned(*args: Any, **kwargs: Any) -> Any:
        if args:
            return await original(*args, **kwargs)
        prepared = handle.prepare(endpoint, kwargs)
        try:
            result = await original(**prepared.kwargs)
        except Exception as e:
            if not (prepared.planned and rejected(e)):
                raise
            prepared = handle.resent(endpoint, Prepared(
                kwargs=kwargs, provider=prepared.provider, model=prepared.model, planned=False,
                limits=prepared.limits), e)
            result = await original(**kwargs)
        return _finish(handle, endpoint, prepared, result, is_async=True)

    setattr(planned, WRAPPED, original)
    return planned


def _sync_manager_for_async(original: Callable[..., Any], endpoint: Endpoint,
                            handle: WrapHandle) -> Any:
    @functools.wraps(original, updated=())
    def planned(*args: Any, **kwargs: Any) -> Any:
        if args:
            return original(*args, **kwargs)
        prepared = handle.prepare(endpoint, kwargs)
        return _finish(handle, endpoint, prepared, original(**prepared.kwargs), is_async=True)

    setattr(planned, WRAPPED, original)
    return planned


def restore(resource: Any, method: str) -> Any:
    """Put back the method a previous wrap replaced; return the method now in place."""
    current = getattr(resource, method)
    original = getattr(current, WRAPPED, None)
    if original is not None:
        setattr(resource, method, original)
        return original
    return current


def patch(resource: Any, method: str, endpoint: Endpoint, handle: WrapHandle) -> None:
    """Replace ``resource.method`` with its planning twin (sync or async, as the resource is)."""
    original = restore(resource, method)
    # The SDKs decorate async methods with sync wrappers: ask the resource, not the function.
    is_async = type(resource).__name__.startswith("Async")
    setattr(resource, method, (_async if is_async else _sync)(original, endpoint, handle))
