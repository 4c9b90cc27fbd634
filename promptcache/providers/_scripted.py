"""What the scripted OpenAI and Gemini servers share: the script, its replies and the failures.

A reply is written once, in one neutral shape, and each server speaks it in its own API: a
string (one text), or a list of ``{"type": "text", "text": ...}`` and ``{"type": "tool_use",
"name": ..., "input": {...}}`` blocks (``id`` filled in when left out), the content blocks the
scripted Anthropic server takes. So one script drives the same test on every provider.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptcache.errors import PromptError
from promptcache.providers._simerrors import ErrorStyle, SimulatedAPIError

__all__ = ["Failure", "Script", "ScriptResponder", "ScriptedReply", "text_of", "words"]

#: One reply: a string (one text) or content blocks (``text`` and ``tool_use``).
ScriptedReply = str | Sequence[Mapping[str, Any]]
#: A reply computed from the request body.
ScriptResponder = Callable[[Mapping[str, Any]], ScriptedReply]

_OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                 403: "permission_error", 404: "not_found_error", 409: "conflict_error",
                 422: "invalid_request_error", 429: "rate_limit_error"}
_GEMINI_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                  404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                  503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """One scripted HTTP error: its status, message, headers, and whether it comes mid-stream."""

    status: int
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    mid_stream: bool = False

    def body(self, style: ErrorStyle) -> dict[str, Any]:
        """The error body in the provider's own shape (``style``: ``openai`` or ``gemini``)."""
        if style == "gemini":
            return {"error": {"code": self.status, "message": self.message,
                              "status": _GEMINI_STATUS.get(self.status, "INTERNAL")}}
        return {"error": {"message": self.message,
                          "type": _OPENAI_TYPES.get(self.status, "server_error"),
                          "param": None, "code": None}}


class Script:
    """The replies and failures of one scripted server, thread-safe.

    Where a reply comes from, first match wins: ``script`` (one reply per request, in order; a
    request past its end is an HTTP 500 naming the problem), then ``responder(body)``, then the
    server's canned ``reply``.
    """

    def __init__(self, owner: str, script: Sequence[ScriptedReply] | None,
                 responder: ScriptResponder | None, style: ErrorStyle, id_prefix: str) -> None:
        self.owner = owner
        self.script = list(script) if script is not None else None
        for i, reply in enumerate(self.script or ()):
            _blocks(owner, reply, f"script[{i}]")  # a bad script fails here, not mid-test
        self.responder = responder
        self.style: ErrorStyle = style
        self.id_prefix = id_prefix
        self.step = 0
        self._failures: deque[Failure] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def fail_next(self, status: int, message: str, times: int,
                  headers: Mapping[str, str] | None, mid_stream: bool) -> None:
        with self._lock:
            for _ in range(times):
                self._failures.append(Failure(status=status, message=message,
                                              headers=dict(headers or {}), mid_stream=mid_stream))

    def failure(self) -> Failure | None:
        """The next scripted failure, taken off the queue (None when there is none)."""
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def fresh_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):012d}"

    def reply(self, body: Mapping[str, Any],
              canned: Callable[[Mapping[str, Any]], str]) -> list[dict[str, Any]]:
        """The next reply's blocks for ``body``: ``text`` and ``tool_use`` (ids filled in)."""
        scripted: ScriptedReply
        if self.script is not None:
            with self._lock:
                if self.step >= len(self.script):
                    raise SimulatedAPIError(
                        f"{self.owner}: the script has {len(self.script)} replies and request "
                        f"{self.step + 1} asked for another. Add replies to the script.",
                        rule="script-exhausted", status_code=500, style=self.style)
                scripted = self.script[self.step]
                self.step += 1
        elif self.responder is not None:
            scripted = self.responder(body)
        else:
            scripted = canned(body)
        return [self._complete(b) for b in _blocks(self.owner, scripted, f"reply {self.step}")]

    def _complete(self, block: dict[str, Any]) -> dict[str, Any]:
        if block["type"] == "tool_use" and not block.get("id"):
            block["id"] = self.fresh_id(self.id_prefix)
        return block


def _blocks(owner: str, reply: Any, where: str) -> list[dict[str, Any]]:
    """``reply`` as text and tool_use blocks; a PromptError naming the block otherwise."""
    if isinstance(reply, str):
        return [{"type": "text", "text": reply}]
    if not isinstance(reply, Sequence):
        raise PromptError(f"{owner}: {where} must be a string or a list of blocks (got "
                          f"{type(reply).__name__}).", path=where)
    out: list[dict[str, Any]] = []
    for i, block in enumerate(reply):
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text" and isinstance(block.get("text"), str):
            out.append({"type": "text", "text": block["text"]})
        elif kind == "tool_use" and isinstance(block.get("name"), str) and isinstance(
                block.get("input", {}), Mapping):
            out.append({"type": "tool_use", "name": block["name"],
                        "input": dict(block.get("input") or {}), "id": block.get("id")})
        else:
            raise PromptError(
                f"{owner}: {where}[{i}] must be {{'type': 'text', 'text': str}} or {{'type': "
                "'tool_use', 'name': str, 'input': dict}}.", path=f"{where}[{i}]")
    return out


def text_of(blocks: Sequence[Mapping[str, Any]]) -> str:
    """The reply's text blocks joined (what a provider sends as the message text)."""
    return "".join(str(b["text"]) for b in blocks if b["type"] == "text")


def words(text: str) -> list[str]:
    """``text`` cut into the deltas a stream sends (each word with its leading space)."""
    parts = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(parts)]
