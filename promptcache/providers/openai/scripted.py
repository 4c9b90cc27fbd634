"""A fake OpenAI API whose replies you script: text, tool calls (streamed too) and HTTP errors.

The plain :class:`~promptcache.testing.OpenAIServer` answers every request with one text. Code
with a tool loop or retry logic needs replies it chooses; this server gives them, on both chat
completions and the responses API, with the same cache simulator underneath (``cached_tokens``
is real)::

    from promptcache.testing import ScriptedOpenAIServer

    script = [[{"type": "tool_use", "name": "lookup", "input": {"q": "reset"}}],
              "Hold the button for ten seconds."]
    with ScriptedOpenAIServer(script) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="test")
        ...

A reply is a string or a list of ``text`` and ``tool_use`` blocks (the scripted Anthropic
server's shape, so one script serves every provider). On chat completions a ``tool_use`` block
becomes a ``tool_calls`` entry (``id`` ``call_sim...`` unless given, ``arguments`` the JSON of
``input``) and ``finish_reason`` is ``tool_calls``; on responses it becomes a ``function_call``
output item (``call_id`` the block's id). Streams (``stream=True`` and the ``stream(...)``
helpers) send the tool calls as the API does: chat ``delta.tool_calls`` chunks, responses
``response.function_call_arguments.delta`` events. :meth:`ScriptedOpenAIServer.fail_next`
scripts HTTP errors (429, 500, 503...), before the response or mid-stream.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from promptcache.clock import Clock
from promptcache.providers._loopback import Exchange, ReplyText
from promptcache.providers._scripted import (
    Failure,
    Script,
    ScriptedReply,
    ScriptResponder,
    text_of,
    words,
)
from promptcache.providers.openai.server import OpenAIServer
from promptcache.providers.openai.simulator import OpenAICacheSimulator

__all__ = ["ScriptedOpenAIServer"]


class ScriptedOpenAIServer(OpenAIServer):
    """The fake OpenAI API (chat completions and responses) with scripted replies and errors."""

    def __init__(self, script: Sequence[ScriptedReply] | None = None, *,
                 clock: Clock | None = None, reply: ReplyText = "Simulated reply.",
                 responder: ScriptResponder | None = None,
                 simulator: OpenAICacheSimulator | None = None) -> None:
        super().__init__(clock=clock, reply=reply, simulator=simulator)
        self._script = Script("ScriptedOpenAIServer", script, responder, "openai", "call_sim")

    def fail_next(self, status: int = 429, message: str = "Rate limit reached", *,
                  times: int = 1, headers: Mapping[str, str] | None = None,
                  mid_stream: bool = False) -> None:
        """Answer the next ``times`` chat or responses requests with an HTTP error of the API's
        shape (``rate_limit_error`` for 429, ``server_error`` for 5xx...).

        The SDK raises its own type (``openai.RateLimitError``...) and retries 429/5xx unless
        ``max_retries=0``; ``headers`` go with it (``{"retry-after": "0"}``). ``mid_stream=True``
        fails a streamed request after its first chunk with an error event (the SDK raises
        ``openai.APIError``); a non-streamed one still gets the HTTP error. Failed requests
        consume no script step.
        """
        self._script.fail_next(status, message, times, headers, mid_stream)

    @property
    def steps_used(self) -> int:
        """How many replies of ``script`` have been served."""
        return self._script.step

    def _failed(self, exchange: Exchange) -> tuple[bool, Failure | None]:
        """Send the next scripted failure if it comes before the response (True: answered);
        else return the one due mid-stream, if any."""
        failure = self._script.failure()
        body = exchange.body()
        streaming = isinstance(body, Mapping) and bool(body.get("stream"))
        if failure is not None and not (failure.mid_stream and streaming):
            exchange.send_json(failure.status, failure.body("openai"), failure.headers)
            return True, None
        return False, failure

    # -- chat completions ----------------------------------------------------------------------

    def _chat(self, exchange: Exchange) -> None:
        answered, failure = self._failed(exchange)
        if answered:
            return
        body = self._body(exchange, "messages")
        blocks = [] if failure is not None else self._script.reply(body, self.reply_text)
        text = text_of(blocks)
        calls = [{"id": b["id"], "type": "function",
                  "function": {"name": b["name"], "arguments": json.dumps(b["input"])}}
                 for b in blocks if b["type"] == "tool_use"]
        output = self.count(text) + sum(self.count(c["function"]["arguments"]) for c in calls)
        result = self.simulator.chat(body, output_tokens=output)
        finish = "tool_calls" if calls else "stop"
        base = {"id": f"chatcmpl-sim{next(self._ids):010d}", "created": int(time.time()),
                "model": body["model"], "system_fingerprint": None}
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": text or None,
                                       "refusal": None}
            if calls:
                message["tool_calls"] = calls
            exchange.send_json(200, {**base, "object": "chat.completion", "usage": result.usage,
                                     "choices": [{"index": 0, "finish_reason": finish,
                                                  "logprobs": None, "message": message}]})
            return
        options = body.get("stream_options")
        include_usage = isinstance(options, Mapping) and bool(options.get("include_usage"))
        chunk: dict[str, Any] = {**base, "object": "chat.completion.chunk"}
        if include_usage:
            chunk["usage"] = None

        def send(delta: dict[str, Any], finish_reason: str | None = None) -> None:
            exchange.send_event({**chunk, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                       "finish_reason": finish_reason}]})

        exchange.start_sse(dict(failure.headers) if failure is not None else None)
        send({"role": "assistant", "content": ""})
        if failure is not None:
            exchange.send_event(failure.body("openai"))
            return
        for word in words(text) if text else ():
            send({"content": word})
        for i, call in enumerate(calls):
            function = call["function"]
            send({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                  "function": {"name": function["name"], "arguments": ""}}]})
            send({"tool_calls": [{"index": i, "function": {"arguments": function["arguments"]}}]})
        send({}, finish)
        if include_usage:
            exchange.send_event({**chunk, "choices": [], "usage": result.usage})
        exchange.send_event("[DONE]")

    # -- responses -----------------------------------------------------------------------------

    def _responses(self, exchange: Exchange) -> None:
        answered, failure = self._failed(exchange)
        if answered:
            return
        body = self._body(exchange, "input")
        blocks = [] if failure is not None else self._script.reply(body, self.reply_text)
        text = text_of(blocks)
        n = next(self._ids)
        items: list[dict[str, Any]] = []
        if text:
            items.append({"type": "message", "id": f"msg_sim{n:010d}", "status": "completed",
                          "role": "assistant", "content": [
                              {"type": "output_text", "text": text, "annotations": [],
                               "logprobs": []}]})
        for i, b in enumerate(blocks):
            if b["type"] == "tool_use":
                items.append({"type": "function_call", "id": f"fc_sim{n:010d}_{i}",
                              "call_id": b["id"], "name": b["name"],
                              "arguments": json.dumps(b["input"]), "status": "completed"})
        output = self.count(text) + sum(self.count(it.get("arguments", "")) for it in items)
        result = self.simulator.responses(body, output_tokens=output)
        response: dict[str, Any] = {
            "id": f"resp_sim{n:010d}", "object": "response", "created_at": int(time.time()),
            "status": "completed", "model": body["model"], "output": items,
            "usage": result.usage, "error": None, "incomplete_details": None,
            "instructions": body.get("instructions"), "metadata": body.get("metadata") or {},
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
            "temperature": 1.0, "top_p": 1.0, "text": {"format": {"type": "text"}},
            "prompt_cache_key": body.get("prompt_cache_key"),
            "prompt_cache_retention": body.get("prompt_cache_retention")}
        if not body.get("stream"):
            exchange.send_json(200, response)
            return
        seq = itertools.count()

        def send(kind: str, **fields: Any) -> None:
            exchange.send_event({"type": kind, "sequence_number": next(seq), **fields}, event=kind)

        exchange.start_sse(dict(failure.headers) if failure is not None else None)
        pending = {**response, "status": "in_progress", "output": [], "usage": None}
        send("response.created", response=pending)
        if failure is not None:
            exchange.send_event(failure.body("openai"), event="error")
            return
        send("response.in_progress", response=pending)
        for index, item in enumerate(items):
            if item["type"] == "message":
                _stream_message(send, index, item)
            else:
                _stream_call(send, index, item)
        send("response.completed", response=response)


def _stream_message(send: Any, index: int, item: Mapping[str, Any]) -> None:
    part = item["content"][0]
    where = {"item_id": item["id"], "output_index": index, "content_index": 0}
    send("response.output_item.added", output_index=index,
         item={**item, "status": "in_progress", "content": []})
    send("response.content_part.added", part={**part, "text": ""}, **where)
    for word in words(part["text"]):
        send("response.output_text.delta", delta=word, logprobs=[], **where)
    send("response.output_text.done", text=part["text"], logprobs=[], **where)
    send("response.content_part.done", part=part, **where)
    send("response.output_item.done", output_index=index, item=item)


def _stream_call(send: Any, index: int, item: Mapping[str, Any]) -> None:
    send("response.output_item.added", output_index=index,
         item={**item, "status": "in_progress", "arguments": ""})
    send("response.function_call_arguments.delta", item_id=item["id"], output_index=index,
         delta=item["arguments"])
    send("response.function_call_arguments.done", item_id=item["id"], output_index=index,
         arguments=item["arguments"], name=item["name"])
    send("response.output_item.done", output_index=index, item=item)
