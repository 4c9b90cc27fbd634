"""A minimal loopback server speaking just enough Anthropic, OpenAI and Gemini wire API.

Real SDK clients are pointed at it (``base_url``), so the tests exercise the SDKs' own request
building and response parsing; ``hits`` counts requests, which is how a test proves that a cached
call never reached the network. Stands in until ``promptcache.testing`` lands.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "Paris is the capital of France."


def anthropic_message(model: str) -> dict[str, Any]:
    return {
        "id": "msg_stub",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": ANSWER}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 8,
            "cache_read_input_tokens": 4000,
            "cache_creation_input_tokens": 0,
        },
    }


def anthropic_events(model: str) -> Iterator[tuple[str, dict[str, Any]]]:
    start = anthropic_message(model) | {"content": [], "stop_reason": None}
    yield "message_start", {"type": "message_start", "message": start}
    yield (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    for piece in ("Paris is ", "the capital ", "of France."):
        yield (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
        )
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 8},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def openai_completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": ANSWER, "refusal": None},
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 8,
            "total_tokens": 20,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def openai_chunks(model: str) -> Iterator[dict[str, Any]]:
    for i, piece in enumerate(("Paris is ", "the capital ", "of France.")):
        delta = {"content": piece} | ({"role": "assistant"} if i == 0 else {})
        yield {
            "id": "chatcmpl-stub",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
    yield {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }


def openai_response(model: str) -> dict[str, Any]:
    return {
        "id": "resp_stub",
        "object": "response",
        "created_at": 1_700_000_000,
        "model": model,
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_stub",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": ANSWER, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 12,
            "output_tokens": 8,
            "total_tokens": 20,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def gemini_response(model: str, text: str = ANSWER) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 8, "totalTokenCount": 20},
        "modelVersion": model,
    }


@dataclass
class StubServer:
    """A running stub; ``hits`` counts requests per path, ``requests`` keeps their bodies."""

    host: str = "127.0.0.1"
    port: int = 0
    hits: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def total_hits(self) -> int:
        return sum(self.hits.values())

    def start(self) -> StubServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                path = self.path.split("?")[0]
                with stub._lock:
                    stub.hits[path] = stub.hits.get(path, 0) + 1
                    stub.requests.append((self.path, dict(self.headers), body))
                payload = json.loads(body or b"{}")
                model = payload.get("model", "stub-model")
                if path == "/v1/messages":
                    if payload.get("stream"):
                        self._sse(
                            f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in anthropic_events(model)
                        )
                    else:
                        self._json(anthropic_message(model))
                elif path == "/v1/chat/completions":
                    if payload.get("stream"):
                        chunks = [f"data: {json.dumps(c)}\n\n" for c in openai_chunks(model)]
                        self._sse([*chunks, "data: [DONE]\n\n"])
                    else:
                        self._json(openai_completion(model))
                elif path == "/v1/responses":
                    self._json(openai_response(model))
                elif path.endswith(":generateContent"):
                    self._json(gemini_response(path.split("/")[-1].split(":")[0]))
                elif path.endswith(":streamGenerateContent"):
                    model = path.split("/")[-1].split(":")[0]
                    self._sse(
                        f"data: {json.dumps(gemini_response(model, t))}\r\n\r\n"
                        for t in ("Paris is ", "the capital of France.")
                    )
                else:
                    self._json({"error": {"message": f"no stub for {path}"}}, status=404)

            def _json(self, data: dict[str, Any], status: int = 200) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _sse(self, events: Any) -> None:
                raw = "".join(events).encode()
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
