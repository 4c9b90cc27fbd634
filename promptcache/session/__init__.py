"""Multi-turn chat sessions with incremental prompt caching, sync and async, streaming.

Layout: ``_core`` holds every decision (planning, accounting, miss and edit explanations) and
does no I/O; ``_anthropic`` converts requests and responses; ``sync`` and ``aio`` are thin shells
that call the client. See docs/chat.md.
"""

from __future__ import annotations

from ._core import check_history
from ._values import EditCost, MissReport, Reply, SessionStats, ToolCall, TurnUsage
from .aio import AsyncChatSession, AsyncChatStream
from .sync import ChatSession, ChatStream

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
