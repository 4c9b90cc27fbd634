"""The entries of a prompt cache written at marked blocks, shared by the Anthropic and Converse
simulators.

Both providers cache the prefix that ends at a marked block (``cache_control``, ``cachePoint``),
read the longest live entry within a lookback window ending at each marker, and make an entry
readable only once the response that wrote it has started. Keeping that bookkeeping in one place
means the two simulators cannot drift apart on it; what differs between them (how a request is
read into positions, what usage looks like, which requests are refused) stays in their modules.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from promptcache.limits import TTL_SECONDS

__all__ = ["BreakpointStore", "MarkedPosition"]


class MarkedPosition(Protocol):
    """One block of a request as the cache sees it: what the store needs of it."""

    @property
    def end(self) -> int:
        """Tokens of the prefix up to and including this block."""
        ...

    @property
    def fingerprint(self) -> str:
        """The key of the prefix that ends at this block."""
        ...

    @property
    def ttl(self) -> str | None:
        """The TTL of the marker on this block, or None if it carries none."""
        ...


@dataclass(slots=True)
class _Entry:
    ttl: str
    expires_at: float
    readable_at: float


class BreakpointStore:
    """Live entries by prefix fingerprint, and which request wrote which (until it starts).

    Not locked by itself: callers hold :attr:`lock` around a lookup and the write that follows,
    so two concurrent requests see each other's writes in one order.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._writers: dict[str, list[str]] = {}

    def lookup(self, positions: Sequence[MarkedPosition], now: float, lookback: int) -> int | None:
        """The index of the longest readable entry any marker reaches within ``lookback``
        positions ending at it; reading it refreshes it for its own TTL."""
        best: int | None = None
        for b, pos in enumerate(positions):
            if pos.ttl is None:
                continue
            for i in range(b, max(-1, b - lookback), -1):
                entry = self._live(positions[i].fingerprint, now)
                if entry is not None and entry.readable_at <= now:
                    best = i if best is None else max(best, i)
                    break
        if best is not None:
            entry = self._entries[positions[best].fingerprint]
            entry.expires_at = max(entry.expires_at, now + TTL_SECONDS[entry.ttl])
        return best

    def write(
        self,
        positions: Sequence[MarkedPosition],
        hit: int | None,
        now: float,
        writer: str,
        *,
        minimum: int,
        start_delay: float,
        extend_ttl_on_read: bool = False,
    ) -> tuple[int, ...]:
        """Write an entry at every marker past ``hit`` whose prefix reaches ``minimum``; return
        their indices. Markers the read covers keep their entries warm for free.

        A new entry is readable ``start_delay`` after ``now`` or once :meth:`mark_started` is
        told ``writer``'s response started, whichever comes first. ``extend_ttl_on_read``: a read
        through a longer-TTL marker lengthens the entry to that TTL.
        """
        written: list[int] = []
        for b, pos in enumerate(positions):
            if pos.ttl is None or pos.end < minimum:
                continue
            ttl_end = now + TTL_SECONDS[pos.ttl]
            existing = self._live(pos.fingerprint, now)
            if hit is not None and b <= hit:
                if existing is None:
                    self._entries[pos.fingerprint] = _Entry(pos.ttl, ttl_end, now)
                else:
                    if extend_ttl_on_read and TTL_SECONDS[pos.ttl] > TTL_SECONDS[existing.ttl]:
                        existing.ttl = pos.ttl
                    existing.expires_at = max(existing.expires_at,
                                              now + TTL_SECONDS[existing.ttl])
                continue
            readable_at = now + start_delay
            if existing is None:
                self._entries[pos.fingerprint] = _Entry(pos.ttl, ttl_end, readable_at)
            else:
                existing.readable_at = min(existing.readable_at, readable_at)
                existing.expires_at = max(existing.expires_at, ttl_end)
                if TTL_SECONDS[pos.ttl] > TTL_SECONDS[existing.ttl]:
                    existing.ttl = pos.ttl
            self._writers.setdefault(writer, []).append(pos.fingerprint)
            written.append(b)
        return tuple(written)

    def mark_started(self, writer: str, now: float) -> None:
        """``writer``'s response has started: what it wrote is readable from ``now``."""
        for fingerprint in self._writers.pop(writer, ()):
            entry = self._entries.get(fingerprint)
            if entry is not None:
                entry.readable_at = min(entry.readable_at, now)

    def live_entries(self, now: float) -> int:
        """How many unexpired entries the store holds (readable or not yet)."""
        return sum(e.expires_at > now for e in self._entries.values())

    def clear(self) -> None:
        """Forget every entry and every pending writer."""
        self._entries.clear()
        self._writers.clear()

    def _live(self, fingerprint: str, now: float) -> _Entry | None:
        entry = self._entries.get(fingerprint)
        if entry is not None and entry.expires_at <= now:
            del self._entries[fingerprint]
            return None
        return entry
