"""Multi-turn chat sessions with incremental prompt caching, sync and async, streaming.

Layout: ``_core`` holds every decision (planning, accounting, miss and edit explanations) and
does no I/O; ``_anthropic`` converts requests and responses; ``sync`` and ``aio`` are thin shells
that call the client. See docs/chat.md.
"""

from __future__ import annotations

from promptcache.session._core import check_history
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
