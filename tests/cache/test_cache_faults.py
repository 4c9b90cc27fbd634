"""A failing cache never fails or stalls a call: real SQLite files, a real redis-server, the real
anthropic client against ``promptcache.testing.AnthropicServer``.

Every call below must return the API's answer within ``BOUND`` seconds. The expected costs (see
docs/response-cache.md): a damaged page, a full disk or Redis down cost microseconds; a held
SQLite lock costs the busy timeout (0.25 s); a paused Redis costs its socket timeout (0.25 s) once
per ``retry_after``; a registry writer killed holding its lock costs at most ``lock_ttl``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from promptcache.cache import (
    CacheUnavailableWarning,
    RedisBackend,
    RedisRegistry,
    SQLiteBackend,
    cache_client,
)
from promptcache.cache.base import CacheBackend
from promptcache.testing import AnthropicServer
from tests._redis import RedisServer

BOUND = 2.0  # seconds; generous for a loaded CI machine
REPLY = "Paris."
TESTS = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def server() -> Iterator[AnthropicServer]:
    with AnthropicServer(reply=REPLY) as s:
        # The first call of a process imports the SDK's lazy modules and the fake's simulator,
        # which is not what the bounds below measure.
        with anthropic.Anthropic(api_key="sk-warm", base_url=s.url, max_retries=0) as client:
            client.messages.create(
                model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "warm"}]
            )
        yield s


@contextlib.contextmanager
def claude(server: AnthropicServer, backend: CacheBackend) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key="sk-faults", base_url=server.url, max_retries=0) as client:
        yield cache_client(client, backend=backend)


def ask(client: anthropic.Anthropic, question: int) -> float:
    """One call; returns its duration after checking that it got the API's answer in time."""
    start = time.perf_counter()
    reply = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64,
        messages=[{"role": "user", "content": f"Question {question}?"}],
    )
    elapsed = time.perf_counter() - start
    assert reply.content[0].text == REPLY  # type: ignore[union-attr]
    assert elapsed < BOUND, f"call {question} took {elapsed:.2f} s"
    return elapsed


def fill(backend: SQLiteBackend, count: int = 200) -> None:
    """Filler entries so the file spans many pages."""
    for i in range(count):
        backend.set(f"filler-{i}", os.urandom(2_000))


def damage(path: Path) -> None:
    """Overwrite pages 3 to 40 of a checkpointed database with 0xff bytes."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    raw = bytearray(path.read_bytes())
    raw[4096 * 3 : 4096 * 40] = b"\xff" * (4096 * 37)
    path.write_bytes(bytes(raw))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- SQLite ------------------------------------------------------------------------------------


def test_damaged_pages_make_misses_not_failures(server: AnthropicServer, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    backend = SQLiteBackend(path)
    with claude(server, backend) as client:
        for i in range(30):
            ask(client, i)
        fill(backend)
        backend.close()  # the next calls reopen the file and read the damage
        damage(path)
        with pytest.warns(CacheUnavailableWarning, match="corrupt"):
            for i in range(60):
                ask(client, i)


def test_a_reset_never_overwrites_an_earlier_moved_aside_copy(
    server: AnthropicServer, tmp_path: Path
) -> None:
    path = tmp_path / "c.sqlite3"
    backend = SQLiteBackend(path, on_corrupt="reset")
    digests: list[str] = []
    with claude(server, backend) as client:
        for round_ in range(2):
            fill(backend)
            backend.close()
            damage(path)
            digests.append(digest(path))
            with pytest.warns(CacheUnavailableWarning, match="reset"):
                for i in range(20):
                    ask(client, i)
            assert len(backend.moved_aside) == round_ + 1
        ask(client, 100)
        before = len(server.requests)
        ask(client, 100)
        assert len(server.requests) == before  # the fresh cache works
    first, second = backend.moved_aside
    assert first != second
    assert [digest(first), digest(second)] == digests
    assert sorted(tmp_path.glob("c.sqlite3.corrupt-*")) == sorted([first, second])


@contextlib.contextmanager
def small_tmpfs(root: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs root); skips where mounting is not allowed."""
    mount = root / "tmpfs"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.decode().strip()}); max_page_count covers it")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill_disk(directory: Path) -> None:
    with contextlib.suppress(OSError), open(directory / "filler", "wb") as f:
        while True:
            f.write(b"\0" * 65536)
            f.flush()


