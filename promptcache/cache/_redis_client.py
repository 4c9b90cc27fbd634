"""Lazy import of redis-py, shared by the Redis response cache and the warm-prefix registry."""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any

from ..errors import MissingDependencyError
from .base import CacheUnavailableWarning

__all__ = ["OutageGuard", "import_redis", "redis_from_url"]


def import_redis() -> Any:
    """The ``redis`` module, or a ``MissingDependencyError`` naming the extra to install."""
    try:
        import redis
    except ImportError as e:
        raise MissingDependencyError(
            'The Redis backend needs redis-py. Install it with: pip install "promptcache[redis]"'
        ) from e
    return redis


def redis_from_url(url: str, *, socket_timeout: float) -> Any:
    """A redis-py client with short timeouts, so an outage costs milliseconds, not a hang."""
    redis = import_redis()
    return redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout)


class OutageGuard:
    """Warn once per Redis outage and skip Redis for ``retry_after`` seconds after a failure.

    Shared by the response cache and the warm-prefix registry: both must degrade to "no shared
    state" rather than fail the call that uses them.
    """

    def __init__(self, what: str, *, retry_after: float) -> None:
        redis = import_redis()
        self.errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.response_error: type[BaseException] = redis.ResponseError
        """Redis answered, but refused the command (e.g. ``WRONGTYPE``): a bad entry, not an outage."""
        self.what = what
        self.retry_after = retry_after
        self._down_until = 0.0
        self._warned = False
        self._lock = threading.Lock()

    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self._down_until = time.monotonic() + self.retry_after
            first, self._warned = not self._warned, True
        if first:
            warnings.warn(
                f"{self.what} is unreachable ({error}); promptcache carries on without it and "
                f"retries every {self.retry_after:g} s.",
                CacheUnavailableWarning,
                stacklevel=4,
            )

    def malformed(self, key: str, problem: object) -> None:
        """An entry that cannot be read is treated as absent: say so, but Redis stays in use."""
        warnings.warn(
            f"{self.what} holds a malformed entry {key!r} ({problem}); promptcache treats it as "
            "absent.",
            CacheUnavailableWarning,
            stacklevel=4,
        )

    def ok(self) -> None:
        if self._warned:
            with self._lock:
                self._warned = False  # the next outage warns again
