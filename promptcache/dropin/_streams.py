"""Stream proxies: the SDK's own stream, passed through item by item, its usage read on the way.

A wrapped call that streams returns the SDK's stream object inside a thin proxy: iteration, the
context manager, ``close()`` and every other attribute behave as the SDK's; the proxy only sees
each item go by and, once the stream ends (or is closed), hands the usage to the wrapper.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["AsyncHelperManagerProxy", "AsyncStreamManagerProxy", "AsyncStreamProxy",
           "HelperManagerProxy", "StreamManagerProxy", "StreamProxy"]


class _Base:
    def __init__(self, inner: Any, feed: Callable[[Any], None], done: Callable[[], None]) -> None:
        self._inner = inner
        self._feed = feed
        self._done_cb: Callable[[], None] | None = done

    def _done(self) -> None:
        cb, self._done_cb = self._done_cb, None
        if cb is not None:
            cb()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class StreamProxy(_Base):
    """A sync SDK stream (``Stream``, google-genai's generator) that reports its usage at the end."""

    def __iter__(self) -> Iterator[Any]:
        try:
            for item in self._inner:
                self._feed(item)
                yield item
        finally:
            self._done()

    def __next__(self) -> Any:
        try:
            item = next(self._inner)
        except StopIteration:
            self._done()
            raise
        self._feed(item)
        return item

    def __enter__(self) -> StreamProxy:
        enter = getattr(self._inner, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, *exc: Any) -> Any:
        try:
            exit_ = getattr(self._inner, "__exit__", None)
            return exit_(*exc) if exit_ is not None else None
        finally:
            self._done()

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            self._done()


class AsyncStreamProxy(_Base):
    """An async SDK stream that reports its usage at the end."""

    async def _items(self) -> AsyncIterator[Any]:
        try:
            async for item in self._inner:
                self._feed(item)
                yield item
        finally:
            self._done()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._items()

    async def __anext__(self) -> Any:
        try:
            item = await self._inner.__anext__()
        except StopAsyncIteration:
            self._done()
            raise
        self._feed(item)
        return item

    async def __aenter__(self) -> AsyncStreamProxy:
        enter = getattr(self._inner, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            exit_ = getattr(self._inner, "__aexit__", None)
            return await exit_(*exc) if exit_ is not None else None
        finally:
            self._done()

    async def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                await close()
        finally:
            self._done()


class StreamManagerProxy:
    """anthropic's ``messages.stream(...)`` manager: the request starts on ``__enter__``, the
    final message's usage is read on ``__exit__``."""

    def __init__(self, inner: Any, started: Callable[[], None],
                 finished: Callable[[Any], None]) -> None:
        self._inner = inner
        self._started = started
        self._finished = finished
        self._stream: Any = None

    def __enter__(self) -> Any:
        self._stream = self._inner.__enter__()
        self._started()
        return self._stream

    def __exit__(self, *exc: Any) -> Any:
        self._finished(_snapshot(self._stream))
        return self._inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class AsyncStreamManagerProxy:
    """The async twin of :class:`StreamManagerProxy`."""

    def __init__(self, inner: Any, started: Callable[[], None],
                 finished: Callable[[Any], None]) -> None:
        self._inner = inner
        self._started = started
        self._finished = finished
        self._stream: Any = None

    async def __aenter__(self) -> Any:
        self._stream = await self._inner.__aenter__()
        self._started()
        return self._stream

    async def __aexit__(self, *exc: Any) -> Any:
        self._finished(_snapshot(self._stream))
        return await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class HelperManagerProxy:
    """openai's ``chat.completions.stream(...)`` / ``responses.stream(...)`` manager.

    The SDK's manager sends its request on ``__enter__``, through the client's own ``create``,
    which the wrapper plans and accounts for (the stream it returns is a :class:`StreamProxy`).
    The proxy only opens ``scope`` around that moment, so the planning layer knows the call comes
    from a helper (see ``_patch``); everything else is the SDK's manager.
    """

    def __init__(self, inner: Any, scope: Callable[[], AbstractContextManager[None]]) -> None:
        self._inner = inner
        self._scope = scope

    def __enter__(self) -> Any:
        with self._scope():
            return self._inner.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        return self._inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class AsyncHelperManagerProxy:
    """The async twin of :class:`HelperManagerProxy` (the request starts in ``__aenter__``)."""

    def __init__(self, inner: Any, scope: Callable[[], AbstractContextManager[None]]) -> None:
        self._inner = inner
        self._scope = scope

    async def __aenter__(self) -> Any:
        with self._scope():
            return await self._inner.__aenter__()

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _snapshot(stream: Any) -> Any:
    """The message accumulated so far (its usage is the stream's), or None."""
    try:
        return stream.current_message_snapshot if stream is not None else None
    except Exception:  # nothing received yet: no usage to report
        return None
