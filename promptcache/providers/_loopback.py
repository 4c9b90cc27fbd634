"""The loopback HTTP server the provider fakes share: threads, recording, JSON and SSE replies.

Stdlib only (``http.server``), bound to 127.0.0.1 on a free port, served from a daemon thread, so
a test needs no network, no extra dependency and no cleanup beyond leaving a ``with`` block.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from promptcache.clock import Clock, WallClock
from promptcache.errors import UnknownModelError
from promptcache.providers._simerrors import ErrorStyle, SimulatedAPIError
from promptcache.redact import redacted_repr
from promptcache.tokens import default_counter

__all__ = ["Exchange", "LoopbackServer", "RecordedRequest", "ReplyText"]

#: The canned answer: a fixed string, or a function of the request body.
ReplyText = str | Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRequest:
    """One request as the server received it, so a test can assert what a client really sent."""

    #: Header values (``x-api-key``, ``authorization``) are shown as ``<redacted>``.
    __repr__ = redacted_repr

    method: str
    #: The path without the query string, e.g. ``/v1/messages``.
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    #: The raw body bytes, exactly as sent.
    body: bytes = field(repr=False)

    def json(self) -> Any:
        """The body parsed as JSON (``None`` for an empty body)."""
        return json.loads(self.body) if self.body else None


class Exchange:
    """One request being answered: its parsed parts and the ways to reply."""

    def __init__(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        self._handler = handler
        self.request = request
        self.method = request.method
        self.path = request.path
        self.query = request.query

    def body(self) -> Any:
        """The JSON body; an unreadable body becomes the provider's 400 via the caller."""
        return self.request.json()

    def send_json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        h = self._handler
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(data)

    def send_text(self, status: int, text: str, content_type: str) -> None:
        self.send_bytes(status, text.encode(), content_type)

    def send_bytes(self, status: int, data: bytes, content_type: str,
                   headers: Mapping[str, str] | None = None) -> None:
        """A binary body (AWS event-stream frames, say) with its content type."""
        h = self._handler
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(data)

    def start_sse(self, headers: Mapping[str, str] | None = None) -> None:
        h = self._handler
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        h.close_connection = True

    def send_event(self, data: Any, *, event: str | None = None) -> None:
        """One server-sent event; ``data`` is JSON-encoded unless it is already a string."""
        payload = data if isinstance(data, str) else json.dumps(data)
        head = f"event: {event}\n" if event else ""
        self._handler.wfile.write(f"{head}data: {payload}\n\n".encode())
        self._handler.wfile.flush()


class _Server(ThreadingHTTPServer):
    #: listen() backlog; the stdlib default of 5 resets connections when a fan-out of dozens of
    #: concurrent clients connects at once.
    request_queue_size = 256


class LoopbackServer:
    """Base of the provider fakes. Subclasses implement :meth:`route`.

    Use as a context manager (``with AnthropicServer() as server:``) or call :meth:`start` and
    :meth:`close`. ``requests`` lists every request received, in order.
    """

    error_style: ErrorStyle = "anthropic"

    def __init__(self, *, clock: Clock | None = None, reply: ReplyText = "Simulated reply.") -> None:
        self.clock: Clock = clock if clock is not None else WallClock()
        self.reply = reply
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash or version."""
        if self._server is None:
            raise RuntimeError("The server is not running: call start() or use it in a with block.")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def reply_text(self, body: Mapping[str, Any]) -> str:
        """The canned answer for ``body``."""
        return self.reply(body) if callable(self.reply) else self.reply

    @staticmethod
    def count(text: str) -> int:
        return default_counter().count_text(text) if text else 0

    def route(self, exchange: Exchange) -> None:
        raise NotImplementedError

    def model_of(self, exchange: Exchange) -> str:
        """The model a request names (the JSON body's ``model``); servers that take it from the
        path override this."""
        try:
            body = exchange.body()
        except ValueError:
            return ""
        return str(body.get("model", "")) if isinstance(body, Mapping) else ""

    def unknown_model(self, model: str) -> SimulatedAPIError:
        """The 404 the real API sends for a model it does not serve, in its own error shape:
        each server overrides this with its provider's message."""
        return SimulatedAPIError(f"model: {model}", rule="model_not_found", status_code=404,
                                 style=self.error_style)

    def not_found(self, exchange: Exchange) -> None:
        message = f"No route for {exchange.method} {exchange.path} in {type(self).__name__}."
        exchange.send_json(
            404, SimulatedAPIError(message, rule="not-found", status_code=404, style=self.error_style).body
        )

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=handler.command,
            path=split.path,
            query={k: v[-1] for k, v in parse_qs(split.query).items()},
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(request)
        exchange = Exchange(handler, request)
        try:
            self.route(exchange)
        except SimulatedAPIError as e:
            exchange.send_json(e.status_code, e.body)
        except UnknownModelError:
            # The simulator has no limits for the model: the real API answers 404 (which the SDKs
            # do not retry), never the 500 and traceback of a bug in the fake.
            error = self.unknown_model(self.model_of(exchange))
            exchange.send_json(error.status_code, error.body)
        except json.JSONDecodeError as e:
            error = SimulatedAPIError(
                f"The request body is not valid JSON: {e}.", rule="json", style=self.error_style
            )
            exchange.send_json(400, error.body)
        except (BrokenPipeError, ConnectionResetError):  # the client went away mid-stream
            pass
        except Exception:  # a bug in the fake: report it rather than hang the client
            error = SimulatedAPIError(
                traceback.format_exc(), rule="internal", status_code=500, style=self.error_style
            )
            exchange.send_json(500, error.body)


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            server._dispatch(self)

        do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request stderr log: tests run with warnings as errors."""

    return Handler
