"""What a fleet's shared store must do for a :class:`~promptcache.state.CacheState`, and how its
failures are reported.

:class:`SharedStore` is the seam (:class:`promptcache.state_redis.RedisStateStore` is the one the
project ships); :class:`FleetLessons` is the larger protocol of a store that also shares what
only the provider's answers tell. A store signals a failure with :class:`StoreError`; the state
then plans from its local view and warns through a :class:`WarnLimiter`, never raising.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from promptcache.state_model import CacheEntry, LayerStats, Sighting

__all__ = ["FleetLessons", "SharedStore", "StoreError", "WarnLimiter"]


class StoreError(Exception):
    """A shared store failed (down, slow, refused); the state falls back to its local view."""


class WarnLimiter:
    """When a recurring warning is worth saying again: once per cause per ``every`` seconds.

    Once per lifetime made a second outage silent; once per call floods a log. A cause is a short
    name (``"TimeoutError"``, ``"malformed entry"``): an outage of another kind is told at once.
    """

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, cause: str) -> bool:
        """True when ``cause`` was not told in the last ``every`` seconds (and records it told)."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(cause)
            if last is not None and now - last < self.every:
                return False
            self._last[cause] = now
            while len(self._last) > 64:  # causes come from error types: few, but never unbounded
                del self._last[next(iter(self._last))]
            return True


class SharedStore(Protocol):
    """Where a fleet's workers share warm entries and layer statistics (e.g. Redis).

    Each method is one round trip and raises :class:`StoreError` on any failure.
    """

    def fetch(self, fingerprints: Sequence[str], layers: Sequence[tuple[str, str]], now: float,
              ) -> tuple[dict[str, CacheEntry], dict[str, LayerStats],
                         dict[tuple[str, str], tuple[float, float, int]]]:
        """Entries held for ``fingerprints``; stats of each ``(layer, content)`` layer; and when
        each of those contents was last seen, with its last reuse gap (-1: none yet) and the size
        of that request (absent: not seen within the horizon)."""
        ...

    def push(self, entries: Sequence[CacheEntry], sightings: Sequence[Sighting], now: float
             ) -> None:
        """Store refreshed ``entries`` (as computed against the store's own) and ``sightings``."""
        ...


@runtime_checkable
class FleetLessons(SharedStore, Protocol):
    """A :class:`SharedStore` that also shares what only the provider's answers tell: when a
    write becomes readable (the bounds of :class:`~promptcache.state_evidence.LatencyBounds`)
    and entries whose readable time a read or a miss corrected. Without it each worker of a fleet
    learns the provider's latency on its own, paying a second write for each lesson, and marks
    another worker's write as readable while it is still in flight.
    """

    def latency_bounds(self) -> tuple[float, float] | None:
        """The fleet's ``(low, high)`` write-latency bounds as of the last :meth:`fetch` (no
        round trip; None: none learned yet)."""
        ...

    def learn(self, entries: Sequence[CacheEntry], reads: Sequence[float],
              misses: Sequence[float], now: float) -> tuple[float, float] | None:
        """One round trip: set each of ``entries``' readable time (the same write only), fold in
        the reads and misses (seconds after sending), return the fleet's bounds after them."""
        ...
