"""An in-process LRU response cache, bounded by entry count and by bytes."""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ..errors import CacheBackendError
from .base import LocalBackend

__all__ = ["ENTRY_OVERHEAD", "MemoryBackend"]

#: Bytes one entry costs beyond its key and value objects: the ``(value, deadline)`` tuple, the
#: deadline float, and the ordered dict's slot and links (measured ~90 with tracemalloc; the
#: dict's spare capacity comes on top). Counted so that a million tiny entries stay within
#: ``max_bytes`` too, not only large ones.
ENTRY_OVERHEAD = 200


def _cost(key: str, value: bytes) -> int:
    """What an entry holds in memory: its key and value objects (headers included) and overhead."""
    return sys.getsizeof(key) + sys.getsizeof(value) + ENTRY_OVERHEAD


class MemoryBackend(LocalBackend):
    """Thread-safe LRU of byte values with optional per-entry expiry.

    Values are bytes, never live objects, so a caller mutating the response it got back cannot
    change what the next caller sees. ``max_bytes`` bounds what the entries hold in memory: keys,
    values and :data:`ENTRY_OVERHEAD` per entry, not the values alone.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 256 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise CacheBackendError("MemoryBackend needs max_entries and max_bytes of at least 1.")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._data: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            value, deadline = found
            if deadline is not None and self._clock() >= deadline:
                del self._data[key]
                self._bytes -= _cost(key, value)
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        cost = _cost(key, value)
        if cost > self.max_bytes:
            return  # larger than the whole cache: storing it would evict everything else
        deadline = None if ttl is None else self._clock() + ttl
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= _cost(key, old[0])
            self._data[key] = (value, deadline)
            self._bytes += cost
            while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
                gone, (evicted, _) = self._data.popitem(last=False)
                self._bytes -= _cost(gone, evicted)

    def delete(self, key: str) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= _cost(key, old[0])

    def delete_prefix(self, prefix: str) -> None:
        """Remove every entry whose key starts with ``prefix`` (one namespace of the adapter)."""
        with self._lock:
            for key in [k for k in self._data if k.startswith(prefix)]:
                self._bytes -= _cost(key, self._data.pop(key)[0])

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def held_bytes(self) -> int:
        """What the entries are counted to hold (keys, values and overhead), at most ``max_bytes``."""
        return self._bytes
