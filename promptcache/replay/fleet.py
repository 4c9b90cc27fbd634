"""A fleet of promptcache workers behind a load balancer, for the replay and the cost suite.

Each request of a trace goes to one of ``workers`` workers picked at random (seeded), as a web
service behind a load balancer would see them. Each worker plans with its own
:class:`~promptcache.CacheState`: private (each learns only from what it sends itself) or over a
shared store (``store=``, e.g. a :class:`~promptcache.state_redis.RedisStateStore` per worker on
the same server), which is what the fleet section of ``docs/optimizer.md`` recommends.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from promptcache.providers.anthropic.simulator import AnthropicCacheResult
from promptcache.replay.strategies import PromptCache, Strategy
from promptcache.replay.workloads import TraceRequest
from promptcache.state import CacheState, SharedStore

__all__ = ["Fleet"]


class Fleet(Strategy):
    """``workers`` promptcache workers; each request goes to one of them at random."""

    def __init__(self, workers: int = 8, *, store: Callable[[], SharedStore] | None = None,
                 seed: int = 0, name: str | None = None) -> None:
        self.name = name or (f"fleet-{workers}-shared" if store else f"fleet-{workers}-private")
        self._rng = random.Random(seed)
        self.workers = [PromptCache(CacheState(shared=store() if store is not None else None))
                        for _ in range(workers)]

    def prepare(self, item: TraceRequest, now: float) -> dict[str, Any]:
        self._worker = self._rng.choice(self.workers)
        return self._worker.prepare(item, now)

    def sent(self, item: TraceRequest, request: Mapping[str, Any], result: AnthropicCacheResult,
             now: float) -> None:
        """The worker that sent the request reads its response (usage included)."""
        self._worker.sent(item, request, result, now)
