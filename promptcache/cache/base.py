"""The ``CacheBackend`` protocol and the process-wide default cache.

Backends store opaque bytes under a hex key, so a backend never needs to know which SDK produced
an entry, and every backend can serve every client.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "HIT_MARKER",
    "CacheBackend",
    "CacheUnavailableWarning",
    "LocalBackend",
    "get_response_cache",
    "mark_hit",
    "set_response_cache",
]


#: The attribute set to True on a response (or replayed stream) the response cache served without
#: calling the API: a chat session or the drop-in wrapper reads it so that such a call is never
#: billed in their statistics.
HIT_MARKER = "_promptcache_hit"


def mark_hit(response: Any) -> Any:
    """``response`` with :data:`HIT_MARKER` set (left as it is if the object refuses it)."""
    with contextlib.suppress(Exception):  # a frozen object: the hit is served, just unmarked
        setattr(response, HIT_MARKER, True)
    return response


class CacheUnavailableWarning(UserWarning):
    """A cache failed (Redis unreachable, an SQLite file damaged, locked or on a full disk, a
    malformed entry); the call goes to the API uncached. Warned once per outage."""


@runtime_checkable
class CacheBackend(Protocol):
    """Where cached responses live.

    ``get``/``set`` are the contract; ``aget``/``aset`` let a networked backend avoid blocking an
    event loop. Local backends answer in microseconds, so they implement the async pair by calling
    the sync one inline (see ``LocalBackend``): a thread hop would cost more than the lookup.
    """

    def get(self, key: str) -> bytes | None:
        """The stored value, or ``None`` on a miss or an expired entry."""
        ...

    def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store ``value``; ``ttl`` in seconds, ``None`` for no expiry."""
        ...

    def delete(self, key: str) -> None:
        """Remove one entry if present."""
        ...

    def clear(self) -> None:
        """Remove every entry."""
        ...

    async def aget(self, key: str) -> bytes | None:
        """``get`` for async callers."""
        ...

    async def aset(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """``set`` for async callers."""
        ...


class LocalBackend:
    """Mixin giving in-process and on-disk backends an inline async pair."""

    def get(self, key: str) -> bytes | None:
        raise NotImplementedError

    def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        raise NotImplementedError

    async def aget(self, key: str) -> bytes | None:
        return self.get(key)

    async def aset(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        self.set(key, value, ttl=ttl)


_default: CacheBackend | None = None
_default_lock = threading.Lock()


def set_response_cache(backend: CacheBackend | None) -> None:
    """Make ``backend`` the cache of every wrapped client that was not given its own.

    The counterpart of LangChain's ``set_llm_cache``; ``None`` turns caching off again.
    """
    global _default
    with _default_lock:
        _default = backend


def get_response_cache() -> CacheBackend | None:
    """The process-wide backend set by ``set_response_cache``, or ``None``."""
    return _default
