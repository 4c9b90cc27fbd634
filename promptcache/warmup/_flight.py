"""Single-flight for cold prefixes inside one process, usable from threads and from asyncio.

Of many callers wanting the same cold prefix, the first becomes the leader and sends the warm-up
request; the others wait until the leader's response has *started* (which is when the provider
makes the entry readable) and then read it, instead of each paying a write. A flight is keyed by
the prefix fingerprint *and* the client's identity (API key digest, base URL, organisation,
headers): a cache is per workspace or organisation, so another key's warm prefix is not this
one's. A leader announces every entry its request writes, and a caller waits for any of them it
could read, so callers with one request each and a common system prompt share one write.
Across processes and machines, :class:`promptcache.cache.registry.RedisRegistry` does the same job.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future

from promptcache.state import CacheState

__all__ = ["DEFAULT_FLIGHTS", "SingleFlight", "flight_key"]


def flight_key(identity: str, fingerprint: str) -> str:
    """The single-flight key of a prefix for one client identity."""
    return f"{identity}:{fingerprint}"


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

    def claim_any(self, wanted: Sequence[str],
                  announced: Sequence[str]) -> tuple[bool, str, Future[None]]:
        """Wait on the first of ``wanted`` in flight, else lead every key of ``announced``.

        ``(False, key, future)``: wait for ``future`` (the flight of ``key``). ``(True, "",
        future)``: the caller leads and must call :meth:`release_all` with that future.
        """
        with self._lock:
            for key in wanted:
                flight = self._flights.get(key)
                if flight is not None:
                    return False, key, flight
            mine: Future[None] = Future()
            for key in announced:
                self._flights.setdefault(key, mine)
            return True, "", mine

    def release_all(self, flight: Future[None], writes: Sequence[tuple[str, str, int]], *,
                    error: BaseException | None = None) -> None:
        """The leader's response started (record each ``(key, ttl, tokens)`` it wrote) or failed
        (waiters see the error)."""
        with self._lock:
            for key, _, _ in writes:
                if self._flights.get(key) is flight:
                    del self._flights[key]
        if error is None:
            now = self.state.now()
            for key, ttl, tokens in writes:
                self.state.record_write(key, ttl, tokens, now, readable_at=now)
            flight.set_result(None)
        else:
            flight.set_exception(error)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._flights)


#: The process-wide default, so independent callers of ``warm_up`` share one flight per prefix.
DEFAULT_FLIGHTS = SingleFlight()
