"""A throwaway ``redis-server`` on a free loopback port, and a proxy that delays its packets.

The one launcher the benchmarks (``cost_suite.py``, ``generated.py``, ``bench_response_cache.py``,
``bench_fault_matrix.py``) and the tests (``tests/_redis.py``) share::

    with redis_server() as server:      # RedisUnavailable when the binary is not installed
        use(server.url)
        server.pause()                  # SIGSTOP: a hung server; resume() with SIGCONT
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["DelayProxy", "RedisServer", "RedisUnavailable", "optional_redis", "redis_server",
           "start_redis"]


class RedisUnavailable(RuntimeError):
    """``redis-server`` is not on the PATH, or did not answer ``PING``."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """One running server; the test or benchmark may stop, kill, pause or restart it."""

    port: int
    process: subprocess.Popen[bytes]
    binary: str = field(default="redis-server", repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Terminate the server (SIGCONT first, so a paused one can exit)."""
        if self.process.poll() is None:
            self.resume()
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as in a crash."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def restart(self) -> None:
        """A fresh, empty server on the same port (after ``stop`` or ``kill``)."""
        self.stop()
        self.process = _spawn(self.binary, self.port)
        _wait_for_ping(self.port, self.process)


def _spawn(binary: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for_ping(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    import redis

    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    process.kill()
                    raise RedisUnavailable(f"redis-server did not answer PING on port {port}.") from None
                time.sleep(0.02)
    finally:
        client.close()


def start_redis() -> RedisServer:
    """A running server; the caller stops it (prefer :func:`redis_server`)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisUnavailable("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    process = _spawn(binary, port)
    _wait_for_ping(port, process)
    return RedisServer(port=port, process=process, binary=binary)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running server for the ``with`` block, stopped after it whatever happens inside."""
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def optional_redis(*, enabled: bool = True) -> Iterator[str | None]:
    """A server's URL for the ``with`` block, or ``None`` when disabled or not installed."""
    if not enabled or shutil.which("redis-server") is None:
        yield None
        return
    with redis_server() as server:
        yield server.url


class DelayProxy:
    """A loopback TCP proxy to ``port`` that holds every chunk ``delay`` seconds each way.

    What ``tc qdisc ... netem delay 3ms`` does to a link, without root: a round trip costs
    ``2 * delay`` more. ``url`` is the proxy's ``redis://`` address.
    """

    def __init__(self, port: int, delay: float) -> None:
        self.target = port
        self.delay = delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._sockets.append(s)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = source.recv(65536)
                if not data:
                    break
                time.sleep(self.delay)
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for s in self._sockets:
            with contextlib.suppress(OSError):
                s.close()

    def __enter__(self) -> DelayProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
