"""A response cache in Redis, for many processes on many machines.

Redis expires entries itself (``SET ... PX``); cap its memory with Redis's own ``maxmemory`` and
an ``allkeys-lru`` policy. The cache must never turn a working call into a failure, so when Redis
is unreachable every operation degrades to a miss or a no-op, with one warning per outage, and
Redis is not asked again for ``retry_after`` seconds. ``socket_timeout`` is each operation's
deadline as a whole (connecting included, no retries), not a timeout per socket read: a paused or
slowed Redis costs a call at most that, once per ``retry_after``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ._redis_client import FastGet, OutageGuard, deadline, redis_from_url

__all__ = ["RedisBackend"]


class RedisBackend:
    """Response cache entries under ``<prefix><key>`` in one Redis database."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        client: Any = None,
        prefix: str = "promptcache:response:",
        socket_timeout: float = 0.25,
        retry_after: float = 5.0,
    ) -> None:
        self._guard = OutageGuard("The Redis response cache", retry_after=retry_after)
        self._client = client if client is not None else redis_from_url(url, socket_timeout=socket_timeout)
        self._fast = None if client is not None else FastGet.from_url(url, socket_timeout=socket_timeout)
        self.prefix = prefix
        self.socket_timeout = socket_timeout

    def get(self, key: str) -> bytes | None:
        guard = self._guard
        if not guard.available():
            return None
        try:
            if self._fast is not None:
                value: Any = self._fast.get(self.prefix + key)
            else:
                with deadline(self.socket_timeout):
                    value = self._client.get(self.prefix + key)
        except guard.response_error as e:
            guard.malformed(self.prefix + key, e)
            return None
        except guard.errors as e:
            guard.failed(e)
            return None
        guard.ok()
        if value is not None and not isinstance(value, bytes):
            guard.malformed(self.prefix + key, f"a {type(value).__name__}, not bytes")
            return None
        return value

    def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        guard = self._guard
        if not guard.available():
            return
        px = None if ttl is None else max(1, int(ttl * 1000))
        try:
            with deadline(self.socket_timeout):
                self._client.set(self.prefix + key, value, px=px)
        except guard.errors as e:
            guard.failed(e)
            return
        guard.ok()

    def delete(self, key: str) -> None:
        if not self._guard.available():
            return
        try:
            with deadline(self.socket_timeout):
                self._client.delete(self.prefix + key)
        except self._guard.errors as e:
            self._guard.failed(e)

    def clear(self) -> None:
        """Delete every key under ``prefix`` (SCAN, not KEYS, so Redis is never blocked)."""
        self.delete_prefix("")

    def delete_prefix(self, prefix: str) -> None:
        """Delete every entry whose key starts with ``prefix`` (one namespace of the adapter)."""
        if not self._guard.available():
            return
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix + prefix) + "*"
        try:
            cursor: Any = 0
            while True:
                with deadline(max(self.socket_timeout, 1.0)):  # one page of SCAN and its DEL
                    cursor, names = self._client.scan(cursor=cursor, match=pattern, count=1000)
                    if names:
                        self._client.delete(*names)
                if not cursor:
                    break
        except self._guard.errors as e:
            self._guard.failed(e)

    async def aget(self, key: str) -> bytes | None:
        """``get`` on a worker thread, so a slow Redis never stalls the event loop."""
        return await asyncio.to_thread(self.get, key)

    async def aset(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        await asyncio.to_thread(self.set, key, value, ttl=ttl)

    def close(self) -> None:
        if self._fast is not None:
            self._fast.close()
        self._client.close()