@pytest.mark.parametrize("how", ["tmpfs", "max_page_count"])
def test_a_full_disk_is_not_corruption(how: str, server: AnthropicServer, tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        directory = stack.enter_context(small_tmpfs(tmp_path)) if how == "tmpfs" else tmp_path
        path = directory / "c.sqlite3"
        backend = SQLiteBackend(path, on_corrupt="reset")
        stack.callback(backend.close)
        client = stack.enter_context(claude(server, backend))
        for i in range(20):
            ask(client, i)
        if how == "tmpfs":
            fill_disk(directory)
        else:  # SQLite's documented way to provoke SQLITE_FULL without a small filesystem
            pages = backend._conn().execute("PRAGMA page_count").fetchone()[0]
            backend._conn().execute(f"PRAGMA max_page_count = {pages}")
        before = len(server.requests)
        with pytest.warns(CacheUnavailableWarning, match="full"):
            for i in range(20, 60):
                ask(client, i)
        assert len(server.requests) == before + 40
        for i in range(20):  # everything committed before the disk filled is still served
            ask(client, i)
        assert len(server.requests) == before + 40
        assert backend.moved_aside == []
        assert list(directory.glob("*.corrupt*")) == []
        if how == "tmpfs":
            (directory / "filler").unlink()
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()


def test_a_held_lock_costs_the_busy_timeout_not_a_stall(server: AnthropicServer, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    backend = SQLiteBackend(path, lock_backoff=0.05)
    with claude(server, backend) as client:
        ask(client, 0)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        other.execute("DELETE FROM entries WHERE key = 'none'")
        try:
            before = len(server.requests)
            ask(client, 0)  # readers are not blocked by a writer in WAL mode: a hit, not a
            assert len(server.requests) == before  # busy_timeout wait ending in a miss
            with pytest.warns(CacheUnavailableWarning, match="locked"):
                elapsed = ask(client, 1)
            assert elapsed >= backend.busy_timeout
            assert ask(client, 2) < BOUND  # still bounded, no second warning in the same outage
        finally:
            other.execute("ROLLBACK")
            other.close()
        time.sleep(2 * backend._breaker.backoff)  # past the breaker's back-off: the next probe writes
        ask(client, 3)
        before = len(server.requests)
        ask(client, 3)
        assert len(server.requests) == before  # writes work again once the lock is gone


def test_a_lock_held_while_the_backend_starts_defers_its_checks(
    server: AnthropicServer, tmp_path: Path
) -> None:
    path = tmp_path / "c.sqlite3"
    other = sqlite3.connect(path, isolation_level=None)  # a rollback-journal file, locked whole
    other.execute("BEGIN EXCLUSIVE")
    try:
        backend = SQLiteBackend(path, lock_backoff=0.05)  # does not raise: the lock will pass
        with claude(server, backend) as client, pytest.warns(CacheUnavailableWarning, match="locked"):
            ask(client, 0)
    finally:
        other.execute("ROLLBACK")
        other.close()
    time.sleep(2 * backend._breaker.backoff)  # past the breaker's back-off
    with claude(server, backend) as client:
        ask(client, 0)
        before = len(server.requests)
        ask(client, 0)
        assert len(server.requests) == before


def test_existing_files_are_narrowed_to_0600(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    SQLiteBackend(path).set("k", b"v")
    for candidate in tmp_path.iterdir():
        os.chmod(candidate, 0o644)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").touch(mode=0o644)
    backend = SQLiteBackend(path)
    backend.set("k2", b"v")
    for candidate in tmp_path.iterdir():
        assert stat.S_IMODE(candidate.stat().st_mode) == 0o600, candidate
    assert backend.get("k") == b"v"


def test_new_directories_are_0700(tmp_path: Path) -> None:
    SQLiteBackend(tmp_path / "a" / "b" / "c.sqlite3").set("k", b"v")
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700


# -- Redis -------------------------------------------------------------------------------------


@pytest.mark.redis
def test_redis_killed_mid_run(own_redis_server: RedisServer, server: AnthropicServer) -> None:
    with claude(server, RedisBackend(own_redis_server.url, retry_after=60)) as client:
        ask(client, 0)
        own_redis_server.process.kill()
        own_redis_server.process.wait()
        with pytest.warns(CacheUnavailableWarning, match="unreachable"):
            ask(client, 0)
        # The outage is remembered: no timeout per call (20 of them would take >= 20 x 0.25 s).
        assert sum(ask(client, i) for i in range(20)) < 20 * 0.25


@pytest.mark.redis
def test_redis_paused_costs_one_socket_timeout(
    own_redis_server: RedisServer, server: AnthropicServer
) -> None:
    with claude(server, RedisBackend(own_redis_server.url, retry_after=60)) as client:
        ask(client, 0)
        os.kill(own_redis_server.process.pid, signal.SIGSTOP)
        try:
            with pytest.warns(CacheUnavailableWarning, match="unreachable"):
                ask(client, 0)
            # A timeout per call would cost each >= socket_timeout (0.25 s): 5 s for the 20.
            assert sum(ask(client, i) for i in range(20)) < 20 * 0.25
        finally:
            os.kill(own_redis_server.process.pid, signal.SIGCONT)


@pytest.mark.redis
def test_malformed_redis_entries_are_misses(redis_url: str, server: AnthropicServer) -> None:
    import redis

    raw = redis.Redis.from_url(redis_url)
    with claude(server, RedisBackend(redis_url)) as client:
        ask(client, 0)
        [name] = raw.keys("promptcache:response:*")
        raw.set(name, b"\xffnot json")
        before = len(server.requests)
        ask(client, 0)  # unreadable bytes: a miss, and the fresh answer replaces them
        ask(client, 0)
        assert len(server.requests) == before + 1
        raw.delete(name)
        raw.hset(name, "a", "b")  # the wrong Redis type
        with pytest.warns(CacheUnavailableWarning, match="malformed"):
            ask(client, 0)
        ask(client, 1)
        before = len(server.requests)
        ask(client, 1)  # one bad key never takes Redis out of use
        assert len(server.requests) == before
    raw.close()


@pytest.mark.redis
@pytest.mark.parametrize(
    "payload", [b"not json", b"[1, 2]", b'{"written_at": "x", "ttl": 300}', b'{"ttl": 300}', b"\xff"]
)
def test_malformed_registry_entries_are_absent(redis_url: str, payload: bytes) -> None:
    import redis

    raw = redis.Redis.from_url(redis_url)
    raw.set("promptcache:warm:entry:fp", payload)
    registry = RedisRegistry(redis_url)
    with pytest.warns(CacheUnavailableWarning, match="malformed"):
        assert registry.get("fp") is None
    with pytest.warns(CacheUnavailableWarning, match="malformed"):
        outcome = registry.warm_once("fp", ttl=300, write=lambda: "written")
    assert outcome.wrote and registry.get("fp") is not None
    raw.delete("promptcache:warm:entry:fp")
    raw.hset("promptcache:warm:entry:fp", "a", "b")
    with pytest.warns(CacheUnavailableWarning, match="malformed"):
        assert registry.get("fp") is None
    raw.close()


@pytest.mark.redis
def test_a_registry_writer_killed_holding_its_lock_blocks_for_at_most_the_lock_ttl(
    redis_url: str, server: AnthropicServer
) -> None:
    lock_ttl = 1.0
    with subprocess.Popen(
        [sys.executable, "-m", "tests._cache_workers", "hold-warm-lock", redis_url, "fp-dead", str(lock_ttl)],
        stdout=subprocess.PIPE,
        cwd=TESTS.parent,
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"writing"
        time.sleep(lock_ttl)  # the heartbeat has renewed the lock at least once
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    registry = RedisRegistry(redis_url, lock_ttl=lock_ttl)
    with anthropic.Anthropic(api_key="sk-faults", base_url=server.url, max_retries=0) as client:

        def write() -> Any:
            return client.messages.create(
                model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "warm"}]
            )

        start = time.perf_counter()
        outcome = registry.warm_once("fp-dead", ttl=300, write=write, wait_timeout=30)
        elapsed = time.perf_counter() - start
    assert outcome.wrote and outcome.value is not None
    assert elapsed < lock_ttl + 1.0, elapsed


@pytest.mark.redis
def test_the_heartbeat_keeps_a_slow_writers_lock(redis_url: str) -> None:
    import threading

    registry = RedisRegistry(redis_url, lock_ttl=0.3)
    writes: list[int] = []

    def slow() -> str:
        writes.append(1)
        time.sleep(1.0)  # more than three lock TTLs
        return "ok"

    def worker(delay: float) -> None:
        time.sleep(delay)
        registry.warm_once("fp-slow", ttl=300, write=slow)

    threads = [threading.Thread(target=worker, args=(delay,)) for delay in (0.0, 0.1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(writes) == 1


@pytest.mark.redis
def test_a_waiter_past_its_wait_timeout_writes_instead_of_failing(redis_url: str) -> None:
    import redis

    raw = redis.Redis.from_url(redis_url)
    raw.set("promptcache:warm:lock:fp-stuck", "someone", px=60_000)
    registry = RedisRegistry(redis_url)
    start = time.perf_counter()
    with pytest.warns(CacheUnavailableWarning, match="writing it here"):
        outcome = registry.warm_once("fp-stuck", ttl=300, write=lambda: "mine", wait_timeout=0.2)
    assert outcome.wrote and outcome.value == "mine"
    assert time.perf_counter() - start < BOUND
    raw.close()
