"""Single-flight for cold prefixes inside one process, usable from threads and from asyncio.

Of many callers wanting the same cold prefix (by fingerprint), the first becomes the leader and
sends the warm-up request; the others wait until the leader's response has *started* (which is
when the provider makes the entry readable) and then read it, instead of each paying a write.
Across processes and machines, :class:`promptcache.cache.registry.RedisRegistry` does the same job.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from promptcache.state import CacheState

__all__ = ["DEFAULT_FLIGHTS", "SingleFlight"]


class SingleFlight:
    """Who is warming which prefix, and which prefixes are already warm (via a CacheState)."""

    def __init__(self, *, state: CacheState | None = None) -> None:
        self.state = state if state is not None else CacheState()
        self._lock = threading.Lock()
        self._flights: dict[str, Future[None]] = {}

    def is_warm(self, fingerprint: str) -> bool:
        entry = self.state.entry(fingerprint)
        return entry is not None and entry.warm(self.state.now())

    def claim(self, fingerprint: str) -> Future[None] | None:
        """``None``: the caller leads and must call :meth:`release`; else the leader's future.

        The future resolves when the leader's response has started (or fails with its error).
        """
        with self._lock:
            flight = self._flights.get(fingerprint)
            if flight is not None:
                return flight
            self._flights[fingerprint] = Future()
            return None

    def release(self, fingerprint: str, *, ttl: str, tokens: int,
                error: BaseException | None = None) -> None:
        """The leader's response started (record the entry) or failed (waiters see the error)."""
        with self._lock:
            flight = self._flights.pop(fingerprint, None)
        if error is None:
            # The response has started, so the entry is readable now.
            now = self.state.now()
            self.state.record_write(fingerprint, ttl, tokens, now, readable_at=now)
        if flight is not None:
            if error is None:
                flight.set_result(None)
            else:
                flight.set_exception(error)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._flights)


#: The process-wide default, so independent callers of ``warm_up`` share one flight per prefix.
DEFAULT_FLIGHTS = SingleFlight()
