"""A fake Anthropic API whose replies you script: tool use, thinking, streaming and HTTP errors.

The plain :class:`~promptcache.testing.AnthropicServer` answers every request with one text block.
Tests of tool loops, extended thinking, retries and concurrency need more, and this server gives
it, with the same cache simulator underneath (usage, TTLs and cache diagnostics are real)::

    from promptcache.testing import ScriptedAnthropicServer

    script = [
        [{"type": "thinking", "thinking": "I should look it up."},
         {"type": "tool_use", "name": "lookup", "input": {"q": "reset"}}],
        "Hold the button for ten seconds.",
    ]
    with ScriptedAnthropicServer(script) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test")
        ...

What a reply can be:

- a string: one text block;
- a list of content blocks: ``text``, ``tool_use`` (``id`` defaults to a fresh ``toolu_...``,
  ``input`` to ``{}``), ``thinking`` (a ``signature`` is issued when left out) and
  ``redacted_thinking``. ``stop_reason`` is ``tool_use`` when a tool_use block is present.

Where the replies come from, first match wins: ``script`` (one reply per request, in order; a
request past its end gets an HTTP 500 naming the problem), then ``responder(body)`` (a function of
the request body), then ``reply`` (a string, or a function returning one).

Both ``messages.create`` and ``messages.stream`` work: streamed replies arrive as the API's SSE
events (text, ``input_json_delta``, ``thinking_delta`` then ``signature_delta``). As the real API
does, a request whose assistant turn carries a thinking block without the signature the server
issued is refused with HTTP 400 (``check_signatures=False`` turns this off, for histories recorded
elsewhere). :meth:`ScriptedAnthropicServer.fail_next` scripts HTTP errors (429, 500, 529...), before
the response or in the middle of a stream. ``response_delay`` holds each response back that many
wall-clock seconds before it starts, which is when the simulator makes its cache writes readable,
so concurrent requests on a cold prefix really do each pay a write.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptcache.clock import Clock
from promptcache.providers._loopback import Exchange, ReplyText
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.providers.anthropic.server import AnthropicServer
from promptcache.providers.anthropic.simulator import AnthropicCacheSimulator

__all__ = ["Responder", "ScriptedAnthropicServer"]

#: Returns the reply's content blocks for a request body (a string: one text block).
Responder = Callable[[Mapping[str, Any]], str | Sequence[Mapping[str, Any]]]

#: The API's error ``type`` for each status it uses.
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                500: "api_error", 529: "overloaded_error"}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Failure:
    status: int
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    mid_stream: bool = False

    def body(self) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(self.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": self.message}}


class ScriptedAnthropicServer(AnthropicServer):
    """The fake Anthropic API with scripted replies (JSON and SSE), errors and a time to first byte."""

    def __init__(
        self,
        script: Sequence[str | Sequence[Mapping[str, Any]]] | None = None,
        *,
        clock: Clock | None = None,
        reply: ReplyText = "Simulated reply.",
        responder: Responder | None = None,
        response_delay: float = 0.0,
        simulator: AnthropicCacheSimulator | None = None,
        check_signatures: bool = True,
    ) -> None:
        super().__init__(clock=clock, reply=reply, simulator=simulator)
        self.script = list(script) if script is not None else None
        self.responder = responder
        self.response_delay = response_delay
        self.check_signatures = check_signatures
        self._step = 0
        self._failures: deque[_Failure] = deque()
        self._signatures: set[str] = set()
        self._ids = itertools.count(1)
        self._script_lock = threading.Lock()

    # -- scripting -----------------------------------------------------------------------------

    def fail_next(self, status: int = 529, message: str = "Overloaded", *, times: int = 1,
                  headers: Mapping[str, str] | None = None, mid_stream: bool = False) -> None:
        """Answer the next ``times`` ``POST /v1/messages`` with an HTTP error of the API's shape.

        ``headers`` are sent with it (e.g. ``{"retry-after": "0"}``; the SDK retries 429, 500 and
        529 unless ``max_retries=0``). ``mid_stream=True`` fails a streamed request after
        ``message_start`` with an ``error`` event, as the API does when it is overloaded mid-way;
        a non-streamed request still gets the HTTP error. Failed requests reach no simulator and
        consume no script step.
        """
        for _ in range(times):
            self._failures.append(_Failure(status=status, message=message,
                                           headers=dict(headers or {}), mid_stream=mid_stream))

    @property
    def steps_used(self) -> int:
        """How many replies of ``script`` have been served."""
        return self._step

    def content_for(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The reply's content blocks for ``body``, completed (ids, signatures) as the API would."""
        if self.script is not None:
            with self._script_lock:
                if self._step >= len(self.script):
                    raise SimulatedAPIError(
                        f"ScriptedAnthropicServer: the script has {len(self.script)} replies and "
                        f"request {self._step + 1} asked for another. Add replies to the script.",
                        rule="script-exhausted", status_code=500)
                scripted: str | Sequence[Mapping[str, Any]] = self.script[self._step]
                self._step += 1
        elif self.responder is not None:
            scripted = self.responder(body)
        else:
            scripted = self.reply_text(body)
        if isinstance(scripted, str):
            return [{"type": "text", "text": scripted}]
        return [self._complete(dict(b)) for b in scripted]

    def _complete(self, block: dict[str, Any]) -> dict[str, Any]:
        kind = block.get("type")
        if kind == "tool_use":
            block.setdefault("id", f"toolu_sim{next(self._ids):012d}")
            block.setdefault("input", {})
        elif kind == "thinking":
            if not block.get("signature"):
                digest = hashlib.sha256(str(block.get("thinking", "")).encode()).hexdigest()[:24]
                block["signature"] = f"sig_{digest}=="
            self._signatures.add(str(block["signature"]))
        return block

    def _check_thinking(self, body: Mapping[str, Any]) -> None:
        """The API verifies every thinking block sent back: it must be the one it issued."""
        if not self.check_signatures:
            return
        for m, message in enumerate(body.get("messages") or ()):
            content = message.get("content") if isinstance(message, Mapping) else None
            if message.get("role") != "assistant" or not isinstance(content, list):
                continue
            for c, block in enumerate(content):
                if isinstance(block, Mapping) and block.get("type") == "thinking" and (
                        block.get("signature") not in self._signatures):
                    raise SimulatedAPIError(
                        f"messages.{m}.content.{c}: Invalid `signature` in `thinking` block",
                        rule="thinking-signature", path=f"messages[{m}].content[{c}].signature")

    # -- answering -----------------------------------------------------------------------------

    def message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._check_thinking(body)
        prewarm = body.get("max_tokens") == 0
        content = [] if prewarm else self.content_for(body)
        output = sum(self.count(json.dumps(b)) for b in content)
        result = self.simulator.create(body, output_tokens=output)
        stop = "max_tokens" if prewarm else (
            "tool_use" if any(b.get("type") == "tool_use" for b in content) else "end_turn")
        message: dict[str, Any] = {
            "id": result.message_id, "type": "message", "role": "assistant",
            "model": body.get("model"), "content": content, "stop_reason": stop,
            "stop_sequence": None, "usage": result.usage,
        }
        if body.get("diagnostics") is not None:
            message["diagnostics"] = result.diagnostics
        if self.response_delay > 0:
            time.sleep(self.response_delay)
        return message

    def _messages(self, exchange: Exchange) -> None:
        failure = self._failures.popleft() if self._failures else None
        body = exchange.body()
        streaming = isinstance(body, dict) and bool(body.get("stream"))
        if failure is not None and not (failure.mid_stream and streaming):
            exchange.send_json(failure.status, failure.body(), failure.headers)
            return
        if not streaming:
            super()._messages(exchange)
            return
        if "max_tokens" not in body:
            raise SimulatedAPIError("max_tokens: Field required", rule="required", path="max_tokens")
        if failure is not None:
            self._fail_mid_stream(exchange, self._body(exchange), failure)
            return
        message = self.message(self._body(exchange))
        exchange.start_sse({"request-id": f"req_{message['id']}"})
        # Started once the headers are out: mark it before the first event reaches the client, so
        # a caller that fans out on that event always finds the entry readable.
        self.simulator.mark_started(message["id"])
        usage = message["usage"]
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        exchange.send_event({"type": "message_start", "message": start}, event="message_start")
        for index, block in enumerate(message["content"]):
            self._stream_block(exchange, index, block)
        delta_usage = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens",
                                             "cache_read_input_tokens", "output_tokens")}
        exchange.send_event({"type": "message_delta", "usage": delta_usage,
                             "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None}},
                            event="message_delta")
        exchange.send_event({"type": "message_stop"}, event="message_stop")

    def _fail_mid_stream(self, exchange: Exchange, body: Mapping[str, Any], failure: _Failure) -> None:
        """``message_start``, then the API's ``error`` event: the stream ends without a message."""
        exchange.start_sse(dict(failure.headers))
        start: dict[str, Any] = {
            "id": f"msg_failed{next(self._ids):012d}", "type": "message", "role": "assistant",
            "model": body.get("model"), "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0}}
        exchange.send_event({"type": "message_start", "message": start}, event="message_start")
        exchange.send_event(failure.body(), event="error")

    @staticmethod
    def _stream_block(exchange: Exchange, index: int, block: Mapping[str, Any]) -> None:
        kind = block.get("type")
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            first: dict[str, Any] = {"type": "text", "text": ""}
            words = str(block["text"]).split(" ")
            deltas = [{"type": "text_delta", "text": w if i == 0 else " " + w}
                      for i, w in enumerate(words)]
        elif kind == "tool_use":
            first = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block.get("input", {}))}]
        elif kind == "thinking":
            first = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": block["thinking"]},
                      {"type": "signature_delta", "signature": block["signature"]}]
        else:
            first = dict(block)
        exchange.send_event({"type": "content_block_start", "index": index, "content_block": first},
                            event="content_block_start")
        for delta in deltas:
            exchange.send_event({"type": "content_block_delta", "index": index, "delta": delta},
                                event="content_block_delta")
        exchange.send_event({"type": "content_block_stop", "index": index}, event="content_block_stop")
