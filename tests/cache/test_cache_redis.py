"""The Redis backend and warm-prefix registry against a real redis-server."""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import pytest

from promptcache.cache import (
    CacheUnavailableWarning,
    InProcessRegistry,
    RedisBackend,
    RedisRegistry,
    cache_client,
)
from promptcache.errors import MissingDependencyError
from tests._redis import RedisServer
from tests._stub_servers import ANSWER, StubServer

pytestmark = pytest.mark.redis

ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Capital of France?"}],
}


@pytest.fixture(scope="module")
def server() -> Iterator[StubServer]:
    with StubServer() as s:
        yield s


def _wait_until(done: Callable[[], bool], within: float = 10.0) -> None:
    """Poll ``done`` until true; fail after ``within`` s (far past the 0.5 s TTLs used here)."""
    end = time.monotonic() + within
    while not done():
        assert time.monotonic() < end, "the entry never expired"
        time.sleep(0.05)


def test_round_trip_and_native_expiry(redis_url: str) -> None:
    cache = RedisBackend(redis_url)
    cache.set("a", b"1", ttl=0.5)  # room for a loaded box between this set and the get below
    cache.set("b", b"2")
    assert cache.get("a") == b"1"
    _wait_until(lambda: cache.get("a") is None)
    assert cache.get("b") == b"2"
    cache.clear()
    assert cache.get("b") is None
    cache.close()


def test_a_client_is_served_across_backend_instances(redis_url: str, server: StubServer) -> None:
    with (
        anthropic.Anthropic(api_key="sk-x", base_url=server.url, max_retries=0) as one,
        anthropic.Anthropic(api_key="sk-x", base_url=server.url, max_retries=0) as two,
    ):
        cache_client(one, backend=RedisBackend(redis_url))
        cache_client(two, backend=RedisBackend(redis_url))
        before = server.total_hits
        one.messages.create(**ASK)
        assert two.messages.create(**ASK).content[0].text == ANSWER  # type: ignore[union-attr]
        assert server.total_hits == before + 1


def test_calls_succeed_when_redis_stops_mid_run(own_redis_server: RedisServer, server: StubServer) -> None:
    backend = RedisBackend(own_redis_server.url, retry_after=60)
    with anthropic.Anthropic(api_key="sk-x", base_url=server.url, max_retries=0) as client:
        cache_client(client, backend=backend)
        client.messages.create(**ASK)
        before = server.total_hits
        client.messages.create(**ASK)
        assert server.total_hits == before
        own_redis_server.stop()
        with pytest.warns(CacheUnavailableWarning, match="unreachable"):
            reply = client.messages.create(**ASK)
        assert reply.content[0].text == ANSWER  # type: ignore[union-attr]
        reply = client.messages.create(**ASK)  # no second warning in the same outage
        assert server.total_hits == before + 2


def test_missing_redis_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "promptcache\[redis\]"'):
        RedisBackend()


