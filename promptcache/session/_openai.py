"""The session's OpenAI edge: chat completions and responses, rendered from the same Prompt.

The history is kept in the session's one shape (Anthropic content blocks: text, tool_use,
tool_result), which :func:`promptcache.openai.render_openai_chat` / ``render_openai_responses``
translate; a reply's ``tool_calls`` / ``function_call`` items come back as ``tool_use`` blocks
with their ids, so a tool loop round-trips byte for byte. ``stop_reason`` uses the same
vocabulary on every provider (``end_turn``, ``tool_use``, ``max_tokens``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal

from promptcache.limits import TTL_SECONDS, ModelLimits, Provider, limits_for
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.openai.render import (
    IN_MEMORY_WINDOW,
    render_openai_chat,
    render_openai_responses,
)
from promptcache.providers.openai.usage import usage_from_openai
from promptcache.session._core import Parsed, Pending, Request
from promptcache.session._wire import dump, get, served_from_cache
from promptcache.state import CacheState

__all__ = ["OpenAIAdapter", "for_session", "parse_chat", "parse_response"]

Api = Literal["chat", "responses"]
_FINISH = {"stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use",
           "length": "max_tokens", "content_filter": "refusal"}


def _arguments(raw: Any) -> dict[str, Any]:
    """A tool call's JSON arguments; text that is not a JSON object is kept under ``arguments``."""
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {"arguments": raw}
    return dict(value) if isinstance(value, Mapping) else {"arguments": raw}


def parse_chat(completion: Any) -> Parsed:
    """A ``ChatCompletion`` (object or dict) as text and tool_use blocks, with its usage."""
    choices = get(completion, "choices", ())
    choice = choices[0] if choices else {}
    message = get(choice, "message", {})
    content: list[dict[str, Any]] = []
    text = get(message, "content")
    if text:
        content.append({"type": "text", "text": str(text)})
    for call in get(message, "tool_calls", ()):
        fn = get(call, "function", {})
        content.append({"type": "tool_use", "id": get(call, "id"), "name": get(fn, "name"),
                        "input": _arguments(get(fn, "arguments"))})
    finish = get(choice, "finish_reason")
    return Parsed(content=tuple(content),
                  stop_reason=_FINISH.get(str(finish), finish) if finish is not None else None,
                  message_id=get(completion, "id"), usage=usage_from_openai(completion),
                  from_response_cache=served_from_cache(completion), raw=completion)


def parse_response(response: Any) -> Parsed:
    """A responses-API ``Response`` (object or dict): message text and function calls.

    Reasoning items are not kept: the session's history cannot carry another turn's reasoning
    to OpenAI (the renderer drops it and says so), and leaving them out keeps the prefix stable.
    """
    content: list[dict[str, Any]] = []
    for item in get(response, "output", ()):
        kind = get(item, "type")
        if kind == "message":
            for part in get(item, "content", ()):
                if get(part, "type") == "output_text":
                    content.append({"type": "text", "text": str(get(part, "text", ""))})
        elif kind == "function_call":
            content.append({"type": "tool_use", "id": get(item, "call_id"), "name": get(item, "name"),
                            "input": _arguments(get(item, "arguments"))})
    if any(b["type"] == "tool_use" for b in content):
        stop = "tool_use"
    elif get(response, "status") == "incomplete":
        stop = "max_tokens"
    else:
        stop = "end_turn"
    return Parsed(content=tuple(content), stop_reason=stop, message_id=get(response, "id"),
                  usage=usage_from_openai(response), from_response_cache=served_from_cache(response),
                  raw=response)


class ChatStream:
    """Builds a ChatCompletion from ``stream=True`` chunks (usage from the last one)."""

    def __init__(self) -> None:
        self.text = ""
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish: str | None = None
        self.ident: str | None = None
        self.usage: Any = None

    def feed(self, chunk: Any) -> str | None:
        self.ident = self.ident or get(chunk, "id")
        if get(chunk, "usage") is not None:
            self.usage = dump(get(chunk, "usage"))
        out: str | None = None
        for choice in get(chunk, "choices", ()):
            delta = get(choice, "delta", {})
            piece = get(delta, "content")
            if piece:
                self.text += str(piece)
                out = (out or "") + str(piece)
            for call in get(delta, "tool_calls", ()):
                slot = self.calls.setdefault(int(get(call, "index", 0)),
                                             {"id": None, "name": "", "arguments": ""})
                fn = get(call, "function", {})
                slot["id"] = get(call, "id", slot["id"])
                slot["name"] += str(get(fn, "name", ""))
                slot["arguments"] += str(get(fn, "arguments", ""))
            self.finish = get(choice, "finish_reason", self.finish)
        return out

    def result(self, stream: Any) -> Parsed:
        calls = [{"id": c["id"], "type": "function",
                  "function": {"name": c["name"], "arguments": c["arguments"]}}
                 for _, c in sorted(self.calls.items())]
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if calls:
            message["tool_calls"] = calls
        completion = {"id": self.ident, "object": "chat.completion",
                      "choices": [{"index": 0, "message": message, "finish_reason": self.finish}],
                      "usage": self.usage or {"prompt_tokens": 0, "completion_tokens": 0}}
        parsed = parse_chat(completion)
        return Parsed(content=parsed.content, stop_reason=parsed.stop_reason,
                      message_id=parsed.message_id, usage=parsed.usage,
                      from_response_cache=served_from_cache(stream), raw=completion)


