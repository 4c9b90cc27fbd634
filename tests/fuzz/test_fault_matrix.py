"""The fault matrix: every backend and every fault, 0 failed calls, a bounded stall per call.

Backends: the response cache in memory, in SQLite and in Redis (the real ``anthropic`` client
wrapped by ``cache_client`` against ``promptcache.testing.AnthropicServer``), and the fleet's
planner state on Redis (the real client wrapped by ``promptcache.wrap`` with a
``CacheState(shared=RedisStateStore(...))``). Faults, each made for real (other processes holding
SQLite locks, a real ``redis-server`` killed, stopped, paused, full or read-only):

========== ===================================== =========================================
fault      SQLite                                Redis (response cache, planner state)
========== ===================================== =========================================
corrupt    pages 3-40 overwritten with 0xff      every key replaced by one of another type
full       ``max_page_count`` reached            ``maxmemory`` reached, ``noeviction``
locked     another process in ``BEGIN EXCLUSIVE`` ``CLIENT PAUSE ... WRITE``
exclusive  another process, ``locking_mode``      ``CLIENT PAUSE ... ALL``
           ``=EXCLUSIVE``
read-only  the directory read-only (a ro mount)  a read-only replica (``REPLICAOF``)
killed     a writer SIGKILLed mid-transaction    the server SIGKILLed mid-run
paused     a writer SIGSTOPped holding the lock  the server SIGSTOPped mid-run
poisoned   rows with garbage values and types    every value replaced by garbage bytes
slow       a writer holding the lock 100 ms of   every packet delayed 3 ms each way
           every 150 ms
========== ===================================== =========================================

The memory backend has no file, lock, process or network: only ``full`` (a bound smaller than
an entry) and ``poisoned`` (garbage bytes under a request's key) apply to it; the other cells are
listed in :data:`NOT_APPLICABLE` with the reason, so the matrix stays complete.

Each cell makes :data:`CALLS` calls (repeats and new questions) and checks that every one returns
the API's answer, that the worst call took at most :data:`STALL_BOUND` more than the same
backend's median call without a fault, and that all of them together took at most twice that
more (a stall is paid once per outage, not per call). The goal is 0.3 s (one SQLite
``busy_timeout`` of 0.25 s, or one Redis deadline, once per outage); the bound asserted is
generous for a loaded 2-core CI machine but fails on what the issue measured (0.5 s per SQLite
call under an EXCLUSIVE lock). ``benchmarks/bench_fault_matrix.py`` runs the same cells and
writes the measured stalls to ``docs/benchmarks.md``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import pytest

from promptcache import CacheState, wrap
from promptcache.cache import MemoryBackend, RedisBackend, SQLiteBackend, cache_client
from promptcache.state_redis import RedisStateStore
from promptcache.testing import AnthropicServer

from .._redis import DelayProxy, RedisServer, running_redis

BACKENDS = ("memory", "sqlite", "redis", "redis-state")
FAULTS = ("corrupt", "full", "locked", "exclusive", "read-only", "killed", "paused", "poisoned",
          "slow")
NOT_APPLICABLE = {
    ("memory", f): "an in-process dict has no file, lock, process or network to fail"
    for f in ("corrupt", "locked", "exclusive", "read-only", "killed", "paused", "slow")
}
CELLS = [(b, f) for b in BACKENDS for f in FAULTS if (b, f) not in NOT_APPLICABLE]

CALLS = 12
QUESTIONS = [0, 1, 0, 2, 1, 3, 0, 4, 2, 5, 3, 0]  # repeats (hits) and new questions (misses)
STALL_GOAL = 0.3  # seconds: what docs/benchmarks.md reports against
STALL_BOUND = 0.6  # seconds: asserted (the goal, with room for a loaded CI machine)
REPLY = "Paris."
SYSTEM = "You answer geography questions in one word. " * 200  # enough tokens to be planned
MODEL = "claude-sonnet-4-6"


class Unavailable(Exception):
    """This machine cannot make the fault (no redis-server, mounting not allowed)."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell's outcome."""

    backend: str
    fault: str
    calls: int
    failed: int
    worst: float
    median: float
    times: tuple[float, ...] = ()

    def added(self, baseline: float) -> float:
        """The worst call's time beyond the fault-free median of the same backend."""
        return max(0.0, self.worst - baseline)

    def total_added(self, baseline: float) -> float:
        """Every call's time beyond that median, summed: a stall paid once, or on every call."""
        return sum(max(0.0, t - baseline) for t in self.times)


