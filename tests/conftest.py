"""The fixtures the test folders share; tests get them by injection, never by importing them.

A fixture imported by name into a test module is a second copy pytest registers there, which is
how ``tests/_redis_fixture.py`` ended up imported, and re-exported, by five modules.
``tests/core/test_tests_layout.py`` fails if a test imports one again. Plain helpers (no fixtures)
live in ``tests/helpers.py`` and the ``tests/_*.py`` modules.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from promptcache.clock import ManualClock
from promptcache.testing import AnthropicServer, GeminiServer, OpenAIServer
from tests._redis import RedisServer, running_redis


@pytest.fixture
def clock() -> ManualClock:
    """A clock the test moves by hand (a module that needs another start time defines its own)."""
    return ManualClock()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """One real ``redis-server`` for the module; a skip without the binary (a failure under CI)."""
    with running_redis() as server:
        yield server


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
    with running_redis() as server:
        yield server


# -- loopback provider servers, each on its own manual clock (shared by several test areas) -----


@pytest.fixture
def anthropic_server() -> Iterator[AnthropicServer]:
    with AnthropicServer(clock=ManualClock()) as server:
        yield server


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    with OpenAIServer(clock=ManualClock()) as server:
        yield server


@pytest.fixture
def gemini_server() -> Iterator[GeminiServer]:
    with GeminiServer(clock=ManualClock()) as server:
        yield server
