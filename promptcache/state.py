"""CacheState: what this process has sent, so the optimizer plans from what actually happens.

Keep one per process in a long-running service (it is thread-safe) and pass it to
:func:`promptcache.optimize`. It remembers, per prefix fingerprint, when an entry was written and
with which TTL, so the optimizer knows which prefixes are warm and which are surely cold (written
here, then expired); and it records, per layer, the gaps between requests that reuse the same
content, so TTLs are chosen from the share of observed gaps that fall within each TTL rather than
from an average. Without a state the optimizer falls back to the volatility hints.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from promptcache.blocks import Reuse
from promptcache.clock import Clock, WallClock
from promptcache.limits import TTL_SECONDS
from promptcache.prompt import Prompt

__all__ = ["CacheEntry", "CacheState"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheEntry:
    """A prefix this process believes the provider holds."""

    fingerprint: str
    written_at: float
    refreshed_at: float
    ttl: str
    tokens: int
    #: When the entry can first be read: the provider makes a write readable only once the
    #: response that wrote it has started, so concurrent requests each pay their own write.
    readable_at: float = 0.0

    @property
    def expires_at(self) -> float:
        return self.refreshed_at + TTL_SECONDS[self.ttl]

    def warm(self, now: float) -> bool:
        """Readable now: written, its response started, and not expired."""
        return self.readable_at <= now < self.expires_at

    def pending(self, now: float) -> bool:
        """Being written by a request whose response has not started yet."""
        return now < self.readable_at


class CacheState:
    """Per-process memory of cache writes and of each layer's reuse intervals.

    ``min_samples`` gaps must be observed before they override a layer's hints.
    ``response_latency`` is the expected time from sending a request to the start of its
    response: a prefix written by a request in flight is pending until then (not readable), and
    gaps shorter than it are concurrency, not reuse, so they are not counted as reuse gaps.
    """

    def __init__(self, *, clock: Clock | None = None, max_entries: int = 100_000,
                 max_gaps: int = 256, min_samples: int = 3,
                 response_latency: float = 1.0) -> None:
        self.response_latency = response_latency
        self.clock: Clock = clock if clock is not None else WallClock()
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._max_entries = max_entries
        self._gaps: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=max_gaps))
        self._last_seen: dict[tuple[str, str], float] = {}
        self._sightings: dict[str, int] = defaultdict(int)
        self._distinct: dict[str, set[str]] = defaultdict(set)
        self._min_samples = min_samples
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.clock.now()

    # -- entries -------------------------------------------------------------------------------

    def entry(self, fingerprint: str) -> CacheEntry | None:
        with self._lock:
            return self._entries.get(fingerprint)

    def warm_positions(self, fingerprints: Iterable[str], now: float) -> dict[int, CacheEntry]:
        """Positions whose prefix is held by an unexpired entry, by index."""
        with self._lock:
            out = {}
            for i, fp in enumerate(fingerprints):
                e = self._entries.get(fp)
                if e is not None and e.warm(now):
                    out[i] = e
            return out

    def pending_positions(self, fingerprints: Iterable[str], now: float) -> set[int]:
        """Positions whose prefix a request in flight is writing (not readable yet)."""
        with self._lock:
            return {i for i, fp in enumerate(fingerprints)
                    if (e := self._entries.get(fp)) is not None and e.pending(now)}

    def is_surely_cold(self, fingerprint: str, now: float) -> bool:
        """True when this process wrote the prefix and its TTL has run out since the last use."""
        e = self.entry(fingerprint)
        return e is not None and not e.warm(now)

    def record_write(self, fingerprint: str, ttl: str, tokens: int, now: float,
                     *, readable_at: float | None = None) -> None:
        """Remember a write sent at ``now``; readable from ``readable_at`` (default: after the
        response latency, i.e. the request is still in flight)."""
        if readable_at is None:
            readable_at = now + self.response_latency
        with self._lock:
            old = self._entries.pop(fingerprint, None)
            if old is not None and (old.warm(now) or old.pending(now)):
                ttl = ttl if TTL_SECONDS[ttl] >= TTL_SECONDS[old.ttl] else old.ttl
                entry = CacheEntry(fingerprint=fingerprint, written_at=old.written_at,
                                   refreshed_at=now, ttl=ttl, tokens=tokens,
                                   readable_at=min(old.readable_at, readable_at))
            else:
                entry = CacheEntry(fingerprint=fingerprint, written_at=now, refreshed_at=now,
                                   ttl=ttl, tokens=tokens, readable_at=readable_at)
            self._entries[fingerprint] = entry
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def forget(self, fingerprint: str) -> None:
        """Drop an entry (e.g. after a response showed it was not read)."""
        with self._lock:
            self._entries.pop(fingerprint, None)

    # -- reuse observations --------------------------------------------------------------------

    def observe(self, prompt: Prompt, fingerprints: tuple[str, ...], now: float) -> None:
        """Record that ``prompt`` was sent at ``now``: one sighting of each of its layers."""
        with self._lock:
            for layer in prompt.layers:
                if layer.start == layer.stop:
                    continue
                # A conversation is identified by its first block (it grows); others by their end.
                anchor = fingerprints[layer.start if layer.append_only else layer.stop - 1]
                key = (layer.name, anchor)
                last = self._last_seen.get(key)
                if last is not None and now - last >= self.response_latency:
                    self._gaps[layer.name].append(now - last)
                self._last_seen[key] = now
                self._sightings[layer.name] += 1
                distinct = self._distinct[layer.name]
                if len(distinct) < 10_000:
                    distinct.add(anchor)

    def observed_reuse(self, layer: str, hint: Reuse) -> Reuse:
        """The layer's Reuse from observation where there is enough of it, else ``hint``."""
        with self._lock:
            gaps = tuple(self._gaps.get(layer, ()))
            if len(gaps) < self._min_samples:
                return hint
            distinct = len(self._distinct.get(layer, ()))
            uses = hint.uses
            if distinct >= 2:
                uses = max(1.0, self._sightings[layer] / distinct)
            return Reuse(uses=uses, interval=hint.interval, gaps=gaps)

    def snapshot(self) -> Mapping[str, CacheEntry]:
        with self._lock:
            return dict(self._entries)
