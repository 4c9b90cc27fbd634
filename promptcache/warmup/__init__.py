"""Prefix warm-up: pay one cache write for N requests that share a prefix, not N.

An Anthropic entry is readable only once the first response that wrote it has started, so a cold
fan-out pays a write per request. ``warm_up`` / ``warm_up_sync`` send one request first and fan
the rest out as soon as its response starts; ``warm_up_batch`` does the same with the Message
Batches API; ``warm_up_gemini`` creates an explicit cache once. See docs/warmup.md.
"""

from __future__ import annotations

from promptcache._deprecated import renamed
from promptcache.warmup._flight import DEFAULT_FLIGHTS, SingleFlight
from promptcache.warmup._prefix import SharedPrefix, prefix_only_request, prepare
from promptcache.warmup._run import WarmupMode, WarmupResult, warm_up, warm_up_sync
from promptcache.warmup.batches import BatchWarmupResult, warm_up_batch
from promptcache.warmup.gemini import GeminiWarmupResult, warm_up_gemini

__all__ = [
    "DEFAULT_FLIGHTS",
    "BatchWarmupResult",
    "GeminiWarmupResult",
    "SharedPrefix",
    "SingleFlight",
    "WarmupMode",
    "WarmupResult",
    "prefix_only_request",
    "prepare",
    "warm_up",
    "warm_up_batch",
    "warm_up_gemini",
    "warm_up_sync",
]

#: Old names, renamed to say what they are (docs/architecture.md, "Renamed names").
__getattr__ = renamed(__name__, {"Mode": "WarmupMode"}, globals())
