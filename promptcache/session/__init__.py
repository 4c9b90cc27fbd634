"""Multi-turn chat sessions with incremental prompt caching on every provider, sync and async.

One API over Anthropic, OpenAI (chat completions and responses) and Gemini clients: the client
decides the provider. Layout: ``_core`` holds every decision (planning, accounting, miss and edit
explanations) and does no I/O; ``_anthropic``, ``_openai`` and ``_gemini`` render requests and
read responses; ``sync`` and ``aio`` are thin shells that call the client. See docs/chat.md.
"""

from __future__ import annotations

from promptcache.session._history import check_history
from promptcache.session._values import EditCost, MissReport, Reply, SessionStats, ToolCall, TurnUsage
from promptcache.session.aio import AsyncChatSession, AsyncChatStream
from promptcache.session.sync import ChatSession, ChatStream

__all__ = [
    "AsyncChatSession",
    "AsyncChatStream",
    "ChatSession",
    "ChatStream",
    "EditCost",
    "MissReport",
    "Reply",
    "SessionStats",
    "ToolCall",
    "TurnUsage",
    "check_history",
]
