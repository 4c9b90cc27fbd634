"""Streams handed back by wrapped clients: one that records a live stream, one that replays it.

A live stream is stored only once it has been read to the end; a stream abandoned half-way, or
one that fails, leaves nothing behind, so a replay is always a complete answer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterator
from types import TracebackType
from typing import Any

__all__ = ["AsyncCachedStream", "CachedStream"]


class _NoResponse:
    """The HTTP response of a replayed stream: there is none, so closing it does nothing.

    openai's ``stream(...)`` helpers keep ``raw_stream.response`` only to close it when they are
    done; a replay must accept that, or a cache hit would fail a call that works uncached.
    """

    def close(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


_NO_RESPONSE = _NoResponse()


class CachedStream:
    """Iterates SDK stream events, from the API (recording) or from the cache (replaying).

    Supports what code does with an SDK stream: ``for event in stream``, ``next(stream)``,
    ``with stream:`` and ``close()``; other attributes reach the live stream. On a replay,
    ``response`` is a stand-in whose ``close()`` does nothing (the SDK's helpers close it) and
    other attributes are absent.
    """

    def __init__(
        self,
        events: Any,
        *,
        on_complete: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self._source = events
        self._on_complete = on_complete
        self._iterator = self._run()
        self.from_cache = on_complete is None
        """True when the events come from the cache, not from the API."""

    def _run(self) -> Generator[Any, None, None]:
        seen: list[Any] = []
        for event in self._source:
            seen.append(event)
            yield event
        if self._on_complete is not None:
            self._on_complete(seen)

    def __iter__(self) -> Iterator[Any]:
        return self._iterator

    def __next__(self) -> Any:
        return next(self._iterator)

    def __enter__(self) -> CachedStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._iterator.close()
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "response" and self.from_cache:
            return _NO_RESPONSE
        return getattr(self._source, name)


class AsyncCachedStream:
    """The ``async for`` counterpart of ``CachedStream``."""

    def __init__(
        self,
        events: Any,
        *,
        on_complete: Callable[[list[Any]], Awaitable[None]] | None = None,
    ) -> None:
        self._source = events
        self._on_complete = on_complete
        self._iterator = self._run()
        self.from_cache = on_complete is None
        """True when the events come from the cache, not from the API."""

    async def _run(self) -> AsyncGenerator[Any, None]:
        seen: list[Any] = []
        if hasattr(self._source, "__aiter__"):
            async for event in self._source:
                seen.append(event)
                yield event
        else:
            for event in self._source:
                seen.append(event)
                yield event
        if self._on_complete is not None:
            await self._on_complete(seen)

    def __aiter__(self) -> AsyncGenerator[Any, None]:
        return self._iterator

    async def __anext__(self) -> Any:
        return await self._iterator.__anext__()

    async def __aenter__(self) -> AsyncCachedStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._iterator.aclose()
        close = getattr(self._source, "close", None) or getattr(self._source, "aclose", None)
        if close is not None:
            result = close()
            if hasattr(result, "__await__"):
                await result

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "response" and self.from_cache:
            return _NO_RESPONSE
        return getattr(self._source, name)