class ResponsesStream:
    """Text deltas as they come; the ``response.completed`` event holds the whole Response."""

    def __init__(self) -> None:
        self.response: Any = None

    def feed(self, event: Any) -> str | None:
        kind = get(event, "type")
        if kind == "response.output_text.delta":
            return str(get(event, "delta", ""))
        if kind in ("response.completed", "response.incomplete"):
            self.response = get(event, "response")
        return None

    def result(self, stream: Any) -> Parsed:
        parsed = parse_response(self.response if self.response is not None else {"output": []})
        return Parsed(content=parsed.content, stop_reason=parsed.stop_reason,
                      message_id=parsed.message_id, usage=parsed.usage,
                      from_response_cache=served_from_cache(stream), raw=parsed.raw)


class OpenAIAdapter:
    """``chat.completions.create`` or ``responses.create``; OpenAI's renderer does the planning."""

    provider: Provider = "openai"

    def __init__(self, api: Api = "chat") -> None:
        self.api: Api = api

    def limits(self, model: str, platform: Literal["api", "bedrock", "vertex"]) -> ModelLimits:
        return limits_for(model, provider="openai")

    def plan(self, prompt: Prompt, state: CacheState, now: float, limits: ModelLimits) -> Plan | None:
        return None  # the renderer plans: routing key, retention, GPT-5.6+ breakpoints

    def render(self, pending: Pending, *, previous_message_id: str | None,
               diagnostics: bool) -> Request:
        render = render_openai_chat if self.api == "chat" else render_openai_responses
        # A dropped piece of the history is told once, never as an error: it must not fail a turn.
        rendered = render(pending.prompt, model=pending.prompt.model, on_dropped="once")
        plan = rendered.plan
        settings = plan.settings
        if "prompt_cache_options.ttl" in settings:
            ttl = float(TTL_SECONDS.get(settings["prompt_cache_options.ttl"], 1_800))
        elif settings.get("prompt_cache_retention") == "24h":
            ttl = 86_400.0
        else:
            ttl = IN_MEMORY_WINDOW
        return Request(kwargs=dict(rendered.kwargs), plan=plan,
                       expected_read=plan.cached_prefix_tokens, ttl_seconds=ttl)

    async def arender(self, pending: Pending, *, previous_message_id: str | None,
                      diagnostics: bool) -> Request:
        return self.render(pending, previous_message_id=previous_message_id, diagnostics=diagnostics)

    def record(self, state: CacheState, pending: Pending, request: Request) -> None:
        # OpenAI decides what it writes; the state learns the conversation's pace from it.
        state.observe(pending.prompt, pending.fingerprints, pending.sent_at)

    # -- the client calls ---------------------------------------------------------------------

    def _resource(self, client: Any) -> Any:
        return client.chat.completions if self.api == "chat" else client.responses

    def _stream_kwargs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        out = {**kwargs, "stream": True}
        if self.api == "chat":
            out["stream_options"] = {**(kwargs.get("stream_options") or {}), "include_usage": True}
        return out

    def create(self, client: Any, kwargs: Mapping[str, Any]) -> Any:
        return self._resource(client).create(**kwargs)

    async def acreate(self, client: Any, kwargs: Mapping[str, Any]) -> Any:
        return await self._resource(client).create(**kwargs)

    def open_stream(self, client: Any, kwargs: Mapping[str, Any]) -> Iterator[Any]:
        stream: Iterator[Any] = self._resource(client).create(**self._stream_kwargs(kwargs))
        return stream

    async def aopen_stream(self, client: Any, kwargs: Mapping[str, Any]) -> AsyncIterator[Any]:
        stream: AsyncIterator[Any] = await self._resource(client).create(**self._stream_kwargs(kwargs))
        return stream

    def accumulator(self) -> ChatStream | ResponsesStream:
        return ChatStream() if self.api == "chat" else ResponsesStream()

    def parse(self, response: Any) -> Parsed:
        return parse_chat(response) if self.api == "chat" else parse_response(response)

    @staticmethod
    def is_sdk_error(error: BaseException) -> bool:
        return type(error).__module__.startswith("openai")


def for_session(client: Any, *, asynchronous: bool, api: str | None, clock: Any) -> OpenAIAdapter:
    """The adapter a ChatSession on ``client`` uses (named by the provider registry's spec)."""
    return OpenAIAdapter(api or "chat")  # type: ignore[arg-type]
