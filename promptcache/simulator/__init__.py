"""Offline models of each provider's prompt cache: what a request reads, writes and is billed.

One module per provider; each takes an injectable :class:`~promptcache.clock.Clock` and returns
usage in the provider's own wire shape. :mod:`promptcache.testing` wraps them in loopback HTTP
servers that the official SDK clients can talk to.
"""

from __future__ import annotations

from ..clock import Clock, ManualClock, WallClock
from .anthropic import AnthropicCacheResult, AnthropicCacheSimulator, Position
from .errors import SimulatedAPIError
from .gemini import CACHED_CONTENT_CONFLICT, GeminiCacheSimulator, GeminiResult
from .openai import OpenAICacheResult, OpenAICacheSimulator

__all__ = [
    "CACHED_CONTENT_CONFLICT",
    "AnthropicCacheResult",
    "AnthropicCacheSimulator",
    "Clock",
    "GeminiCacheSimulator",
    "GeminiResult",
    "ManualClock",
    "OpenAICacheResult",
    "OpenAICacheSimulator",
    "Position",
    "SimulatedAPIError",
    "WallClock",
]