# -- the calls -----------------------------------------------------------------------------------


def _ask(client: anthropic.Anthropic, question: int) -> tuple[bool, float]:
    """One call: whether it got the API's answer, and how long it took."""
    start = time.perf_counter()
    try:
        reply = client.messages.create(
            model=MODEL, max_tokens=16, system=SYSTEM,
            messages=[{"role": "user", "content": f"Question {question}: where is the Louvre?"}])
        ok = reply.content[0].text == REPLY  # type: ignore[union-attr]
    except Exception:  # any failure counts: the property is that there is none
        ok = False
    return ok, time.perf_counter() - start


@contextlib.contextmanager
def _client(server: AnthropicServer, backend: str, target: Any) -> Iterator[anthropic.Anthropic]:
    """The real SDK client, with promptcache's response cache or fleet state in front."""
    with anthropic.Anthropic(api_key="sk-matrix", base_url=server.url, max_retries=0) as client:
        if backend == "redis-state":
            state = CacheState(shared=target, retry_after=5.0)
            yield wrap(client, state=state)
        else:
            yield cache_client(client, backend=target)


_PHASE = [0]


def _run(client: anthropic.Anthropic, during: Callable[[int], None] = lambda n: None
         ) -> tuple[int, list[float]]:
    """The cell's calls (``during(n)`` runs before call ``n``): failures and durations.

    Each run asks questions of its own (and repeats them), so a run after a warm-up still
    writes: a fault that only blocks writes is met, not dodged by hits.
    """
    failed, times = 0, []
    _PHASE[0] += 1
    offset = 100 * _PHASE[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # each fault warns; what is checked here is the calls
        for n, question in enumerate(QUESTIONS[:CALLS]):
            during(n)
            ok, took = _ask(client, offset + question)
            failed += not ok
            times.append(took)
    return failed, times


# -- helper processes ----------------------------------------------------------------------------


@contextlib.contextmanager
def _child(code: str, *, ready: bool = True) -> Iterator[subprocess.Popen[bytes]]:
    """A Python child running ``code``; waits for it to print ``ready``; killed afterwards."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE)
    try:
        if ready:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != b"ready":
                raise RuntimeError(f"the helper process did not start: {line!r}")
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _hold(path: Path, *, exclusive_mode: bool = False, stop: bool = False) -> str:
    """A child that takes the write lock of ``path`` (and keeps it) and says ``ready``."""
    mode = "c.execute('PRAGMA locking_mode=EXCLUSIVE')" if exclusive_mode else ""
    finish = ("c.execute('COMMIT')" if exclusive_mode else "")
    pause = "os.kill(os.getpid(), signal.SIGSTOP)" if stop else "time.sleep(600)"
    return f"""
        import os, signal, sqlite3, sys, time
        c = sqlite3.connect({str(path)!r}, isolation_level=None, timeout=10)
        {mode}
        c.execute('BEGIN EXCLUSIVE')
        c.execute("DELETE FROM entries WHERE key = 'none'")
        {finish}
        print('ready', flush=True)
        {pause}
        time.sleep(600)
    """


def _damage(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    raw = bytearray(path.read_bytes())
    raw[4096 * 3 : 4096 * 40] = b"\xff" * (4096 * 37)
    path.write_bytes(bytes(raw))


def _fill(backend: SQLiteBackend) -> None:
    for i in range(200):
        backend.set(f"filler-{i}", os.urandom(2_000))


def _poison_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    keys = [k for (k,) in conn.execute("SELECT key FROM entries")]
    garbage: list[tuple[Any, ...]] = [(b"\xffnot json", 0), ("text, not bytes", "x"), (b"", None)]
    for i, key in enumerate(keys):
        value, crc = garbage[i % len(garbage)]
        import zlib

        crc = zlib.crc32(value) if isinstance(value, bytes) and crc == 0 else crc
        conn.execute("UPDATE entries SET value = ?, crc = ?, expires = ? WHERE key = ?",
                     (value, crc if crc is not None else 0, "never" if i % 2 else None, key))
    conn.close()


@contextlib.contextmanager
def _read_only_dir() -> Iterator[tuple[Path, Callable[[], None]]]:
    """A directory and the function that makes it read-only (a ro remount when root)."""
    root = Path(tempfile.mkdtemp())
    if os.geteuid() != 0:
        def seal() -> None:
            for p in root.iterdir():
                p.chmod(0o400)
            root.chmod(0o500)

        try:
            yield root, seal
        finally:
            root.chmod(0o700)
        return
    mount = root / "ro"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise Unavailable(f"cannot mount a tmpfs ({done.stderr.decode().strip()})")

    def remount() -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True)

    try:
        yield mount, remount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)


# -- the cells -----------------------------------------------------------------------------------


def _redis_or_unavailable() -> RedisServer:
    from redis_server import RedisUnavailable, start_redis

    try:
        return start_redis()
    except RedisUnavailable as e:
        raise Unavailable(str(e)) from e


def run_cell(server: AnthropicServer, backend: str, fault: str | None) -> Cell:
    """Run one cell (``fault=None``: the fault-free baseline of ``backend``)."""
    if backend == "memory":
        failed, times = _memory_cell(server, fault)
    elif backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            failed, times = _sqlite_cell(server, fault, Path(tmp))
    else:
        failed, times = _redis_cell(server, backend, fault)
    return Cell(backend=backend, fault=fault or "none", calls=len(times), failed=failed,
                worst=max(times), median=statistics.median(times), times=tuple(times))


def _memory_cell(server: AnthropicServer, fault: str | None) -> tuple[int, list[float]]:
    if fault == "full":
        backend = MemoryBackend(max_bytes=64)  # smaller than any entry
        with _client(server, "memory", backend) as client:
            return _run(client)
    backend = MemoryBackend()
    with _client(server, "memory", backend) as client:
        if fault == "poisoned":
            def during(n: int) -> None:
                if n in (3, 8):
                    for key in list(backend._data):
                        backend.set(key, b"\xffgarbage")
            return _run(client, during)
        return _run(client)


def _sqlite_cell(server: AnthropicServer, fault: str | None, tmp: Path
                 ) -> tuple[int, list[float]]:
    path = tmp / "c.sqlite3"
    if fault == "read-only":
        with _read_only_dir() as (directory, seal):
            cache = SQLiteBackend(directory / "c.sqlite3")
            with _client(server, "sqlite", cache) as client:
                def during(n: int) -> None:
                    if n == 3:
                        cache.close()
                        seal()
                failed, times = _run(client, during)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fresh = SQLiteBackend(directory / "new" / "c.sqlite3")  # never raises
                again = SQLiteBackend(directory / "c.sqlite3")
            with _client(server, "sqlite", fresh) as client:
                more_failed, more = _run(client)
            again.close()
            return failed + more_failed, times + more
    cache = SQLiteBackend(path, lock_backoff=1.0)
    stack = contextlib.ExitStack()
    with stack, _client(server, "sqlite", cache) as client:
        stack.callback(cache.close)
        if fault is None:
            return _run(client)
        if fault == "corrupt":
            _run(client)
            _fill(cache)
            cache.close()
            _damage(path)
            return _run(client)
        if fault == "full":
            _run(client)
            pages = cache._conn().execute("PRAGMA page_count").fetchone()[0]
            cache._conn().execute(f"PRAGMA max_page_count = {pages}")
            return _run(client)
        if fault == "poisoned":
            _run(client)
            _poison_sqlite(path)
            return _run(client)
        if fault in ("locked", "exclusive", "paused"):
            _run(client)
            cache.close()  # an EXCLUSIVE holder must open the file before us, as in the issue
            code = _hold(path, exclusive_mode=fault == "exclusive", stop=fault == "paused")
            with _child(code):
                return _run(client)
        if fault == "killed":
            _run(client)
            writer = f"""
                import sqlite3, os
                c = sqlite3.connect({str(path)!r}, isolation_level=None, timeout=10)
                c.execute('BEGIN IMMEDIATE')
                for i in range(2000):
                    c.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, 0, 4096, 0, 0, NULL)",
                              (f'big-{{i}}', os.urandom(4096)))
                print('ready', flush=True)
                import time; time.sleep(600)
            """
            with _child(writer) as child:
                def during(n: int) -> None:
                    if n == 4:
                        os.kill(child.pid, signal.SIGKILL)  # mid-transaction, lock held
                return _run(client, during)
        if fault == "slow":
            _run(client)
            writer = f"""
                import sqlite3, time
                c = sqlite3.connect({str(path)!r}, isolation_level=None, timeout=10)
                print('ready', flush=True)
                while True:
                    c.execute('BEGIN IMMEDIATE')
                    c.execute("DELETE FROM entries WHERE key = 'none'")
                    time.sleep(0.1)
                    c.execute('COMMIT')
                    time.sleep(0.05)
            """
            with _child(writer):
                return _run(client)
    raise AssertionError(f"no such fault: {fault}")


def _redis_target(backend: str, url: str) -> Any:
    if backend == "redis":
        return RedisBackend(url, retry_after=5.0)
    return RedisStateStore(url)


def _redis_cell(server: AnthropicServer, backend: str, fault: str | None
                ) -> tuple[int, list[float]]:
    import redis

    rs = _redis_or_unavailable()
    admin = redis.Redis(port=rs.port, socket_timeout=5)
    proxy = DelayProxy(rs.port, 0.003) if fault == "slow" else None
    try:
        url = proxy.url if proxy is not None else rs.url
        with _client(server, backend, _redis_target(backend, url)) as client:
            if fault in (None, "slow"):
                return _run(client)
            _run(client)  # warm: entries, scripts and connections exist before the fault
            if fault == "corrupt":
                for name in list(admin.scan_iter()):
                    admin.delete(name)
                    admin.sadd(name, "x")
                return _run(client)
            if fault == "poisoned":
                for name in list(admin.scan_iter()):
                    admin.delete(name)
                    admin.set(name, b"\xff\xfe|garbage|1e999|nan")
                return _run(client)
            if fault == "full":
                used = int(admin.info("memory")["used_memory"])
                admin.config_set("maxmemory-policy", "noeviction")
                admin.config_set("maxmemory", str(used))
                return _run(client)
            if fault == "locked":
                admin.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
                try:
                    return _run(client)
                finally:
                    admin.execute_command("CLIENT", "UNPAUSE")  # not a write: it is answered
            if fault == "exclusive":  # every client paused, this one too: the server stops it
                admin.execute_command("CLIENT", "PAUSE", "60000", "ALL")
                return _run(client)
            if fault == "read-only":
                admin.execute_command("REPLICAOF", "127.0.0.1", "1")  # a master that is not there
                return _run(client)
            if fault == "killed":
                return _run(client, lambda n: rs.kill() if n == 3 else None)
            if fault == "paused":
                return _run(client, lambda n: rs.pause() if n == 3 else None)
    finally:
        if proxy is not None:
            proxy.close()
        admin.close()
        rs.stop()
    raise AssertionError(f"no such fault: {fault}")


# -- the tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[AnthropicServer]:
    with AnthropicServer(reply=REPLY) as s:
        with anthropic.Anthropic(api_key="sk-warm", base_url=s.url, max_retries=0) as client:
            _ask(client, -1)  # the SDK's lazy imports are not what the matrix measures
        yield s


_BASELINES: dict[str, float] = {}


def _baseline(server: AnthropicServer, backend: str) -> float:
    if backend not in _BASELINES:
        if backend.startswith("redis"):
            with running_redis():  # skip (or fail under CI) without redis-server
                pass
        _BASELINES[backend] = run_cell(server, backend, None).median
    return _BASELINES[backend]


def test_the_matrix_is_complete() -> None:
    assert {(b, f) for b in BACKENDS for f in FAULTS} == set(CELLS) | set(NOT_APPLICABLE)
    assert len(CELLS) == 2 + 3 * len(FAULTS)


@pytest.mark.parametrize(("backend", "fault"), CELLS, ids=[f"{b}-{f}" for b, f in CELLS])
def test_no_call_fails_and_none_stalls(server: AnthropicServer, backend: str, fault: str) -> None:
    baseline = _baseline(server, backend)
    try:
        cell = run_cell(server, backend, fault)
    except Unavailable as e:
        if os.environ.get("CI") and backend.startswith("redis"):
            pytest.fail(f"{e}; CI must provide it.")
        pytest.skip(str(e))
    assert cell.failed == 0, f"{cell.failed} of {cell.calls} calls failed"
    assert cell.added(baseline) <= STALL_BOUND, (
        f"the worst call took {cell.worst:.3f} s, {cell.added(baseline):.3f} s more than the "
        f"fault-free median {baseline:.3f} s")
    # Once per outage, not on every call: 12 calls of 0.5 s each (the EXCLUSIVE lock)
    # would add 6 s.
    assert cell.total_added(baseline) <= 2 * STALL_BOUND, (
        f"the calls took {cell.total_added(baseline):.3f} s more in all than without the fault")
