"""Offline models of each provider's prompt cache: what a request reads, writes and is billed.

One module per provider; each takes an injectable :class:`Clock` and returns usage in the
provider's own wire shape. :mod:`promptcache.testing` wraps them in loopback HTTP servers that the
official SDK clients can talk to.
"""

from __future__ import annotations

from .anthropic import AnthropicCacheResult, AnthropicCacheSimulator, Position
from ..clock import Clock, ManualClock, WallClock
from .errors import SimulatedAPIError

__all__ = [
    "AnthropicCacheResult",
    "AnthropicCacheSimulator",
    "Clock",
    "ManualClock",
    "Position",
    "SimulatedAPIError",
    "WallClock",
]
