"""A loopback Gemini API backed by :class:`GeminiCacheSimulator`.

Serves, under both ``/v1`` and ``/v1beta``: ``models/{m}:generateContent``,
``models/{m}:streamGenerateContent`` (SSE with ``alt=sse``), ``models/{m}:countTokens`` and the
``cachedContents`` resource (create, get, list with paging, patch, delete), well enough for
``genai.Client(api_key="x", http_options=types.HttpOptions(base_url=server.url))``. Also the
OpenAI-compatible ``POST /v1beta/openai/chat/completions`` (non-streaming), which reads a cache
name from ``extra_body.google.cached_content``, for ``openai.OpenAI(base_url=server.url +
"/v1beta/openai")``.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from promptcache.clock import Clock
from promptcache.providers._loopback import Exchange, LoopbackServer, ReplyText
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.providers.gemini.simulator import GeminiCacheSimulator, usage_metadata

__all__ = ["GeminiServer"]

_MODEL_CALL = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^:/]+):(?P<method>\w+)$")
_CACHES = re.compile(r"^/v1(?:beta)?/cachedContents(?:/(?P<id>[^/]+))?$")


class GeminiServer(LoopbackServer):
    """The fake Gemini API. ``simulator`` and ``clock`` are exposed so tests can move time."""

    error_style = "gemini"

    def model_of(self, exchange: Exchange) -> str:
        """The model in the path (``models/{m}:generateContent``), else the body's (a cache)."""
        call = _MODEL_CALL.match(exchange.path.rstrip("/"))
        return call.group("model") if call else super().model_of(exchange).removeprefix("models/")

    def unknown_model(self, model: str) -> SimulatedAPIError:
        """Gemini's 404 for a model it does not serve (``status: NOT_FOUND``)."""
        return SimulatedAPIError(
            f"models/{model} is not found for API version v1beta, or is not supported for "
            "generateContent. Call ListModels to see the list of available models and their "
            "supported methods.", rule="model_not_found", status_code=404, style=self.error_style)

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        reply: ReplyText = "Simulated reply.",
        simulator: GeminiCacheSimulator | None = None,
    ) -> None:
        super().__init__(clock=clock, reply=reply)
        self.simulator = simulator if simulator is not None else GeminiCacheSimulator(clock=self.clock)
        self._ids = itertools.count(1)

    def route(self, exchange: Exchange) -> None:
        path, method = exchange.path.rstrip("/"), exchange.method
        call = _MODEL_CALL.match(path)
        caches = _CACHES.match(path)
        if method == "POST" and path == "/v1beta/openai/chat/completions":
            self._openai_chat(exchange)
        elif call and method == "POST":
            model, action = call.group("model"), call.group("method")
            if action == "generateContent":
                exchange.send_json(200, self._generate(model, self._body(exchange)))
            elif action == "streamGenerateContent":
                self._stream(exchange, model)
            elif action == "countTokens":
                total = self.simulator.count_tokens(self._body(exchange))
                exchange.send_json(200, {"totalTokens": total})
            else:
                self.not_found(exchange)
        elif caches and caches.group("id") is None:
            if method == "POST":
                exchange.send_json(200, self.simulator.create_cache(self._body(exchange)))
            elif method == "GET":
                size = int(exchange.query.get("pageSize", 50))
                page = self.simulator.list_caches(page_size=size, page_token=exchange.query.get("pageToken"))
                exchange.send_json(200, page)
            else:
                self.not_found(exchange)
        elif caches:
            name = f"cachedContents/{caches.group('id')}"
            if method == "GET":
                exchange.send_json(200, self.simulator.get_cache(name))
            elif method == "PATCH":
                exchange.send_json(200, self.simulator.update_cache(name, self._body(exchange)))
            elif method == "DELETE":
                self.simulator.delete_cache(name)
                exchange.send_json(200, {})
            else:
                self.not_found(exchange)
        else:
            self.not_found(exchange)

    def _body(self, exchange: Exchange) -> dict[str, Any]:
        body = exchange.body()
        if not isinstance(body, dict):
            raise SimulatedAPIError("The request body must be a JSON object.", rule="body", style="gemini")
        return body

    def _generate(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        text = self.reply_text(body)
        result = self.simulator.generate(model, body, output_tokens=self.count(text))
        return {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": result.usage_metadata,
            "modelVersion": model,
            "responseId": f"sim{next(self._ids):010d}",
        }

    def _openai_chat(self, exchange: Exchange) -> None:
        """The OpenAI-compatible endpoint: translate to generateContent, answer in chat shape."""
        body = self._body(exchange)
        model = str(body.get("model", "")).removeprefix("models/")
        system: list[dict[str, Any]] = []
        contents: list[dict[str, Any]] = []
        for message in body.get("messages") or ():
            content = message.get("content")
            texts = [content] if isinstance(content, str) else [
                str(p.get("text", "")) if p.get("type") == "text" else json.dumps(p, sort_keys=True)
                for p in content or ()]
            if message.get("tool_calls"):
                texts.append(json.dumps(message["tool_calls"], sort_keys=True))
            parts = [{"text": t} for t in texts if t]
            if message.get("role") in ("system", "developer"):
                system.extend(parts)
            elif parts:
                contents.append({"role": "model" if message.get("role") == "assistant" else "user",
                                 "parts": parts})
        request: dict[str, Any] = {"contents": contents}
        if system:
            request["systemInstruction"] = {"parts": system}
        if body.get("tools"):
            request["tools"] = body["tools"]
        google = (body.get("extra_body") or {}).get("google") or {}
        if google.get("cached_content"):
            request["cachedContent"] = google["cached_content"]
        text = self.reply_text(body)
        result = self.simulator.generate(model, request, output_tokens=self.count(text))
        usage = result.usage_metadata
        exchange.send_json(200, {
            "id": f"chatcmpl-gem{next(self._ids):010d}", "object": "chat.completion",
            "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": usage["promptTokenCount"],
                      "completion_tokens": usage["candidatesTokenCount"],
                      "total_tokens": usage["totalTokenCount"],
                      "prompt_tokens_details": {"cached_tokens": result.cached_tokens}},
        })

    def _stream(self, exchange: Exchange, model: str) -> None:
        response = self._generate(model, self._body(exchange))
        text = response["candidates"][0]["content"]["parts"][0]["text"]
        usage = response["usageMetadata"]
        words = text.split(" ")
        exchange.start_sse()
        for i, word in enumerate(words):
            last = i == len(words) - 1
            candidate: dict[str, Any] = {
                "content": {"role": "model", "parts": [{"text": word if i == 0 else " " + word}]},
                "index": 0,
            }
            if last:
                candidate["finishReason"] = "STOP"
            chunk_usage = (
                usage
                if last
                else usage_metadata(usage["promptTokenCount"], usage.get("cachedContentTokenCount", 0), 0)
            )
            exchange.send_event({**response, "candidates": [candidate], "usageMetadata": chunk_usage})
