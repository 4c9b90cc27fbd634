"""ChatSession: the synchronous shell around SessionCore (one client call per send)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from promptcache.errors import PromptCacheError
from promptcache.session._base import Accumulator, SessionBase, run_reply
from promptcache.session._core import Pending, Request, ToolResult
from promptcache.session._values import Reply, ToolCall

__all__ = ["ChatSession", "ChatStream"]

ToolHandler = Callable[[ToolCall], ToolResult]


class ChatSession(SessionBase):
    """A multi-turn chat with incremental prompt caching over an Anthropic, OpenAI or Gemini client.

    ``send`` appends a user turn and the reply; ``send_tool_results`` answers tool calls without
    touching the cached prefix; ``run`` drives a whole tool loop; ``stream`` yields text as it
    arrives. Statistics (``stats``), the observed pace (``pace()``) and the cost of edits
    (``remove_turn``, ``set_tools``...) come with it. ``close()`` (or a ``with`` block) deletes the
    Gemini caches the session created; it does nothing on the other providers.
    """

    def send(self, content: str | Sequence[Mapping[str, Any]]) -> Reply:
        """Send a user turn (text or content blocks) and return the reply."""
        return self._call(self._user(content))

    def regenerate(self) -> Reply:
        """Ask again: send the last user turn once more and return the new reply, which
        replaces the last one in the history (only once it has arrived).

        A response cache in front of the client would serve the same reply again: regenerate
        through a client without one.
        """
        return self._call(self.core.regenerate())

    def stream_regenerate(self) -> ChatStream:
        """Like :meth:`regenerate`, streamed."""
        return ChatStream(self, self.core.regenerate())

    def send_tool_results(self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]], *,
                          is_error: Mapping[str, bool] | None = None) -> Reply:
        """Answer the last reply's tool calls (``{call_id: output}``) and return the next reply."""
        return self._call(self._results(results, is_error))

    def run(self, content: str | Sequence[Mapping[str, Any]], tools: ToolHandler, *,
            max_steps: int = 32) -> Reply:
        """Send ``content``, then run every tool call with ``tools`` until the model stops asking.

        A handler that raises answers the call with ``is_error`` and the exception's message, so
        the model can recover, as the APIs recommend. The reply's ``usage`` and ``cost_usd`` are
        the whole run's; ``reply.steps`` holds each request's own reply.
        """
        steps = [self.send(content)]
        for _ in range(max_steps):
            calls = steps[-1].tool_calls
            if not calls or steps[-1].stop_reason != "tool_use":
                return run_reply(steps)
            results: dict[str, ToolResult] = {}
            errors: dict[str, bool] = {}
            for call in calls:
                try:
                    results[call.id] = tools(call)
                except Exception as e:
                    results[call.id], errors[call.id] = f"{type(e).__name__}: {e}", True
            steps.append(self.send_tool_results(results, is_error=errors))
        raise PromptCacheError(f"run(): the model still asked for tools after {max_steps} steps; "
                               "raise max_steps or answer the pending calls with send_tool_results.")

    def stream(self, content: str | Sequence[Mapping[str, Any]]) -> ChatStream:
        """Like :meth:`send`, streamed: ``with session.stream(q) as s: for text in s: ...``."""
        return ChatStream(self, self._user(content))

    def stream_tool_results(self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]], *,
                            is_error: Mapping[str, bool] | None = None) -> ChatStream:
        return ChatStream(self, self._results(results, is_error))

    def close(self) -> None:
        """Release what the session holds on the provider (the Gemini caches it created)."""
        close = getattr(self.adapter, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ChatSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, pending: Pending) -> Reply:
        request = self.adapter.render(pending, **self._render_args())
        # The SDK's own exceptions (RateLimitError, OverloadedError...) reach the caller as
        # they are, so retry code written against the SDK keeps working; nothing was committed.
        try:
            response = self.adapter.create(self.client, request.kwargs)
        except Exception as e:
            if not self._recoverable(e, request):
                raise
            # The Gemini cache the request named expired in between: recreate it, once.
            request = self.adapter.render(pending, **self._render_args())
            response = self.adapter.create(self.client, request.kwargs)
        return self.core.commit(pending, request, self.adapter.parse(response))


class ChatStream:
    """One streamed reply. Iterate for text deltas; the reply joins the history when it completes.

    ``stream.reply`` is the complete Reply once the stream has ended (after the ``with`` block,
    or read inside it to wait for the end); ``finish()`` does the same as a call. Nothing is
    added to the history unless the stream completes, so an interrupted stream can be retried.
    """

    def __init__(self, session: ChatSession, pending: Pending) -> None:
        self._session = session
        self._pending = pending
        self._request: Request | None = None
        self._stream: Any = None
        self._events: Iterator[Any] | None = None
        self._acc: Accumulator | None = None
        self._reply: Reply | None = None

    def __enter__(self) -> ChatStream:
        s = self._session
        self._request = s.adapter.render(self._pending, **s._render_args())
        self._stream = s.adapter.open_stream(s.client, self._request.kwargs)
        self._events = iter(self._stream)
        self._acc = s.adapter.accumulator()
        return self

    def _pull(self) -> Iterator[str]:
        if self._events is None or self._acc is None:
            raise PromptCacheError("ChatStream: use it in a with block before iterating.")
        for event in self._events:
            text = self._acc.feed(event)
            if text:
                yield text

    def __iter__(self) -> Iterator[str]:
        yield from self._pull()

    def finish(self) -> Reply:
        """Wait for the end of the stream and return the Reply (appended to the history)."""
        if self._reply is None:
            for _ in self._pull():
                pass
            assert self._acc is not None and self._request is not None
            parsed = self._acc.result(self._stream)
            self._reply = self._session.core.commit(self._pending, self._request, parsed)
        return self._reply

    @property
    def reply(self) -> Reply:
        """The complete reply; waits for the stream to finish and appends it to the history."""
        return self.finish()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                self.finish()
        finally:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
