"""The ChatSession adapter for boto3's ``bedrock-runtime`` client (named by ``spec.py``).

The session keeps its history in the Anthropic shape; requests are planned by the optimizer with
the model's Converse row and rendered by :func:`~.render.render_bedrock_converse`; a reply's
``text``, ``toolUse`` and ``reasoningContent`` blocks come back in that shape (:mod:`.blocks`), so
a tool loop round-trips. boto3 is synchronous: an async session on it is refused by the session
(aioboto3 is not supported, see ``docs/bedrock.md``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal

from promptcache.errors import PromptCacheError
from promptcache.limits import TTL_SECONDS, ModelLimits, Provider
from promptcache.optimizer import optimize
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import record_sent
from promptcache.providers.bedrock_converse.blocks import to_anthropic
from promptcache.providers.bedrock_converse.render import converse_limits, render_bedrock_converse
from promptcache.providers.bedrock_converse.request import for_model
from promptcache.providers.bedrock_converse.usage import usage_from_converse
from promptcache.session._core import Parsed, Pending, Request
from promptcache.state import CacheState

__all__ = ["ConverseAdapter", "ConverseStream", "for_session", "parse_converse"]

#: Converse stop reasons in the session's vocabulary (the same on every provider).
_STOP = {"end_turn": "end_turn", "tool_use": "tool_use", "max_tokens": "max_tokens",
         "stop_sequence": "stop_sequence", "guardrail_intervened": "refusal",
         "content_filtered": "refusal"}


def parse_converse(response: Mapping[str, Any]) -> Parsed:
    """A ``converse`` response (a dict) reduced to what the session keeps."""
    message = (response.get("output") or {}).get("message") or {}
    content = tuple(to_anthropic(b, f"output.message.content[{i}]")
                    for i, b in enumerate(message.get("content") or ()))
    stop = response.get("stopReason")
    meta = response.get("ResponseMetadata") or {}
    return Parsed(content=content, stop_reason=_STOP.get(str(stop), stop) if stop else None,
                  message_id=meta.get("RequestId"), usage=usage_from_converse(response),
                  raw=response)


class ConverseStream:
    """Builds the reply from ``converse_stream`` events: text, tool input, reasoning, usage."""

    def __init__(self) -> None:
        self.blocks: dict[int, dict[str, Any]] = {}
        self.stop: str | None = None
        self.usage: Mapping[str, Any] = {}

    def feed(self, event: Mapping[str, Any]) -> str | None:
        """Take one event; return the text it adds to the answer, if any."""
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            tool = (start.get("start") or {}).get("toolUse")
            if tool is not None:
                self.blocks[int(start.get("contentBlockIndex", 0))] = {
                    "toolUse": {**tool, "input": ""}}
        elif "contentBlockDelta" in event:
            delta = event["contentBlockDelta"]
            index, piece = int(delta.get("contentBlockIndex", 0)), delta.get("delta") or {}
            if "text" in piece:
                block = self.blocks.setdefault(index, {"text": ""})
                block["text"] = block.get("text", "") + str(piece["text"])
                return str(piece["text"])
            if "toolUse" in piece:
                block = self.blocks.setdefault(index, {"toolUse": {"input": ""}})
                block["toolUse"]["input"] += str(piece["toolUse"].get("input", ""))
            elif "reasoningContent" in piece:
                reasoning = self.blocks.setdefault(
                    index, {"reasoningContent": {"reasoningText": {"text": ""}}})
                text = reasoning["reasoningContent"]["reasoningText"]
                text["text"] += str(piece["reasoningContent"].get("text", ""))
                if "signature" in piece["reasoningContent"]:
                    text["signature"] = piece["reasoningContent"]["signature"]
        elif "messageStop" in event:
            self.stop = event["messageStop"].get("stopReason")
        elif "metadata" in event:
            self.usage = event["metadata"].get("usage") or {}
        return None

    def result(self, stream: Any) -> Parsed:
        content = []
        for _, block in sorted(self.blocks.items()):
            if "toolUse" in block:
                raw = block["toolUse"]["input"]
                block = {"toolUse": {**block["toolUse"],
                                     "input": json.loads(raw) if raw.strip() else {}}}
            content.append(block)
        return parse_converse({"output": {"message": {"role": "assistant", "content": content}},
                               "stopReason": self.stop, "usage": self.usage})


class ConverseAdapter:
    """Plans with the optimizer and the session's CacheState; renders ``converse``."""

    provider: Provider = "bedrock_converse"

    def limits(self, model: str, platform: Literal["api", "bedrock", "vertex"]) -> ModelLimits:
        return converse_limits(model)

    def plan(self, prompt: Prompt, state: CacheState, now: float, limits: ModelLimits) -> Plan | None:
        return optimize(for_model(prompt, limits), state=state, now=now, limits=limits)

    def render(self, pending: Pending, *, previous_message_id: str | None,
               diagnostics: bool) -> Request:
        plan = pending.plan
        assert plan is not None  # planned in prepare(); this adapter always plans
        kwargs = render_bedrock_converse(pending.prompt, plan)
        marks = [p for p in plan.placements if p.prefix_tokens >= plan.limits.estimated_minimum]
        ttl = max(marks, key=lambda p: p.index).ttl if marks else "5m"
        return Request(kwargs=kwargs, plan=plan, expected_read=plan.expected.cache_read_tokens,
                       ttl_seconds=float(TTL_SECONDS[ttl]))

    async def arender(self, pending: Pending, *, previous_message_id: str | None,
                      diagnostics: bool) -> Request:
        return self.render(pending, previous_message_id=previous_message_id, diagnostics=diagnostics)

    def record(self, state: CacheState, pending: Pending, request: Request) -> None:
        if pending.plan is not None:
            record_sent(state, pending.prompt, pending.plan, response_started=True)

    # -- the client calls ---------------------------------------------------------------------

    def create(self, client: Any, kwargs: Mapping[str, Any]) -> Any:
        return client.converse(**kwargs)

    async def acreate(self, client: Any, kwargs: Mapping[str, Any]) -> Any:
        raise PromptCacheError("boto3 is synchronous: use ChatSession, not AsyncChatSession.")

    def open_stream(self, client: Any, kwargs: Mapping[str, Any]) -> Iterator[Any]:
        stream: Iterator[Any] = client.converse_stream(**kwargs)["stream"]
        return stream

    async def aopen_stream(self, client: Any, kwargs: Mapping[str, Any]) -> AsyncIterator[Any]:
        raise PromptCacheError("boto3 is synchronous: use ChatSession, not AsyncChatSession.")

    def accumulator(self) -> ConverseStream:
        return ConverseStream()

    def parse(self, response: Any) -> Parsed:
        return parse_converse(response)

    @staticmethod
    def is_sdk_error(error: BaseException) -> bool:
        return type(error).__module__.startswith("botocore")


def for_session(client: Any, *, asynchronous: bool, api: str | None, clock: Any) -> ConverseAdapter:
    """The adapter a ChatSession on a ``bedrock-runtime`` client uses."""
    if asynchronous:
        raise PromptCacheError("boto3's bedrock-runtime client is synchronous: use ChatSession "
                               "(AsyncChatSession needs an async client, which boto3 has not).")
    return ConverseAdapter()
