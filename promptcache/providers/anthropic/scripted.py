"""An AnthropicServer whose replies are scripted content blocks, with a configurable response delay.

The plain server answers every request with one text block. Tool-use loops, thinking blocks and
concurrency need more: ``responder(body)`` returns the reply's content blocks (``tool_use``,
``thinking`` with its ``signature``, ``text``...) and ``response_delay`` holds each response back
for that many wall-clock seconds *before it starts*, which is when the simulator makes its cache
writes readable, so concurrent requests on a cold prefix really do each pay a write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptcache.clock import Clock
from promptcache.providers._loopback import Exchange, Reply
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.providers.anthropic.server import AnthropicServer
from promptcache.providers.anthropic.simulator import AnthropicCacheSimulator

__all__ = ["Responder", "ScriptedAnthropicServer"]

#: Returns the reply's content blocks for a request body (a string: one text block).
Responder = Callable[[Mapping[str, Any]], str | Sequence[Mapping[str, Any]]]


class ScriptedAnthropicServer(AnthropicServer):
    """The fake Anthropic API with scripted replies (JSON and SSE) and a time to first byte."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        reply: Reply = "Simulated reply.",
        responder: Responder | None = None,
        response_delay: float = 0.0,
        simulator: AnthropicCacheSimulator | None = None,
    ) -> None:
        super().__init__(clock=clock, reply=reply, simulator=simulator)
        self.responder = responder
        self.response_delay = response_delay

    def content_for(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        scripted = self.responder(body) if self.responder is not None else self.reply_text(body)
        if isinstance(scripted, str):
            return [{"type": "text", "text": scripted}]
        return [dict(b) for b in scripted]

    def message(self, body: Mapping[str, Any]) -> dict[str, Any]:
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
        body = exchange.body()
        if not isinstance(body, dict) or not body.get("stream"):
            super()._messages(exchange)
            return
        if "max_tokens" not in body:
            raise SimulatedAPIError("max_tokens: Field required", rule="required", path="max_tokens")
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
