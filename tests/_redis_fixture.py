"""A real ``redis-server`` on a free loopback port, for tests (import the fixtures you need).

The server comes from ``benchmarks/redis_server.py``, the one launcher the benchmarks use too.
Without the binary, tests skip locally with the reason, but fail under ``CI``, where
``.ci/run`` installs it: a CI run that silently skipped every Redis test would prove nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from redis_server import DelayProxy, RedisServer, RedisUnavailable
from redis_server import start_redis as _start

__all__ = ["DelayProxy", "RedisServer", "own_redis_server", "redis_server", "redis_url", "start_redis"]


def start_redis() -> RedisServer:
    """A running server, or a skip (a failure under ``CI``) when there is none."""
    try:
        return _start()
    except RedisUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"{e}; CI must provide it.")
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """A flushed database on the shared server."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.close()
    yield redis_server.url


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A server of this test's own, which the test may stop, kill, pause or restart."""
    server = start_redis()
    yield server
    server.stop()