def test_in_process_registry_is_single_flight() -> None:
    registry = InProcessRegistry()
    writes: list[int] = []

    def write() -> str:
        writes.append(1)
        time.sleep(0.1)
        return "ok"

    outcomes: list[Any] = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(registry.warm_once("fp", ttl=300, write=write)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(writes) == 1
    assert sum(o.wrote for o in outcomes) == 1
    assert all(o.entry.fingerprint == "fp" for o in outcomes)


def test_registry_entries_expire_with_the_provider_ttl(redis_url: str) -> None:
    registry = RedisRegistry(redis_url)
    entry = registry.mark_warm("fp", ttl=300, written_at=time.time() - 299.5)
    assert registry.get("fp") == entry
    _wait_until(lambda: registry.get("fp") is None)


def test_redis_registry_is_single_flight_across_processes(redis_url: str) -> None:
    from tests._cache_workers import warm_once

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:
        wrote = pool.starmap(warm_once, [(redis_url, "fp-1", "writes")] * 6)
    import redis

    counter = redis.Redis.from_url(redis_url)
    assert int(counter.get("writes") or 0) == 1
    counter.close()
    assert sorted(wrote) == [False] * 5 + [True]


def test_a_failed_writer_hands_over_to_a_waiting_worker(redis_url: str) -> None:
    registry = RedisRegistry(redis_url)

    def broken() -> None:
        raise RuntimeError("provider said 500")

    with pytest.raises(RuntimeError):
        registry.warm_once("fp-2", ttl=300, write=broken)
    outcome = registry.warm_once("fp-2", ttl=300, write=lambda: "second try")
    assert outcome.wrote and outcome.value == "second try"


def test_a_database_number_and_a_password_in_the_url_are_honoured(own_redis_server: RedisServer) -> None:
    import redis

    admin = redis.Redis.from_url(own_redis_server.url)
    admin.config_set("requirepass", "s3cret")
    admin.close()
    url = f"redis://:s3cret@127.0.0.1:{own_redis_server.port}/3"
    cache = RedisBackend(url)
    cache.set("k", b"v")
    assert cache.get("k") == b"v"
    direct = redis.Redis.from_url(url)
    assert direct.get("promptcache:response:k") == b"v"
    assert redis.Redis.from_url(f"redis://:s3cret@127.0.0.1:{own_redis_server.port}/0").get(
        "promptcache:response:k"
    ) is None
    direct.close()
    cache.close()


def test_a_wrong_password_is_an_outage_not_an_error(own_redis_server: RedisServer) -> None:
    import redis

    admin = redis.Redis.from_url(own_redis_server.url)
    admin.config_set("requirepass", "s3cret")
    admin.close()
    cache = RedisBackend(f"redis://:wrong@127.0.0.1:{own_redis_server.port}/0")
    with pytest.warns(CacheUnavailableWarning):
        assert cache.get("k") is None
    cache.close()


@pytest.mark.parametrize("prefix", ["acme:", "*", "ac?e:", "a[c]me:", "ac[me:", "x\\y:"])
def test_clear_removes_only_keys_under_its_own_prefix(redis_url: str, prefix: str) -> None:
    import redis

    raw = redis.Redis.from_url(redis_url)
    others = ["acme:x:", "acmex:", "abme:", "other:", "ac[me", "xy:", "x\\\\y:"]
    backends = {p: RedisBackend(redis_url, prefix=p) for p in [prefix, *others] if p != prefix}
    mine = RedisBackend(redis_url, prefix=prefix)
    for b in [mine, *backends.values()]:
        b.set("k", b"v")
    mine.clear()
    assert mine.get("k") is None
    for p, b in backends.items():
        # a neighbour whose name starts with this prefix is under it: that is what a prefix is
        expected = None if p.startswith(prefix) else b"v"
        assert b.get("k") == expected, f"clear() of {prefix!r} and {p!r}"
    raw.close()


# Each round trip through the proxy costs at least 2 * HOP; a fresh connection to database 1 costs
# two (SELECT, then the command), at least 4 * HOP. DEADLINE sits between one and two round trips:
# a timeout per socket read would let every read through and return the stored value, one
# deadline for the whole operation cannot (time.sleep never returns early), however loaded the box.
HOP = 0.075
DEADLINE = 0.2
HUNG_BOUND = DEADLINE + 5.0  # a paused Redis must cost about a deadline, not hang the call


@pytest.mark.parametrize("fault", ["paused", "delayed"])
def test_each_operation_has_one_deadline(own_redis_server: RedisServer, fault: str) -> None:
    """``socket_timeout`` bounds a whole get or set (connect, replies, no retries)."""
    import redis

    from tests._redis import DelayProxy

    assert 2 * HOP < DEADLINE < 4 * HOP
    direct = redis.Redis.from_url(own_redis_server.url.rsplit("/", 1)[0] + "/1")
    proxy = DelayProxy(own_redis_server.port, HOP)
    base = proxy.url if fault == "delayed" else own_redis_server.url
    backend = RedisBackend(base.rsplit("/", 1)[0] + "/1", socket_timeout=DEADLINE, retry_after=0.0)
    for i in range(3):
        direct.set(f"{backend.prefix}k{i}", b"stored")
    direct.close()
    if fault == "paused":
        own_redis_server.pause()
    try:
        with pytest.warns(CacheUnavailableWarning):
            for i in range(3):
                start = time.monotonic()
                assert backend.get(f"k{i}") is None  # gave up: a miss, though Redis holds the value
                assert backend.set(f"k{i}", b"v") is None  # gave up without raising
                assert time.monotonic() - start < 2 * HUNG_BOUND
    finally:
        own_redis_server.resume()
        proxy.close()
        backend.close()
