"""Offline models of each provider's prompt cache: what a request reads, writes and is billed.

One module per provider; each takes an injectable :class:`~promptcache.clock.Clock` and returns
usage in the provider's own wire shape. :mod:`promptcache.testing` wraps them in loopback HTTP
servers that the official SDK clients can talk to.
"""

from __future__ import annotations

from promptcache._deprecated import renamed
from promptcache.clock import Clock, ManualClock, WallClock
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.providers.anthropic.simulator import (
    AnthropicCacheResult,
    AnthropicCacheSimulator,
    SimulatedBlock,
)
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
    "SimulatedAPIError",
    "SimulatedBlock",
    "WallClock",
]

#: Old names, renamed to say what they are (docs/architecture.md, "Renamed names").
__getattr__ = renamed(__name__, {"Position": "SimulatedBlock"}, globals())
