"""AsyncChatSession: the asyncio shell around SessionCore, the twin of ChatSession."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from promptcache.errors import PromptCacheError
from promptcache.session._base import Accumulator, SessionBase, run_reply
from promptcache.session._core import Pending, Request, ToolResult
from promptcache.session._values import Reply, ToolCall

__all__ = ["AsyncChatSession", "AsyncChatStream"]

AsyncToolHandler = Callable[[ToolCall], ToolResult | Awaitable[ToolResult]]


class AsyncChatSession(SessionBase):
    """The async twin of :class:`~promptcache.session.ChatSession`: same planning, awaited calls.

    Takes ``anthropic.AsyncAnthropic``, ``openai.AsyncOpenAI`` or a ``google.genai.Client``
    (through its ``client.aio``). One session is one conversation: do not send on it from two
    tasks at once (the second request would not carry the first reply). Use one session per
    conversation and share a CacheState.
    """

    _asynchronous = True

    async def send(self, content: str | Sequence[Mapping[str, Any]]) -> Reply:
        return await self._call(self._user(content))

    async def regenerate(self) -> Reply:
        """Ask again: send the last user turn once more and return the new reply, which
        replaces the last one in the history (only once it has arrived)."""
        return await self._call(self.core.regenerate())

    def stream_regenerate(self) -> AsyncChatStream:
        """Like :meth:`regenerate`, streamed."""
        return AsyncChatStream(self, self.core.regenerate())

    async def send_tool_results(self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]],
                                *, is_error: Mapping[str, bool] | None = None) -> Reply:
        return await self._call(self._results(results, is_error))

    async def run(self, content: str | Sequence[Mapping[str, Any]], tools: AsyncToolHandler, *,
                  max_steps: int = 32) -> Reply:
        """Send ``content`` and answer tool calls with ``tools`` (sync or async) until done.

        As in :meth:`ChatSession.run`, the reply's usage and cost are the whole run's.
        """
        steps = [await self.send(content)]
        for _ in range(max_steps):
            calls = steps[-1].tool_calls
            if not calls or steps[-1].stop_reason != "tool_use":
                return run_reply(steps)
            results: dict[str, ToolResult] = {}
            errors: dict[str, bool] = {}
            for call in calls:
                try:
                    out = tools(call)
                    results[call.id] = await out if inspect.isawaitable(out) else out
                except Exception as e:
                    results[call.id], errors[call.id] = f"{type(e).__name__}: {e}", True
            steps.append(await self.send_tool_results(results, is_error=errors))
        raise PromptCacheError(f"run(): the model still asked for tools after {max_steps} steps; "
                               "raise max_steps or answer the pending calls with send_tool_results.")

    def stream(self, content: str | Sequence[Mapping[str, Any]]) -> AsyncChatStream:
        """``async with session.stream(q) as s: async for text in s: ...``; then ``s.reply``."""
        return AsyncChatStream(self, self._user(content))

    def stream_tool_results(self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]], *,
                            is_error: Mapping[str, bool] | None = None) -> AsyncChatStream:
        return AsyncChatStream(self, self._results(results, is_error))

    async def close(self) -> None:
        """Release what the session holds on the provider (the Gemini caches it created)."""
        close = getattr(self.adapter, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> AsyncChatSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, pending: Pending) -> Reply:
        request = await self.adapter.arender(pending, **self._render_args())
        # The SDK's own exceptions (RateLimitError, OverloadedError...) reach the caller as
        # they are, so retry code written against the SDK keeps working; nothing was committed.
        try:
            response = await self.adapter.acreate(self.client, request.kwargs)
        except Exception as e:
            if not self._recoverable(e, request):
                raise
            # The Gemini cache the request named expired in between: recreate it, once.
            request = await self.adapter.arender(pending, **self._render_args())
            response = await self.adapter.acreate(self.client, request.kwargs)
        return self.core.commit(pending, request, self.adapter.parse(response))


class AsyncChatStream:
    """One streamed reply, async; the same shape as :class:`~promptcache.session.ChatStream`.

    ``stream.reply`` is the complete Reply once the stream has ended (after the ``async with``
    block); ``await stream.finish()`` waits for the end inside the block.
    """

    def __init__(self, session: AsyncChatSession, pending: Pending) -> None:
        self._session = session
        self._pending = pending
        self._request: Request | None = None
        self._stream: Any = None
        self._events: AsyncIterator[Any] | None = None
        self._acc: Accumulator | None = None
        self._reply: Reply | None = None

    async def __aenter__(self) -> AsyncChatStream:
        s = self._session
        self._request = await s.adapter.arender(self._pending, **s._render_args())
        self._stream = await s.adapter.aopen_stream(s.client, self._request.kwargs)
        self._events = aiter(self._stream)
        self._acc = s.adapter.accumulator()
        return self

    async def _pull(self) -> AsyncIterator[str]:
        if self._events is None or self._acc is None:
            raise PromptCacheError("AsyncChatStream: use it in an async with block first.")
        async for event in self._events:
            text = self._acc.feed(event)
            if text:
                yield text

    async def __aiter__(self) -> AsyncIterator[str]:
        async for text in self._pull():
            yield text

    async def finish(self) -> Reply:
        """Wait for the end of the stream and return the Reply (appended to the history)."""
        if self._reply is None:
            async for _ in self._pull():
                pass
            assert self._acc is not None and self._request is not None
            parsed = self._acc.result(self._stream)
            self._reply = self._session.core.commit(self._pending, self._request, parsed)
        return self._reply

    @property
    def reply(self) -> Reply:
        """The complete reply, once the stream has ended (leave the block or ``await finish()``)."""
        if self._reply is None:
            raise PromptCacheError("AsyncChatStream.reply: the stream has not ended yet; leave the "
                                   "async with block or await stream.finish() first.")
        return self._reply

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                await self.finish()
        finally:
            close = getattr(self._stream, "close", None)
            if close is not None:
                result = close()
                if inspect.isawaitable(result):
                    await result
