"""A loopback OpenAI API backed by :class:`OpenAICacheSimulator`.

Serves ``POST /v1/chat/completions`` and ``POST /v1/responses``, both also as SSE streams (chat
usage only with ``stream_options.include_usage``, as the real API), well enough for
``openai.OpenAI(base_url=server.url + "/v1")``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from typing import Any

from promptcache.clock import Clock
from promptcache.providers._loopback import Exchange, LoopbackServer, ReplyText
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.providers.openai.simulator import OpenAICacheSimulator

__all__ = ["OpenAIServer"]


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


class OpenAIServer(LoopbackServer):
    """The fake OpenAI API. ``simulator`` and ``clock`` are exposed so tests can move time."""

    error_style = "openai"

    def unknown_model(self, model: str) -> SimulatedAPIError:
        """OpenAI's 404 for a model it does not serve (``code: model_not_found``)."""
        return SimulatedAPIError(f"The model `{model}` does not exist or you do not have access to it.",
                                 rule="model_not_found", status_code=404, style=self.error_style)

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        reply: ReplyText = "Simulated reply.",
        simulator: OpenAICacheSimulator | None = None,
    ) -> None:
        super().__init__(clock=clock, reply=reply)
        self.simulator = simulator if simulator is not None else OpenAICacheSimulator(clock=self.clock)
        self._ids = itertools.count(1)

    def route(self, exchange: Exchange) -> None:
        path = exchange.path.rstrip("/")
        if exchange.method == "POST" and path == "/v1/chat/completions":
            self._chat(exchange)
        elif exchange.method == "POST" and path == "/v1/responses":
            self._responses(exchange)
        else:
            self.not_found(exchange)

    def _body(self, exchange: Exchange, required: str) -> dict[str, Any]:
        body = exchange.body()
        if not isinstance(body, dict):
            raise SimulatedAPIError("The request body must be a JSON object.", rule="body", style="openai")
        for key in ("model", required):
            if key not in body:
                raise SimulatedAPIError(
                    f"Missing required parameter: '{key}'.", rule="required", path=key, style="openai"
                )
        return body

    def _chat(self, exchange: Exchange) -> None:
        body = self._body(exchange, "messages")
        text = self.reply_text(body)
        result = self.simulator.chat(body, output_tokens=self.count(text))
        ident, created, model = f"chatcmpl-sim{next(self._ids):010d}", int(time.time()), body["model"]
        base = {"id": ident, "created": created, "model": model, "system_fingerprint": None}
        if not body.get("stream"):
            exchange.send_json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "logprobs": None,
                            "message": {"role": "assistant", "content": text, "refusal": None},
                        }
                    ],
                    "usage": result.usage,
                },
            )
            return
        options = body.get("stream_options")
        include_usage = isinstance(options, Mapping) and bool(options.get("include_usage"))
        chunk = {**base, "object": "chat.completion.chunk"}
        if include_usage:
            chunk["usage"] = None
        exchange.start_sse()
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": w} for w in _words(text)]
        for delta in deltas:
            exchange.send_event(
                {**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}]}
            )
        exchange.send_event(
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}]}
        )
        if include_usage:
            exchange.send_event({**chunk, "choices": [], "usage": result.usage})
        exchange.send_event("[DONE]")

    def _responses(self, exchange: Exchange) -> None:
        body = self._body(exchange, "input")
        text = self.reply_text(body)
        n = next(self._ids)
        result = self.simulator.responses(body, output_tokens=self.count(text),
                                          response_id=f"resp_sim{n:010d}")
        item_id = f"msg_sim{n:010d}"
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        item = {
            "type": "message",
            "id": item_id,
            "status": "completed",
            "role": "assistant",
            "content": [part],
        }
        response: dict[str, Any] = {
            "id": f"resp_sim{n:010d}",
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": body["model"],
            "output": [item],
            "usage": result.usage,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "metadata": body.get("metadata") or {},
            "parallel_tool_calls": True,
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "temperature": 1.0,
            "top_p": 1.0,
            "text": {"format": {"type": "text"}},
            "prompt_cache_key": body.get("prompt_cache_key"),
            "prompt_cache_retention": body.get("prompt_cache_retention"),
        }
        if result.diagnostics is not None:
            response["prompt_cache_diagnostics"] = result.diagnostics
        if not body.get("stream"):
            exchange.send_json(200, response)
            return
        seq = itertools.count()
        exchange.start_sse()

        def send(kind: str, **fields: Any) -> None:
            exchange.send_event({"type": kind, "sequence_number": next(seq), **fields}, event=kind)

        pending = {**response, "status": "in_progress", "output": [], "usage": None}
        send("response.created", response=pending)
        send("response.in_progress", response=pending)
        where = {"item_id": item_id, "output_index": 0, "content_index": 0}
        send(
            "response.output_item.added",
            output_index=0,
            item={**item, "status": "in_progress", "content": []},
        )
        send("response.content_part.added", part={**part, "text": ""}, **where)
        for word in _words(text):
            send("response.output_text.delta", delta=word, logprobs=[], **where)
        send("response.output_text.done", text=text, logprobs=[], **where)
        send("response.content_part.done", part=part, **where)
        send("response.output_item.done", output_index=0, item=item)
        send("response.completed", response=response)
