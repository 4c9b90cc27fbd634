"""Per-endpoint codecs: an SDK response (or stream event) to bytes and back.

Responses are stored as their JSON (``model_dump``) and rebuilt with the SDK's own model class,
so a hit returns the very type a real call returns. Rebuilding validates: an entry that no longer
fits the installed SDK's types is a miss, never a half-built object.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

__all__ = ["ENDPOINTS", "Endpoint", "LoadFailed"]


class LoadFailed(Exception):
    """A stored entry cannot be rebuilt into the SDK's type; the caller treats it as a miss."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One cacheable SDK method."""

    name: str
    """Hashed into the key, so providers and endpoints never share entries."""
    response_type: Callable[[], Any]
    """The SDK model of a complete response (imported on first use)."""
    event_type: Callable[[], Any]
    """The SDK type of one stream event."""
    streaming: Literal["kwarg", "always", "never"]
    """``kwarg``: ``stream=True`` asks for a stream; ``always``: the method always streams."""
    exclude: frozenset[str] = frozenset()
    """Response fields that describe the transport (HTTP headers), not the answer."""

    def dump(self, response: Any) -> bytes:
        data: str = response.model_dump_json(
            exclude_none=True, exclude=set(self.exclude) or None, warnings=False
        )
        return data.encode()

    def load(self, raw: bytes) -> Any:
        try:
            return self.response_type().model_validate_json(raw)
        except ValidationError as e:
            raise LoadFailed(str(e)) from e

    def dump_events(self, events: list[Any]) -> bytes:
        dumped = [
            e.model_dump(mode="json", exclude_none=True, exclude=set(self.exclude) or None, warnings=False)
            for e in events
        ]
        return json.dumps(dumped, separators=(",", ":")).encode()

    def load_events(self, raw: bytes) -> list[Any]:
        adapter = _adapter(self.event_type())
        try:
            return [adapter.validate_python(item) for item in json.loads(raw)]
        except (ValidationError, ValueError, TypeError) as e:
            raise LoadFailed(str(e)) from e


@functools.cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _anthropic_message() -> Any:
    from anthropic.types import Message

    return Message


def _anthropic_event() -> Any:
    from anthropic.types import RawMessageStreamEvent

    return RawMessageStreamEvent


def _openai_completion() -> Any:
    from openai.types.chat import ChatCompletion

    return ChatCompletion


def _openai_chunk() -> Any:
    from openai.types.chat import ChatCompletionChunk

    return ChatCompletionChunk


def _openai_response() -> Any:
    from openai.types.responses import Response

    return Response


def _openai_response_event() -> Any:
    from openai.types.responses import ResponseStreamEvent

    return ResponseStreamEvent


def _genai_response() -> Any:
    from google.genai.types import GenerateContentResponse

    return GenerateContentResponse


_GENAI_TRANSPORT = frozenset({"sdk_http_response"})

ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint(
            name="anthropic.messages.create",
            response_type=_anthropic_message,
            event_type=_anthropic_event,
            streaming="kwarg",
        ),
        Endpoint(
            name="openai.chat.completions.create",
            response_type=_openai_completion,
            event_type=_openai_chunk,
            streaming="kwarg",
        ),
        Endpoint(
            name="openai.responses.create",
            response_type=_openai_response,
            event_type=_openai_response_event,
            streaming="kwarg",
        ),
        Endpoint(
            name="genai.models.generate_content",
            response_type=_genai_response,
            event_type=_genai_response,
            streaming="never",
            exclude=_GENAI_TRANSPORT,
        ),
        Endpoint(
            name="genai.models.generate_content_stream",
            response_type=_genai_response,
            event_type=_genai_response,
            streaming="always",
            exclude=_GENAI_TRANSPORT,
        ),
    )
}
