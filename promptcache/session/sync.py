"""ChatSession: the synchronous shell around SessionCore (one client call per send)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from promptcache.errors import PromptCacheError
from promptcache.session._anthropic import parse_message
from promptcache.session._base import SessionBase, sdk_error
from promptcache.session._core import Pending, ToolResult
from promptcache.session._values import Reply, ToolCall

__all__ = ["ChatSession", "ChatStream"]

ToolHandler = Callable[[ToolCall], ToolResult]


class ChatSession(SessionBase):
    """A multi-turn chat over an ``anthropic.Anthropic`` client with incremental prompt caching.

    ``send`` appends a user turn and the reply; ``send_tool_results`` answers tool calls without
    touching the cached prefix; ``run`` drives a whole tool loop; ``stream`` yields text as it
    arrives. Statistics (``stats``), the observed pace (``pace()``) and the cost of edits
    (``remove_turn``, ``set_tools``...) come with it.
    """

    def send(self, content: str | Sequence[Mapping[str, Any]]) -> Reply:
        """Send a user turn (text or content blocks) and return the reply."""
        return self._call(*self._plan_user(content))

    def send_tool_results(self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]], *,
                          is_error: Mapping[str, bool] | None = None) -> Reply:
        """Answer the last reply's tool calls (``{tool_use_id: output}``) and return the next reply."""
        return self._call(*self._plan_results(results, is_error))

    def run(self, content: str | Sequence[Mapping[str, Any]], tools: ToolHandler, *,
            max_steps: int = 32) -> Reply:
        """Send ``content``, then run every tool call with ``tools`` until the model stops asking.

        A handler that raises answers the call with ``is_error`` and the exception's message, so
        the model can recover, as the API recommends.
        """
        reply = self.send(content)
        for _ in range(max_steps):
            calls = reply.tool_calls
            if not calls or reply.stop_reason != "tool_use":
                return reply
            results: dict[str, ToolResult] = {}
            errors: dict[str, bool] = {}
            for call in calls:
                try:
                    results[call.id] = tools(call)
                except Exception as e:
                    results[call.id], errors[call.id] = f"{type(e).__name__}: {e}", True
            reply = self.send_tool_results(results, is_error=errors)
        raise PromptCacheError(f"run(): the model still asked for tools after {max_steps} steps; "
                               "raise max_steps or answer the pending calls with send_tool_results.")

    def stream(self, content: str | Sequence[Mapping[str, Any]]) -> ChatStream:
        """Like :meth:`send`, streamed: ``with session.stream(q) as s: for text in s: ...``."""
        return ChatStream(self, *self._plan_user(content))

    def stream_tool_results(self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]], *,
                            is_error: Mapping[str, bool] | None = None) -> ChatStream:
        return ChatStream(self, *self._plan_results(results, is_error))

    def _call(self, pending: Pending, kwargs: dict[str, Any]) -> Reply:
        try:
            message = self.client.messages.create(**kwargs)
        except Exception as e:
            mapped = sdk_error(e, self.model)
            if mapped is None:
                raise
            raise mapped from e
        return self.core.commit(pending, parse_message(message))


class ChatStream:
    """One streamed reply. Iterate for text deltas; ``reply`` (or leaving the block) commits it.

    Nothing is added to the history unless the stream completes, so an interrupted stream can be
    retried with the same session.
    """

    def __init__(self, session: ChatSession, pending: Pending, kwargs: dict[str, Any]) -> None:
        self._session = session
        self._pending = pending
        self._kwargs = kwargs
        self._manager: Any = None
        self._stream: Any = None
        self._reply: Reply | None = None

    def __enter__(self) -> ChatStream:
        try:
            self._manager = self._session.client.messages.stream(**self._kwargs)
            self._stream = self._manager.__enter__()
        except Exception as e:
            mapped = sdk_error(e, self._session.model)
            if mapped is None:
                raise
            raise mapped from e
        return self

    def __iter__(self) -> Iterator[str]:
        if self._stream is None:
            raise PromptCacheError("ChatStream: use it in a with block before iterating.")
        yield from self._stream.text_stream

    @property
    def reply(self) -> Reply:
        """The complete reply; waits for the stream to finish and appends it to the history."""
        if self._reply is None:
            if self._stream is None:
                raise PromptCacheError("ChatStream: use it in a with block before reading reply.")
            message = self._stream.get_final_message()
            self._reply = self._session.core.commit(self._pending, parse_message(message))
        return self._reply

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                _ = self.reply
        finally:
            if self._manager is not None:
                self._manager.__exit__(exc_type, exc, tb)
