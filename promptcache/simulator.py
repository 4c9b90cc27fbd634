"""Offline models of each provider's prompt cache: what a request reads, writes and is billed.

One module per provider; each takes an injectable :class:`~promptcache.clock.Clock` and returns
usage in the provider's own wire shape. :mod:`promptcache.testing` wraps them in loopback HTTP
servers that the official SDK clients can talk to.
"""

from __future__ import annotations

from promptcache.clock import Clock, ManualClock, WallClock
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.providers.anthropic.simulator import AnthropicCacheResult, AnthropicCacheSimulator, Position
from promptcache.providers.bedrock_converse.simulator import ConverseCacheResult, ConverseCacheSimulator
from promptcache.providers.gemini.simulator import CACHED_CONTENT_CONFLICT, GeminiCacheSimulator, GeminiResult
from promptcache.providers.openai.simulator import OpenAICacheResult, OpenAICacheSimulator

__all__ = [
    "CACHED_CONTENT_CONFLICT",
    "AnthropicCacheResult",
    "AnthropicCacheSimulator",
    "Clock",
    "ConverseCacheResult",
    "ConverseCacheSimulator",
    "GeminiCacheSimulator",
    "GeminiResult",
    "ManualClock",
    "OpenAICacheResult",
    "OpenAICacheSimulator",
    "Position",
    "SimulatedAPIError",
    "WallClock",
]
