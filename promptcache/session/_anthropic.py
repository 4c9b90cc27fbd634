"""The session's Anthropic edge: plan and render a request, read a ``Message`` or its stream.

Only this module knows the shape of an ``anthropic`` response; it never imports the SDK, it reads
the objects the client returns (``Anthropic``, ``AnthropicBedrock``, ``AnthropicVertex`` and their
async twins), so the core stays provider-neutral and the SDK optional.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal

from promptcache.limits import TTL_SECONDS, ModelLimits, Provider, limits_for
from promptcache.optimizer import optimize
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import record_sent, render_anthropic
from promptcache.providers.anthropic.usage import AnthropicStreamUsage, usage_from_anthropic
from promptcache.session._core import Parsed, Pending, Request
from promptcache.session._values import TurnUsage
from promptcache.session._wire import content_param, dump, get, served_from_cache
from promptcache.state import CacheState

__all__ = ["AnthropicAdapter", "content_param", "for_session", "parse_message", "turn_usage"]


def turn_usage(usage: Any) -> TurnUsage:
    """Anthropic ``usage`` (or a ``Message``) as a TurnUsage, via the one Anthropic parser."""
    return TurnUsage.of(usage_from_anthropic(usage))


def parse_message(message: Any) -> Parsed:
    """Reduce an ``anthropic.types.Message`` (or its dict form) to what the session keeps."""
    diagnostics = get(message, "diagnostics")
    reason = get(diagnostics, "cache_miss_reason") if diagnostics is not None else None
    missed = get(reason, "cache_missed_input_tokens") if reason is not None else None
    return Parsed(
        content=tuple(content_param(b) for b in get(message, "content", ())),
        stop_reason=get(message, "stop_reason"),
        message_id=get(message, "id"),
        usage=usage_from_anthropic(message),
        server_reason=get(reason, "type") if reason is not None else None,
        server_missed_tokens=int(missed) if missed is not None else None,
        from_response_cache=served_from_cache(message),
        raw=message,
    )


class AnthropicStream:
    """Builds the final message from ``messages.create(stream=True)`` events, in order."""

    def __init__(self) -> None:
        self.message: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}
        self._json: dict[int, str] = {}
        self._usage = AnthropicStreamUsage()

    def feed(self, event: Any) -> str | None:
        """Take one event; return the text it adds to the answer, if any."""
        kind = get(event, "type")
        if kind in ("message_start", "message_delta"):
            self._usage.feed(event)
        if kind == "message_start":
            self.message = dict(dump(get(event, "message", {})))
        elif kind == "content_block_start":
            index = int(get(event, "index", 0))
            self.blocks[index] = dict(dump(get(event, "content_block", {})))
            if self.blocks[index].get("type") == "tool_use":
                self._json[index] = ""
        elif kind == "content_block_delta":
            return self._delta(int(get(event, "index", 0)), get(event, "delta", {}))
        elif kind == "content_block_stop":
            index = int(get(event, "index", 0))
            if index in self._json:
                raw = self._json.pop(index)
                self.blocks[index]["input"] = json.loads(raw) if raw.strip() else {}
        elif kind == "message_delta":
            self.message["stop_reason"] = get(get(event, "delta", {}), "stop_reason")
        return None

    def _delta(self, index: int, delta: Any) -> str | None:
        block = self.blocks.setdefault(index, {"type": "text", "text": ""})
        kind = get(delta, "type")
        if kind == "text_delta":
            text = str(get(delta, "text", ""))
            block["text"] = block.get("text", "") + text
            return text
        if kind == "input_json_delta":
            self._json[index] = self._json.get(index, "") + str(get(delta, "partial_json", ""))
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + str(get(delta, "thinking", ""))
        elif kind == "signature_delta":
            block["signature"] = str(get(delta, "signature", ""))
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(dump(get(delta, "citation")))
        return None

    def result(self, stream: Any) -> Parsed:
        message = {**self.message, "content": [self.blocks[i] for i in sorted(self.blocks)]}
        parsed = parse_message(message)
        return Parsed(content=parsed.content, stop_reason=parsed.stop_reason,
                      message_id=parsed.message_id, usage=self._usage.usage,
                      server_reason=parsed.server_reason,
                      server_missed_tokens=parsed.server_missed_tokens,
                      from_response_cache=served_from_cache(stream), raw=message)


class AnthropicAdapter:
    """Plans with the optimizer and the session's CacheState; renders ``messages.create``."""

    provider: Provider = "anthropic"

    def limits(self, model: str, platform: Literal["api", "bedrock", "vertex"]) -> ModelLimits:
        return limits_for(model, provider="anthropic", platform=platform)

    def plan(self, prompt: Prompt, state: CacheState, now: float, limits: ModelLimits) -> Plan | None:
        return optimize(prompt, state=state, now=now, limits=limits)

    def render(self, pending: Pending, *, previous_message_id: str | None,
               diagnostics: bool) -> Request:
        """``messages.create`` keyword arguments, asking for cache diagnostics against the last reply.

        ``previous_message_id=None`` still opts in on the first turn, as the API documents.
        """
        plan = pending.plan
        assert plan is not None  # planned in prepare(); the Anthropic adapter always plans
        kwargs = render_anthropic(pending.prompt, plan)
        if diagnostics and pending.prompt.platform == "api":
            kwargs["diagnostics"] = {"previous_message_id": previous_message_id}
        return Request(kwargs=kwargs, plan=plan, expected_read=plan.expected.cache_read_tokens,
                       ttl_seconds=_conversation_ttl(plan, pending.prompt))

    async def arender(self, pending: Pending, *, previous_message_id: str | None,
                      diagnostics: bool) -> Request:
        return self.render(pending, previous_message_id=previous_message_id, diagnostics=diagnostics)

    def record(self, state: CacheState, pending: Pending, request: Request) -> None:
        # The response has arrived, so it has started: its writes are readable at once.
        if pending.plan is not None:
            record_sent(state, pending.prompt, pending.plan, response_started=True)

    # -- the client calls ---------------------------------------------------------------------

    def create(self, client: Any, kwargs: Mapping[str, Any]) -> Any:
        return client.messages.create(**kwargs)

    async def acreate(self, client: Any, kwargs: Mapping[str, Any]) -> Any:
        return await client.messages.create(**kwargs)

    def open_stream(self, client: Any, kwargs: Mapping[str, Any]) -> Iterator[Any]:
        stream: Iterator[Any] = client.messages.create(**kwargs, stream=True)
        return stream

    async def aopen_stream(self, client: Any, kwargs: Mapping[str, Any]) -> AsyncIterator[Any]:
        stream: AsyncIterator[Any] = await client.messages.create(**kwargs, stream=True)
        return stream

    def accumulator(self) -> AnthropicStream:
        return AnthropicStream()

    def parse(self, response: Any) -> Parsed:
        return parse_message(response)

    @staticmethod
    def is_sdk_error(error: BaseException) -> bool:
        return type(error).__module__.startswith("anthropic")


def _conversation_ttl(plan: Plan, prompt: Prompt) -> float:
    """Seconds the conversation's entry lives: the TTL of the breakpoint that holds it.

    Not the longest TTL of the request: with tools on 1h and the conversation on 5m, a gap of
    ten minutes expires the conversation's entry, and blaming eviction for it would be wrong.
    """
    conversation = next((layer for layer in reversed(prompt.layers) if layer.append_only), None)
    start = conversation.start if conversation is not None else len(prompt.blocks)
    marks = [p for p in plan.placements if p.index >= start] or list(plan.placements)
    if not marks:
        return float(TTL_SECONDS["5m"])
    return float(TTL_SECONDS[max(marks, key=lambda p: p.index).ttl])


def for_session(client: Any, *, asynchronous: bool, api: str | None, clock: Any) -> AnthropicAdapter:
    """The adapter a ChatSession on ``client`` uses (named by the provider registry's spec)."""
    return AnthropicAdapter()
