"""Memory and SQLite backends against their contract, on real SQLite files."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptcache.cache import MemoryBackend, SQLiteBackend
from promptcache.cache.memory import ENTRY_OVERHEAD
from promptcache.errors import CacheBackendError

TESTS = Path(__file__).parent.parent


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


# -- memory ------------------------------------------------------------------------------------


def test_memory_evicts_least_recently_used() -> None:
    cache = MemoryBackend(max_entries=2)
    cache.set("a", b"1")
    cache.set("b", b"2")
    assert cache.get("a") == b"1"
    cache.set("c", b"3")
    assert cache.get("b") is None
    assert cache.get("a") == b"1"


def test_memory_respects_its_byte_bound() -> None:
    cache = MemoryBackend(max_bytes=2 * ENTRY_OVERHEAD + 150)
    cache.set("a", b"12345")
    cache.set("b", b"123456")
    assert cache.get("a") is None  # the values alone fit; the keys and overhead do not
    assert cache.get("b") == b"123456"
    assert cache.held_bytes <= cache.max_bytes
    cache.set("huge", b"x" * cache.max_bytes)
    assert cache.get("huge") is None


def test_memory_counts_keys_and_overhead_not_only_values() -> None:
    cache = MemoryBackend(max_bytes=100_000)
    for i in range(10_000):
        cache.set(f"{i:064x}", b"")  # empty values: only keys and overhead fill it
    assert 0 < len(cache) < 100_000 // ENTRY_OVERHEAD
    assert cache.held_bytes <= cache.max_bytes


def test_memory_expires_entries() -> None:
    clock = Clock()
    cache = MemoryBackend(clock=clock)
    cache.set("a", b"1", ttl=10)
    clock.now += 9.9
    assert cache.get("a") == b"1"
    clock.now += 0.2
    assert cache.get("a") is None


def test_memory_is_thread_safe() -> None:
    cache = MemoryBackend(max_entries=500)

    def work(n: int) -> None:
        for i in range(2_000):
            cache.set(f"{n}-{i % 300}", b"v")
            cache.get(f"{(n + 1) % 8}-{i % 300}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 500


def test_memory_rejects_a_zero_bound() -> None:
    with pytest.raises(CacheBackendError, match="at least 1"):
        MemoryBackend(max_entries=0)


# -- SQLite ------------------------------------------------------------------------------------


def test_sqlite_round_trips_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    cache = SQLiteBackend(path)
    cache.set("k", b"value")
    cache.close()
    assert SQLiteBackend(path).get("k") == b"value"


def test_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.sqlite3"
    SQLiteBackend(path).set("k", b"v")
    for candidate in path.parent.iterdir():
        assert stat.S_IMODE(candidate.stat().st_mode) == 0o600, candidate


def test_sqlite_uses_wal_and_a_versioned_schema(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    SQLiteBackend(path).set("k", b"v")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


def test_sqlite_expires_entries(tmp_path: Path) -> None:
    clock = Clock()
    cache = SQLiteBackend(tmp_path / "c.sqlite3", clock=clock)
    cache.set("a", b"1", ttl=5)
    cache.set("b", b"2")
    clock.now += 6
    assert cache.get("a") is None
    assert cache.get("b") == b"2"


def test_sqlite_evicts_least_recently_used_past_its_size_cap(tmp_path: Path) -> None:
    clock = Clock()
    cache = SQLiteBackend(tmp_path / "c.sqlite3", max_bytes=10_000, clock=clock)
    for i in range(10):
        clock.now += 100
        cache.set(f"k{i}", b"x" * 1_000)
    clock.now += 100
    assert cache.get("k0") is not None  # refreshes k0's access time
    clock.now += 100
    cache.set("k10", b"x" * 1_000)
    assert cache.get("k0") is not None
    assert cache.get("k1") is None
    assert len(cache) <= 9


def test_sqlite_is_safe_across_threads(tmp_path: Path) -> None:
    # The lock deadline has tests of its own (test_cache_faults.py); here it is far above any
    # scheduling stall of a loaded CI box, so a write skipped for a busy lock cannot pass for, or
    # hide, a write lost or garbled by sharing the backend between threads.
    cache = SQLiteBackend(tmp_path / "c.sqlite3", busy_timeout=60.0)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                cache.set(f"{n}-{i}", f"v{n}-{i}".encode())
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(cache) == 1_600
    wrong = [(n, i) for n in range(8) for i in range(200) if cache.get(f"{n}-{i}") != f"v{n}-{i}".encode()]
    assert wrong == []
    cache.close()


@pytest.mark.slow
def test_eight_processes_writing_a_thousand_entries_each_lose_nothing(tmp_path: Path) -> None:
    from tests._cache_workers import write_many

    path = str(tmp_path / "c.sqlite3")
    SQLiteBackend(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=write_many, args=(path, n, 1_000)) for n in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = SQLiteBackend(path)
    assert len(cache) == 8_000
    missing = [
        (n, i) for n in range(8) for i in range(1_000) if cache.get(f"w{n}-{i}") != f"value {n} {i}".encode()
    ]
    assert missing == []


def test_a_writer_killed_mid_write_leaves_every_committed_entry(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    with subprocess.Popen(
        [sys.executable, "-m", "tests._cache_workers", str(path)],
        stdout=subprocess.PIPE,
        cwd=TESTS.parent,
    ) as child:
        assert child.stdout is not None
        committed = -1
        while committed < 150:
            committed = int(child.stdout.readline())
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    cache = SQLiteBackend(path)
    for i in range(committed + 1):
        value = cache.get(f"k{i}")
        assert value is not None and value.endswith(str(i).encode()), i


def test_a_corrupt_file_raises_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheBackendError, match=r"corrupt.*on_corrupt=\"reset\""):
        SQLiteBackend(path)


def test_a_corrupt_file_can_be_replaced_by_a_fresh_cache(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    cache = SQLiteBackend(path, on_corrupt="reset")
    assert cache.get("k") is None
    cache.set("k", b"v")
    assert cache.get("k") == b"v"
    [aside] = tmp_path.glob("c.sqlite3.corrupt-*")
    assert aside.read_bytes() == b"this is not a database" * 100
    assert cache.moved_aside == [aside]


def test_damaged_pages_found_later_raise_instead_of_answering(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    cache = SQLiteBackend(path)
    stored = {f"k{i}": os.urandom(2_000) for i in range(200)}
    for k, v in stored.items():
        cache.set(k, v)
    cache.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    raw = bytearray(path.read_bytes())
    raw[4096 * 3 : 4096 * 40] = b"\xff" * (4096 * 37)
    path.write_bytes(bytes(raw))
    answers: dict[str, bytes | None] = {}
    with pytest.raises(CacheBackendError, match="corrupt"):
        cache = SQLiteBackend(path)
        for k in stored:
            answers[k] = cache.get(k)
    assert all(v is None or v == stored[k] for k, v in answers.items())


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    SQLiteBackend(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(CacheBackendError, match="schema version 99"):
        SQLiteBackend(path)


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE mine (x)")
    conn.close()
    with pytest.raises(CacheBackendError, match="did not create"):
        SQLiteBackend(path)


# -- an unwritable location (issue 21 item 4) ----------------------------------------------------


@contextlib.contextmanager
def read_only_mount(root: Path) -> Iterator[Path]:
    """A read-only tmpfs (needs root); skips where mounting is not allowed."""
    mount = root / "ro"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(mount)],
                            capture_output=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.decode().strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _not_a_directory(tmp_path: Path) -> Path:
    """A location whose parent is a file: creating it fails with an OSError, root or not."""
    (tmp_path / "file").write_text("x")
    return tmp_path / "file" / "cache" / "responses.sqlite3"


@pytest.mark.parametrize("where", ["read-only filesystem", "parent is a file"])
def test_an_unwritable_location_warns_and_every_use_is_a_backend_error(tmp_path: Path, where: str) -> None:
    from promptcache.cache import CacheUnavailableWarning

    with contextlib.ExitStack() as stack:
        if where == "read-only filesystem":
            path = stack.enter_context(read_only_mount(tmp_path)) / "cache" / "responses.sqlite3"
        else:
            path = _not_a_directory(tmp_path)
        with pytest.warns(CacheUnavailableWarning, match="cannot be created"):
            backend = SQLiteBackend(path)
        with pytest.raises(CacheBackendError, match="cannot be created"):
            backend.get("k")
        with pytest.raises(CacheBackendError):
            backend.set("k", b"v")
        backend.close()


def test_a_location_that_becomes_writable_is_used_from_then_on(tmp_path: Path) -> None:
    from promptcache.cache import CacheUnavailableWarning

    path = _not_a_directory(tmp_path)
    with pytest.warns(CacheUnavailableWarning):
        backend = SQLiteBackend(path)
    (tmp_path / "file").unlink()
    backend.set("k", b"v")
    assert backend.get("k") == b"v"
    backend.close()
