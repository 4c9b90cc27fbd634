"""A circuit breaker for a file another process keeps locked: skip it, then probe it cheaply.

SQLite waits up to ``busy_timeout`` for a lock. When another process holds the database with
``locking_mode=EXCLUSIVE`` (or a write that lasts minutes), every read and every write would wait
that long and fail, so each call paid it twice. After one such wait the backend opens the
breaker: calls skip the file (microseconds) for ``backoff`` seconds, then one call probes it
without waiting (``busy_timeout = 0``); a probe that finds it still locked doubles the back-off
(up to ``max_backoff``), one that succeeds closes the breaker. Reads and writes trip apart: in WAL
mode a writer's lock blocks writes while reads go on (a read that waited in vain opens both).
"""

from __future__ import annotations

import threading
import time
from typing import Literal

__all__ = ["Breaker", "Kind"]

Kind = Literal["read", "write"]


class Breaker:
    """Per kind of operation: closed, open until a time, or due for a probe."""

    def __init__(self, backoff: float, max_backoff: float = 30.0) -> None:
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._until: dict[Kind, float] = {}
        self._wait: dict[Kind, float] = {}
        self._lock = threading.Lock()

    def state(self, kind: Kind) -> Literal["closed", "open", "probe"]:
        """``closed``: go ahead; ``open``: skip; ``probe``: try once, without waiting for a lock."""
        until = self._until.get(kind)
        if until is None:
            return "closed"
        return "open" if time.monotonic() < until else "probe"

    def retry_in(self, kind: Kind) -> float:
        return max(0.0, self._until.get(kind, 0.0) - time.monotonic())

    def trip(self, kind: Kind) -> None:
        """A lock wait failed (or a probe found the lock still held): skip for a while.

        A read that cannot get its lock means no write would either: both kinds open.
        """
        with self._lock:
            for k in ("read", "write") if kind == "read" else ("write",):
                wait = self._wait.get(k)
                wait = self.backoff if wait is None else min(self.max_backoff, wait * 2)
                self._wait[k] = wait
                self._until[k] = time.monotonic() + wait

    def close(self, kind: Kind) -> None:
        if kind in self._until:
            with self._lock:
                self._until.pop(kind, None)
                self._wait.pop(kind, None)
