"""LangChain's own standard cache suites (``langchain-tests``) against the adapter, on memory,
SQLite and Redis, under this project's ``-W error``; and ``clear()`` scoped to one namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_tests")

from langchain_core.caches import BaseCache
from langchain_core.outputs import Generation
from langchain_tests.integration_tests import AsyncCacheTestSuite, SyncCacheTestSuite

from promptcache.cache import CacheUnavailableWarning, MemoryBackend, RedisBackend, SQLiteBackend
from promptcache.cache.base import CacheBackend
from promptcache.cache.langchain import langchain_cache
from tests._redis import RedisServer

KINDS = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]


def make_backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> CacheBackend:
    if kind == "memory":
        return MemoryBackend()
    if kind == "sqlite":
        return SQLiteBackend(tmp_path / "lc.sqlite3")
    server: RedisServer = request.getfixturevalue("redis_server")
    url = request.getfixturevalue("redis_url")
    assert url == server.url
    # LangChain's semantics are under test here, under -W error, where one deadline missed on a
    # loaded machine would be a warning and a failure: a generous one (the fault tests time it).
    return RedisBackend(url, socket_timeout=5.0)


@pytest.fixture(params=KINDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CacheBackend]:
    made = make_backend(request.param, tmp_path, request)
    yield made
    close = getattr(made, "close", None)
    if close is not None:
        close()


class TestSyncStandardSuite(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, backend: CacheBackend) -> BaseCache:
        return langchain_cache(backend, namespace="standard-sync")  # type: ignore[no-any-return]


class TestAsyncStandardSuite(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self, backend: CacheBackend) -> AsyncIterator[BaseCache]:
        yield langchain_cache(backend, namespace="standard-async")


def test_clear_empties_only_its_own_namespace(backend: CacheBackend) -> None:
    mine, theirs = langchain_cache(backend, namespace="mine"), langchain_cache(backend, namespace="theirs")
    generation = [Generation(text="kept")]
    mine.update("p", "llm", generation)
    theirs.update("p", "llm", generation)
    backend.set("unrelated", b"entry of a wrapped client")
    mine.clear()
    assert mine.lookup("p", "llm") is None
    assert theirs.lookup("p", "llm") == generation
    assert backend.get("unrelated") == b"entry of a wrapped client"


def test_lookups_hit_under_warnings_as_errors(backend: CacheBackend) -> None:
    """LangChain's beta warning on ``loads`` must not turn every lookup into a silent miss."""
    cache = langchain_cache(backend, namespace="w")
    cache.update("p", "llm", [Generation(text="x")])
    assert cache.lookup("p", "llm") == [Generation(text="x")]


def test_an_unreadable_entry_is_a_miss_said_aloud() -> None:
    backend = MemoryBackend()
    cache = langchain_cache(backend, namespace="w")
    cache.update("p", "llm", [Generation(text="x")])
    [key] = list(backend._data)
    backend.set(key, b"not langchain json")
    with pytest.warns(CacheUnavailableWarning, match="could not read"):
        assert cache.lookup("p", "llm") is None


def test_a_failing_backend_is_a_miss_said_aloud() -> None:
    class Broken(MemoryBackend):
        def get(self, key: str) -> Any:
            raise OSError("disk gone")

    cache = langchain_cache(Broken(), namespace="w")
    with pytest.warns(CacheUnavailableWarning, match="disk gone"):
        assert cache.lookup("p", "llm") is None
