"""AsyncChatSession: the asyncio shell around SessionCore, for ``anthropic.AsyncAnthropic``."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from promptcache.errors import PromptCacheError
from promptcache.session._anthropic import parse_message
from promptcache.session._base import SessionBase, sdk_error
from promptcache.session._core import Pending, ToolResult
from promptcache.session._values import Reply, ToolCall

__all__ = ["AsyncChatSession", "AsyncChatStream"]

AsyncToolHandler = Callable[[ToolCall], ToolResult | Awaitable[ToolResult]]


class AsyncChatSession(SessionBase):
    """The async twin of :class:`~promptcache.session.ChatSession`; same planning, awaited calls.

    One session is one conversation: do not send on it from two tasks at once (the second request
    would not carry the first reply). Use one session per conversation and share a CacheState.
    """

    async def send(self, content: str | Sequence[Mapping[str, Any]]) -> Reply:
        return await self._call(*self._plan_user(content))

    async def send_tool_results(self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]],
                                *, is_error: Mapping[str, bool] | None = None) -> Reply:
        return await self._call(*self._plan_results(results, is_error))

    async def run(self, content: str | Sequence[Mapping[str, Any]], tools: AsyncToolHandler, *,
                  max_steps: int = 32) -> Reply:
        """Send ``content`` and answer tool calls with ``tools`` (sync or async) until done."""
        reply = await self.send(content)
        for _ in range(max_steps):
            calls = reply.tool_calls
            if not calls or reply.stop_reason != "tool_use":
                return reply
            results: dict[str, ToolResult] = {}
            errors: dict[str, bool] = {}
            for call in calls:
                try:
                    out = tools(call)
                    results[call.id] = await out if inspect.isawaitable(out) else out
                except Exception as e:
                    results[call.id], errors[call.id] = f"{type(e).__name__}: {e}", True
            reply = await self.send_tool_results(results, is_error=errors)
        raise PromptCacheError(f"run(): the model still asked for tools after {max_steps} steps; "
                               "raise max_steps or answer the pending calls with send_tool_results.")

    def stream(self, content: str | Sequence[Mapping[str, Any]]) -> AsyncChatStream:
        """``async with session.stream(q) as s: async for text in s: ...``; then ``await s.reply()``."""
        return AsyncChatStream(self, *self._plan_user(content))

    def stream_tool_results(self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]], *,
                            is_error: Mapping[str, bool] | None = None) -> AsyncChatStream:
        return AsyncChatStream(self, *self._plan_results(results, is_error))

    async def _call(self, pending: Pending, kwargs: dict[str, Any]) -> Reply:
        try:
            message = await self.client.messages.create(**kwargs)
        except Exception as e:
            mapped = sdk_error(e, self.model)
            if mapped is None:
                raise
            raise mapped from e
        return self.core.commit(pending, parse_message(message))


class AsyncChatStream:
    """One streamed reply, async. Nothing joins the history unless the stream completes."""

    def __init__(self, session: AsyncChatSession, pending: Pending, kwargs: dict[str, Any]) -> None:
        self._session = session
        self._pending = pending
        self._kwargs = kwargs
        self._manager: Any = None
        self._stream: Any = None
        self._reply: Reply | None = None

    async def __aenter__(self) -> AsyncChatStream:
        try:
            self._manager = self._session.client.messages.stream(**self._kwargs)
            self._stream = await self._manager.__aenter__()
        except Exception as e:
            mapped = sdk_error(e, self._session.model)
            if mapped is None:
                raise
            raise mapped from e
        return self

    async def __aiter__(self) -> AsyncIterator[str]:
        if self._stream is None:
            raise PromptCacheError("AsyncChatStream: use it in an async with block first.")
        async for text in self._stream.text_stream:
            yield text

    async def reply(self) -> Reply:
        """The complete reply; waits for the end of the stream and appends it to the history."""
        if self._reply is None:
            if self._stream is None:
                raise PromptCacheError("AsyncChatStream: use it in an async with block first.")
            message = await self._stream.get_final_message()
            self._reply = self._session.core.commit(self._pending, parse_message(message))
        return self._reply

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                await self.reply()
        finally:
            if self._manager is not None:
                await self._manager.__aexit__(exc_type, exc, tb)
