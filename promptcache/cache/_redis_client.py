"""Lazy import of redis-py, shared by the Redis response cache and the warm-prefix registry."""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
import weakref
from typing import Any
from urllib.parse import unquote, urlsplit

from .._redis import client_from_url, deadline, import_redis
from ..log import degraded
from .base import CacheUnavailableWarning

__all__ = ["FastGet", "OutageGuard", "deadline", "import_redis", "redis_from_url"]


def redis_from_url(url: str, *, socket_timeout: float) -> Any:
    """A redis-py client whose calls honour :func:`deadline` (``socket_timeout`` each), no retries,
    so an outage costs milliseconds, not a hang."""
    return client_from_url(url, timeout=socket_timeout)


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
        degraded(f"{self.what} is unreachable ({error}); skipped for {self.retry_after:g} s.",
                 cause="redis-unavailable")
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


class FastGet:
    """``GET`` over one plain socket per thread: the response cache's hit path, lean.

    redis-py spends ~4x the loopback round trip of a ``GET`` on its connection pool, retries and
    event hooks; a hit is one ``GET``, so it gets this instead. Only plain ``redis://`` URLs
    (host, port, optional user/password, database number) use it; anything else (TLS, Unix
    sockets, query options, a caller's own client) goes through redis-py. Every error closes the
    socket, so a reply is never read out of step; the caller's ``OutageGuard`` decides what next.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        db: int,
        username: str | None,
        password: str | None,
        socket_timeout: float,
    ) -> None:
        self._all: list[_Conn] = []
        self._all_lock = threading.Lock()
        # Close the sockets when the backend is dropped unclosed, as redis-py's pool does.
        weakref.finalize(self, _close_all, self._all)
        self._address = (host, port)
        self._db = db
        self._auth = (username, password)
        self._timeout = socket_timeout
        self._local = threading.local()
        self._response_error: type[Exception] = import_redis().ResponseError

    @classmethod
    def from_url(cls, url: str, *, socket_timeout: float) -> FastGet | None:
        """A ``FastGet`` for a plain ``redis://`` URL, else ``None`` (use redis-py)."""
        parts = urlsplit(url)
        if parts.scheme != "redis" or parts.query or parts.fragment or not parts.hostname:
            return None
        path = parts.path.strip("/")
        if path and not path.isdigit():
            return None
        return cls(
            parts.hostname,
            parts.port or 6379,
            db=int(path or 0),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            socket_timeout=socket_timeout,
        )

    def _connect(self, end: float) -> _Conn:
        sock = socket.create_connection(self._address, timeout=_left(end))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(sock)
        try:
            username, password = self._auth
            if password is not None:
                args = [b"AUTH"] + ([username.encode()] if username else []) + [password.encode()]
                self._command(conn, args, end)
            if self._db:
                self._command(conn, [b"SELECT", str(self._db).encode()], end)
        except self._response_error as e:  # a refused AUTH or SELECT: Redis is unusable, not one key
            sock.close()
            raise ConnectionError(f"Redis refused the connection setup: {e}") from e
        except BaseException:
            sock.close()
            raise
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _command(self, conn: _Conn, args: list[bytes], end: float) -> bytes | None:
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        conn.sock.settimeout(_left(end))
        conn.sock.sendall(b"".join(out))
        line = conn.readline(end)
        kind = line[:1]
        if kind == b"$":
            size = int(line[1:-2])
            if size < 0:
                return None
            return conn.read(size + 2, end)[:-2]
        if kind == b"+":
            return line[1:-2]
        if kind == b"-":
            raise self._response_error(line[1:-2].decode("utf-8", "replace"))
        raise self._response_error(f"unexpected reply to {args[0].decode()}: {line[:40]!r}")

    def get(self, key: str) -> bytes | None:
        """``GET key`` within one deadline of ``socket_timeout`` for the whole call."""
        end = time.monotonic() + self._timeout
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            conn = local.conn = self._connect(end)
            local.pid = os.getpid()
        try:
            return self._command(conn, [b"GET", key.encode()], end)
        except BaseException:
            local.conn = None  # the stream may be out of step: never reuse it
            conn.sock.close()
            raise

    def close(self) -> None:
        """Close every socket this opened, in any thread."""
        with self._all_lock:
            _close_all(self._all)
        self._local = threading.local()


def _left(end: float) -> float:
    """Seconds left before ``end``; ``TimeoutError`` (an ``OSError``) once none are."""
    left = end - time.monotonic()
    if left <= 0:
        raise TimeoutError("Redis did not answer within the call's deadline")
    return left


class _Conn:
    """One socket and what has been read from it but not consumed yet."""

    __slots__ = ("buf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _fill(self, end: float) -> None:
        self.sock.settimeout(_left(end))  # each recv gets what is left, not a fresh timeout
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("Redis closed the connection")
        self.buf += data

    def readline(self, end: float) -> bytes:
        while (at := self.buf.find(b"\r\n")) < 0:
            self._fill(end)
        line = bytes(self.buf[: at + 2])
        del self.buf[: at + 2]
        return line

    def read(self, size: int, end: float) -> bytes:
        while len(self.buf) < size:
            self._fill(end)
        data = bytes(self.buf[:size])
        del self.buf[:size]
        return data

    def close(self) -> None:
        self.sock.close()


def _close_all(conns: list[_Conn]) -> None:
    while conns:
        conns.pop().close()
