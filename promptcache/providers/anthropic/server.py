"""A loopback Anthropic Messages API backed by :class:`AnthropicCacheSimulator`.

Serves ``POST /v1/messages`` (JSON and SSE streaming), ``POST /v1/messages/count_tokens`` and the
message batches endpoints, well enough for ``anthropic.Anthropic(base_url=server.url)``. The same
server answers the SDK's platform clients, non-streaming: ``AnthropicBedrock(base_url=server.url)``
(``POST /model/{model}/invoke``, which rejects the request-level ``cache_control`` as Bedrock does)
and ``AnthropicVertex(base_url=server.url + "/v1")``
(``POST /v1/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:rawPredict``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from promptcache.clock import Clock
from promptcache.errors import UnknownModelError
from promptcache.limits import limits_for
from promptcache.providers._loopback import Exchange, LoopbackServer, ReplyText
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.providers.anthropic.simulator import AnthropicCacheSimulator
from promptcache.providers.anthropic.simulator_rules import check_prewarm, read_view

__all__ = ["AnthropicServer"]

_BEDROCK = re.compile(r"^/model/(?P<model>[^/]+)/invoke$")
_VERTEX = re.compile(
    r"^(?:/v1)?/projects/[^/]+/locations/[^/]+/publishers/anthropic/models/(?P<model>[^/:]+):rawPredict$"
)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class AnthropicServer(LoopbackServer):
    """The fake Anthropic API. ``simulator`` and ``clock`` are exposed so tests can move time."""

    error_style = "anthropic"

    def model_of(self, exchange: Exchange) -> str:
        """Bedrock and Vertex name the model in the path; the Messages API in the body."""
        platform = _BEDROCK.match(exchange.path.rstrip("/")) or _VERTEX.match(exchange.path.rstrip("/"))
        return unquote(platform.group("model")) if platform else super().model_of(exchange)

    def unknown_model(self, model: str) -> SimulatedAPIError:
        """Anthropic's 404 for a model it does not serve: ``not_found_error``, ``model: <name>``."""
        return SimulatedAPIError(f"model: {model}", rule="model_not_found", status_code=404,
                                 path="model", style=self.error_style)

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        reply: ReplyText = "Simulated reply.",
        simulator: AnthropicCacheSimulator | None = None,
    ) -> None:
        super().__init__(clock=clock, reply=reply)
        self.simulator = simulator if simulator is not None else AnthropicCacheSimulator(clock=self.clock)
        self._batches: dict[str, dict[str, Any]] = {}
        self._batch_results: dict[str, list[dict[str, Any]]] = {}

    def route(self, exchange: Exchange) -> None:
        path, method = exchange.path.rstrip("/"), exchange.method
        parts = path.split("/")
        platform = _BEDROCK.match(path) or _VERTEX.match(path)
        if method == "POST" and path == "/v1/messages":
            self._messages(exchange)
        elif method == "POST" and platform is not None:
            self._platform(exchange, unquote(platform.group("model")), bedrock=path.startswith("/model/"))
        elif method == "POST" and path == "/v1/messages/count_tokens":
            body = self._body(exchange)
            exchange.send_json(200, {"input_tokens": self.simulator.count_tokens(body)})
        elif method == "POST" and path == "/v1/messages/batches":
            self._create_batch(exchange)
        elif method == "GET" and len(parts) == 5 and path.startswith("/v1/messages/batches/"):
            self._send_batch(exchange, parts[4])
        elif method == "GET" and len(parts) == 6 and parts[5] == "results":
            self._send_results(exchange, parts[4])
        else:
            self.not_found(exchange)

    def _body(self, exchange: Exchange) -> dict[str, Any]:
        body = exchange.body()
        if not isinstance(body, dict):
            raise SimulatedAPIError("The request body must be a JSON object.", rule="body")
        for key in ("model", "messages"):
            if key not in body:
                raise SimulatedAPIError(f"{key}: Field required", rule="required", path=key)
        return body

    def message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Simulate one request and build the ``Message`` the API would return."""
        text = self.reply_text(body)
        if not isinstance(text, str):
            raise SimulatedAPIError(
                f"AnthropicServer answers with text only, but its reply returned a "
                f"{type(text).__name__}. For tool_use, thinking or other content blocks (tool "
                "loops, scripted errors, streaming), use promptcache.testing.ScriptedAnthropicServer "
                "(see docs/testing.md).", rule="reply-not-text", status_code=500,
                style=self.error_style)
        prewarm = body.get("max_tokens") == 0
        output = 0 if prewarm else self.count(text)
        result = self.simulator.create(body, output_tokens=output)
        message: dict[str, Any] = {
            "id": result.message_id,
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": [] if prewarm else [{"type": "text", "text": text}],
            "stop_reason": "max_tokens" if prewarm else "end_turn",
            "stop_sequence": None,
            "usage": result.usage,
        }
        if body.get("diagnostics") is not None:
            message["diagnostics"] = result.diagnostics
        return message

    def _messages(self, exchange: Exchange) -> None:
        body = self._body(exchange)
        if "max_tokens" not in body:
            raise SimulatedAPIError("max_tokens: Field required", rule="required", path="max_tokens")
        message = self.message(body)
        headers = {"request-id": f"req_{message['id']}"}
        if not body.get("stream"):
            self.simulator.mark_started(message["id"])
            exchange.send_json(200, message, headers)
            return
        exchange.start_sse(headers)
        usage = message["usage"]
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        exchange.send_event({"type": "message_start", "message": start}, event="message_start")
        self.simulator.mark_started(message["id"])
        for index, block in enumerate(message["content"]):
            exchange.send_event(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
                event="content_block_start",
            )
            exchange.send_event({"type": "ping"}, event="ping")
            words = block["text"].split(" ")
            for i, word in enumerate(words):
                chunk = word if i == 0 else " " + word
                exchange.send_event(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": chunk},
                    },
                    event="content_block_delta",
                )
            exchange.send_event({"type": "content_block_stop", "index": index}, event="content_block_stop")
        delta_usage = {
            k: usage[k]
            for k in (
                "input_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "output_tokens",
            )
        }
        exchange.send_event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": delta_usage,
            },
            event="message_delta",
        )
        exchange.send_event({"type": "message_stop"}, event="message_stop")

    def _platform(self, exchange: Exchange, model: str, *, bedrock: bool) -> None:
        """Bedrock ``invoke`` / Vertex ``rawPredict``: the model is in the path, not the body."""
        body = exchange.body()
        if not isinstance(body, dict):
            raise SimulatedAPIError("The request body must be a JSON object.", rule="body")
        if "anthropic_version" not in body:
            raise SimulatedAPIError("anthropic_version: Field required", rule="required",
                                    path="anthropic_version")
        if bedrock and body.get("cache_control") is not None:
            raise SimulatedAPIError(
                "cache_control: Extra inputs are not permitted (Bedrock does not support "
                "request-level automatic caching; mark blocks instead).",
                rule="automatic-unsupported", path="cache_control")
        if body.get("stream"):
            raise SimulatedAPIError("Streaming is not simulated on the Bedrock/Vertex paths.",
                                    rule="stream", path="stream")
        request = {k: v for k, v in body.items() if k != "anthropic_version"}
        request["model"] = model
        if bedrock:
            _check_bedrock_ttls(request)
        message = self.message(request)
        self.simulator.mark_started(message["id"])
        exchange.send_json(200, message)

    def _create_batch(self, exchange: Exchange) -> None:
        body = exchange.body()
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            raise SimulatedAPIError(
                "requests: at least one request is required.", rule="required", path="requests"
            )
        batch_id = f"msgbatch_sim{len(self._batches) + 1:014d}"
        results: list[dict[str, Any]] = []
        for item in requests:
            try:
                check_prewarm(item["params"], batch=True)
                message = self.message(item["params"])
                self.simulator.mark_started(message["id"])
                results.append(
                    {"custom_id": item["custom_id"], "result": {"type": "succeeded", "message": message}}
                )
            except SimulatedAPIError as e:
                results.append(
                    {"custom_id": item["custom_id"], "result": {"type": "errored", "error": e.body}}
                )
        succeeded = sum(r["result"]["type"] == "succeeded" for r in results)
        now = _now_iso()
        self._batches[batch_id] = {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended",
            "request_counts": {
                "processing": 0,
                "succeeded": succeeded,
                "errored": len(results) - succeeded,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": now,
            "ended_at": now,
            "expires_at": datetime.fromtimestamp(time.time() + 86_400, UTC).isoformat(),
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch_id}/results",
        }
        self._batch_results[batch_id] = results
        exchange.send_json(200, self._batches[batch_id])

    def _send_batch(self, exchange: Exchange, batch_id: str) -> None:
        if batch_id not in self._batches:
            raise SimulatedAPIError(f"Batch {batch_id} not found.", rule="not-found", status_code=404)
        exchange.send_json(200, self._batches[batch_id])

    def _send_results(self, exchange: Exchange, batch_id: str) -> None:
        if batch_id not in self._batch_results:
            raise SimulatedAPIError(f"Batch {batch_id} not found.", rule="not-found", status_code=404)
        lines = "".join(json.dumps(r) + "\n" for r in self._batch_results[batch_id])
        exchange.send_text(200, lines, "application/binary")


def _check_bedrock_ttls(request: Mapping[str, Any]) -> None:
    """Bedrock accepts the 1h TTL only on Claude 4.5 and later (PROVIDER_FACTS E, 2026-01-26)."""
    try:
        allowed = limits_for(str(request["model"]), provider="anthropic", platform="bedrock").ttls
    except UnknownModelError:
        return
    for index, ttl, _ in read_view(request).breakpoints():
        if ttl not in allowed:
            path = read_view(request).blocks[index].path
            raise SimulatedAPIError(
                f"{path}.cache_control.ttl: '{ttl}' is not supported for this model on Amazon "
                f"Bedrock (supported: {', '.join(allowed)}).", rule="cache-control-ttl", path=path)
