"""A fake Gemini API whose replies you script: text, function calls (streamed too), HTTP errors.

The plain :class:`~promptcache.testing.GeminiServer` answers every ``generateContent`` with one
text. This server answers with the replies you choose, over the same cache simulator (implicit
and explicit caching, ``cachedContentTokenCount``)::

    from promptcache.testing import ScriptedGeminiServer

    script = [[{"type": "tool_use", "name": "lookup", "input": {"q": "reset"}}],
              "Hold the button for ten seconds."]
    with ScriptedGeminiServer(script) as server:
        client = genai.Client(api_key="test",
                              http_options=types.HttpOptions(base_url=server.url))
        ...

A reply is a string or a list of ``text`` and ``tool_use`` blocks (the shape every scripted
server takes). A ``tool_use`` block becomes a ``functionCall`` part (``name``, ``args`` the
block's ``input``, ``id`` a fresh ``fc_sim...`` unless given), so ``response.function_calls``
reads it. ``generate_content_stream`` sends the text word by word, then the function calls in one
chunk, then the final usage, as the API does. :meth:`ScriptedGeminiServer.fail_next` scripts HTTP
errors (429, 500, 503...), before the response or mid-stream.
"""

from __future__ import annotations

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
from promptcache.providers.gemini.server import GeminiServer
from promptcache.providers.gemini.simulator import GeminiCacheSimulator, usage_metadata

__all__ = ["ScriptedGeminiServer"]


class ScriptedGeminiServer(GeminiServer):
    """The fake Gemini API (``generateContent``, ``streamGenerateContent``) with scripted replies
    and errors; the ``cachedContents`` resource and ``countTokens`` work as on GeminiServer."""

    def __init__(self, script: Sequence[ScriptedReply] | None = None, *,
                 clock: Clock | None = None, reply: ReplyText = "Simulated reply.",
                 responder: ScriptResponder | None = None,
                 simulator: GeminiCacheSimulator | None = None) -> None:
        super().__init__(clock=clock, reply=reply, simulator=simulator)
        self._script = Script("ScriptedGeminiServer", script, responder, "gemini", "fc_sim")
        #: Failures due mid-stream, by the exchange (``id``) they are for.
        self._mid_stream: dict[int, Failure] = {}

    def fail_next(self, status: int = 429, message: str = "Resource has been exhausted", *,
                  times: int = 1, headers: Mapping[str, str] | None = None,
                  mid_stream: bool = False) -> None:
        """Answer the next ``times`` generate requests with an HTTP error of the API's shape
        (``RESOURCE_EXHAUSTED`` for 429, ``UNAVAILABLE`` for 503...).

        google-genai raises its own types (``errors.ClientError`` for 4xx, ``errors.ServerError``
        for 5xx, with ``.code``). ``mid_stream=True`` fails ``generate_content_stream`` after its
        first chunk with an error chunk; a non-streamed request still gets the HTTP error. Failed
        requests consume no script step.
        """
        self._script.fail_next(status, message, times, headers, mid_stream)

    @property
    def steps_used(self) -> int:
        """How many replies of ``script`` have been served."""
        return self._script.step

    def route(self, exchange: Exchange) -> None:
        path = exchange.path.rstrip("/")
        generating = exchange.method == "POST" and path.endswith(
            (":generateContent", ":streamGenerateContent"))
        if generating:
            failure = self._script.failure()
            streaming = path.endswith(":streamGenerateContent")
            if failure is not None and not (failure.mid_stream and streaming):
                exchange.send_json(failure.status, failure.body("gemini"), failure.headers)
                return
            if failure is not None:
                self._mid_stream[id(exchange)] = failure
        try:
            super().route(exchange)
        finally:
            self._mid_stream.pop(id(exchange), None)

    def _generate(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        blocks = self._script.reply(body, self.reply_text)
        text = text_of(blocks)
        parts: list[dict[str, Any]] = [{"text": text}] if text else []
        parts += [{"functionCall": {"id": b["id"], "name": b["name"], "args": b["input"]}}
                  for b in blocks if b["type"] == "tool_use"]
        output = self.count(text) + sum(self.count(str(b["input"])) for b in blocks
                                        if b["type"] == "tool_use")
        result = self.simulator.generate(model, body, output_tokens=output)
        return {"candidates": [{"content": {"role": "model", "parts": parts},
                                "finishReason": "STOP", "index": 0}],
                "usageMetadata": result.usage_metadata, "modelVersion": model,
                "responseId": f"sim{next(self._ids):010d}"}

    def _stream(self, exchange: Exchange, model: str) -> None:
        failure = self._mid_stream.pop(id(exchange), None)
        body = self._body(exchange)
        if failure is not None:  # the first chunk, then the error: no reply, no script step
            exchange.start_sse(dict(failure.headers))
            first = {"content": {"role": "model", "parts": [{"text": ""}]}, "index": 0}
            exchange.send_event({"candidates": [first], "modelVersion": model})
            exchange.send_event(failure.body("gemini"))
            return
        response = self._generate(model, body)
        parts = response["candidates"][0]["content"]["parts"]
        usage = response["usageMetadata"]
        text = "".join(p.get("text", "") for p in parts)
        calls = [p for p in parts if "functionCall" in p]
        chunks: list[list[dict[str, Any]]] = [[{"text": w}] for w in words(text)] if text else []
        if calls:
            chunks.append(calls)
        exchange.start_sse()
        partial = usage_metadata(usage["promptTokenCount"],
                                 usage.get("cachedContentTokenCount", 0), 0)
        for i, chunk_parts in enumerate(chunks or [[]]):
            last = i == max(len(chunks), 1) - 1
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": chunk_parts},
                                         "index": 0}
            if last:
                candidate["finishReason"] = "STOP"
            exchange.send_event({**response, "candidates": [candidate],
                                 "usageMetadata": usage if last else partial})
