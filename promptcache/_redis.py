"""Redis clients with one deadline per call, shared by the fleet's state store and the response cache.

redis-py's ``socket_timeout`` bounds each socket read, not a call: a pipeline of ten replies, a
connection's handshake (``CLIENT SETINFO``, ``SELECT``) and its default three retries each get the
whole timeout again, so at a 3 ms packet delay one planner call added 115 ms. Here every call runs
under :func:`deadline`: the connection arms its socket with what is left of the call's budget
before each send, read and connect, and fails with ``redis.TimeoutError`` once it is spent. Clients
made by :func:`client_from_url` never retry (the callers' outage guards decide what happens next).
A caller's own ``redis.Redis`` keeps its own timeouts: promptcache does not change its pool.
"""

from __future__ import annotations

import contextlib
import encodings.idna  # noqa: F401  # socket's first host lookup imports it: 13 ms, not in a deadline
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from promptcache.errors import MissingDependencyError

__all__ = ["client_from_url", "deadline", "import_redis", "time_left"]

_DEADLINE: ContextVar[float | None] = ContextVar("promptcache_redis_deadline", default=None)
_CLASSES: dict[Any, Any] = {}


def import_redis() -> Any:
    """The ``redis`` module, or a ``MissingDependencyError`` naming the extra to install."""
    try:
        import redis
    except ImportError as e:
        raise MissingDependencyError(
            'promptcache\'s Redis stores need redis-py. Install it with: pip install "promptcache[redis]"'
        ) from e
    return redis


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every Redis operation inside shares one budget of ``seconds`` (nested: the nearer wins)."""
    end = time.monotonic() + seconds
    outer = _DEADLINE.get()
    token = _DEADLINE.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left(cap: float | None) -> float | None:
    """What remains of the current call's budget, at most ``cap``; raises once it is spent.

    Outside :func:`deadline` it is ``cap`` (the client's plain socket timeout).
    """
    end = _DEADLINE.get()
    if end is None:
        return cap
    left = end - time.monotonic()
    if left <= 0:
        raise import_redis().TimeoutError("the call's deadline passed before Redis answered")
    return left if cap is None else min(cap, left)


def _with_deadline(base: Any) -> Any:
    """``base`` (a redis-py connection class) arming its socket from the call's deadline."""
    if base in _CLASSES:
        return _CLASSES[base]

    class DeadlineConnection(base):  # type: ignore[misc]  # redis-py is untyped here
        def _connect(self) -> Any:
            configured: float | None = getattr(self, "socket_connect_timeout", None)
            self.socket_connect_timeout = time_left(configured)
            try:
                return super()._connect()
            finally:
                self.socket_connect_timeout = configured

        def _arm(self) -> None:
            sock = getattr(self, "_sock", None)
            if sock is not None:
                sock.settimeout(time_left(self.socket_timeout))

        def send_packed_command(self, command: Any, check_health: bool = True) -> Any:
            if not getattr(self, "_sock", None):
                self.connect_check_health(check_health=False)
            self._arm()
            return super().send_packed_command(command, check_health)

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            self._arm()
            return super().read_response(*args, **kwargs)

    DeadlineConnection.__name__ = DeadlineConnection.__qualname__ = f"Deadline{base.__name__}"
    _CLASSES[base] = DeadlineConnection
    return DeadlineConnection


def client_from_url(url: str, *, timeout: float) -> Any:
    """A ``redis.Redis`` for ``url`` whose connections honour :func:`deadline`, without retries.

    ``timeout`` is also each socket operation's cap outside a deadline (e.g. ``SCAN`` pages).
    """
    redis = import_redis()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # driver_info=None: no CLIENT SETINFO on connect, one round trip less inside the deadline.
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                  retry=Retry(NoBackoff(), 0), driver_info=None)
    pool = client.connection_pool
    pool.connection_class = _with_deadline(pool.connection_class)
    return client
