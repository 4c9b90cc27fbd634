"""The default on-disk response cache: one SQLite file shared by threads and processes.

WAL mode lets readers proceed while one writer commits, and a commit is atomic: a process killed
mid-write leaves the previous committed state. Each thread (and each process after ``fork``) gets
its own connection, because SQLite connections must not cross either boundary.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import uuid
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, Literal

from ..errors import CacheBackendError
from ._breaker import Breaker, Kind
from .base import CacheUnavailableWarning, LocalBackend

__all__ = ["SCHEMA_VERSION", "SQLiteBackend", "default_cache_path"]

SCHEMA_VERSION: Final = 1
_ACCESS_REFRESH: Final = 60.0  # seconds; keeps hits read-only while eviction stays roughly LRU

_SCHEMA: Final = f"""
CREATE TABLE entries (
    key      TEXT PRIMARY KEY,
    value    BLOB NOT NULL,
    crc      INTEGER NOT NULL,
    size     INTEGER NOT NULL,
    created  REAL NOT NULL,
    accessed REAL NOT NULL,
    expires  REAL
) WITHOUT ROWID;
CREATE INDEX entries_accessed ON entries(accessed);
CREATE INDEX entries_expires ON entries(expires) WHERE expires IS NOT NULL;
CREATE TABLE stats (id INTEGER PRIMARY KEY CHECK (id = 0), entries INTEGER NOT NULL,
                    bytes INTEGER NOT NULL);
INSERT INTO stats VALUES (0, 0, 0);
CREATE TRIGGER entries_ins AFTER INSERT ON entries BEGIN
    UPDATE stats SET entries = entries + 1, bytes = bytes + NEW.size WHERE id = 0; END;
CREATE TRIGGER entries_del AFTER DELETE ON entries BEGIN
    UPDATE stats SET entries = entries - 1, bytes = bytes - OLD.size WHERE id = 0; END;
CREATE TRIGGER entries_upd AFTER UPDATE OF size ON entries BEGIN
    UPDATE stats SET bytes = bytes - OLD.size + NEW.size WHERE id = 0; END;
PRAGMA user_version = {SCHEMA_VERSION};
"""

_GET: Final = "SELECT value, crc, accessed, expires FROM entries WHERE key = ?"
_PUT: Final = """INSERT INTO entries (key, value, crc, size, created, accessed, expires)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value,
crc = excluded.crc, size = excluded.size, created = excluded.created,
accessed = excluded.accessed, expires = excluded.expires"""


def default_cache_path() -> Path:
    """``$PROMPTCACHE_DIR/responses.sqlite3``, else under ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    root = os.environ.get("PROMPTCACHE_DIR")
    if root:
        return Path(root) / "responses.sqlite3"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "promptcache" / "responses.sqlite3"


_BUSY: Final = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
_FULL: Final = 13  # SQLITE_FULL
_CORRUPT: Final = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB
_UNUSABLE: Final = frozenset({3, 8, 14})  # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN


class _CorruptError(CacheBackendError):
    """The file is damaged or not a database: the one failure ``on_corrupt="reset"`` acts on."""


class _BusyError(CacheBackendError):
    """Locked too long, or no space left: it passes, and the file is healthy."""


class _UnwritableError(CacheBackendError):
    """The file or its directory cannot be created: a read-only filesystem, no permission."""


def _primary_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _is_corruption(error: sqlite3.Error) -> bool:
    code = _primary_code(error)
    if code is not None:
        return code in _CORRUPT
    text = str(error)
    return "malformed" in text or "not a database" in text


class _LockedError(_BusyError):
    """Another process held the lock past ``busy_timeout`` (or the breaker skips the file)."""


def _make_private_dirs(directory: Path) -> None:
    """Create the missing directories of ``directory`` with mode 0700 (existing ones untouched)."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o700)


def _move_aside(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` without ever replacing an existing ``target``."""
    try:
        os.link(source, target)  # fails if target exists: nothing moved aside before is lost
    except FileExistsError:
        raise
    except OSError:
        if target.exists():
            raise FileExistsError(target) from None
        os.rename(source, target)
        return
    os.unlink(source)


class SQLiteBackend(LocalBackend):
    """A response cache in one SQLite file, safe across threads and processes.

    ``max_bytes`` caps the stored values; past it the least recently used entries go (access
    times are refreshed at most once a minute, so a hit is a single read). Every failure raises
    ``CacheBackendError`` naming its cause (wrapped clients turn it into a miss and one
    ``CacheUnavailableWarning``): a lock held longer than ``busy_timeout`` (0.25 s, about what a
    Redis outage costs), a full disk, a damaged file. Only damage (``SQLITE_CORRUPT``,
    ``SQLITE_NOTADB``) is acted on: with ``on_corrupt="reset"`` the file is moved aside under a
    unique ``<name>.corrupt-<time>-<pid>-<random>`` (never replacing an earlier copy) and a fresh
    cache starts. A full disk never moves a healthy file aside.

    A lock held longer than ``busy_timeout`` opens a breaker (see ``_breaker``): for
    ``lock_backoff`` seconds (doubling while the lock stays) calls skip the file at once, then one
    call probes it without waiting, so another process holding the file with
    ``locking_mode=EXCLUSIVE`` costs one ``busy_timeout``, not two per call. Creating the backend
    never fails because the file is locked or its directory read-only: the checks are deferred
    to first use (read-only with a ``CacheUnavailableWarning``), and each call is then a miss.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_bytes: int = 1024 * 1024 * 1024,
        busy_timeout: float = 0.25,
        on_corrupt: Literal["raise", "reset"] = "raise",
        clock: Callable[[], float] = time.time,
        lock_backoff: float = 1.0,
    ) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.max_bytes = max_bytes
        self.busy_timeout = busy_timeout
        self.on_corrupt = on_corrupt
        self._clock = clock
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._inode: int | None = None
        self._write_lock = threading.Lock()
        self.moved_aside: list[Path] = []
        """Files this backend moved aside as corrupt, in order."""
        self._breaker = Breaker(lock_backoff)
        self._unchecked = False
        try:
            self._open_checked()
        except _CorruptError:
            if on_corrupt != "reset":
                raise
            self._reset()
        except _BusyError:
            # Another process holds a long write (or the disk is full) right now: creating the
            # backend must not fail for that; the checks run again on first use.
            self._unchecked = True
        except _UnwritableError as e:
            # A read-only filesystem must not fail the program that merely configures a cache:
            # each use tries again (the directory may become writable) and is a miss until then.
            self._unchecked = True
            warnings.warn(str(e), CacheUnavailableWarning, stacklevel=2)

    # -- connections --------------------------------------------------------------------------

    def _create_file(self) -> None:
        """Create the file with mode 0600 before SQLite does, so cached answers stay private;
        an existing file (and its ``-wal``/``-shm``) is narrowed to 0600.

        SQLite gives new ``-wal`` and ``-shm`` files the mode of the main file.
        """
        _make_private_dirs(self.path.parent)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        for suffix in ("", "-wal", "-shm"):
            candidate = f"{self.path}{suffix}"
            with contextlib.suppress(OSError):  # absent, or another user's file: leave it
                if os.stat(candidate).st_mode & 0o077:
                    os.chmod(candidate, 0o600)
        with contextlib.suppress(OSError):
            self._inode = os.stat(self.path).st_ino

    def _connect(self, wait: float) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=wait, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            conn.execute("PRAGMA synchronous = NORMAL")  # reads the schema: waits for a lock
        except BaseException:
            conn.close()
            raise
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _conn(self, wait: float | None = None) -> sqlite3.Connection:
        """This thread's connection; ``wait`` overrides ``busy_timeout`` (a probe waits 0)."""
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            conn = self._connect(self.busy_timeout if wait is None else wait)
            local.conn, local.pid = conn, os.getpid()
        elif wait is not None:
            conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        return conn

    def _create_checked(self) -> None:
        """:meth:`_create_file`, with a failure named as what it is (an unwritable location)."""
        try:
            self._create_file()
        except OSError as e:
            raise _UnwritableError(
                f"The response cache {self.path} cannot be created ({e.strerror or e}): a read-only "
                "filesystem, or a directory without write permission. Calls go on without the "
                "cache; point SQLiteBackend (or PROMPTCACHE_DIR) at a writable directory."
            ) from e

    def _open_checked(self) -> None:
        self._create_checked()
        try:
            conn = self._conn()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                self._initialise(conn)
            elif version != SCHEMA_VERSION:
                raise CacheBackendError(
                    f"The response cache {self.path} has schema version {version}, but this "
                    f"promptcache reads version {SCHEMA_VERSION}. Upgrade promptcache or point "
                    "the cache at another file."
                )
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("SELECT count(*) FROM stats").fetchone()
        except sqlite3.Error as e:
            raise self._error(e) from e

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """Create the schema once, even when several processes open a new file together."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if tables:
                    raise CacheBackendError(
                        f"{self.path} is an SQLite database that promptcache did not create. "
                        "Point the response cache at a file of its own."
                    )
                for statement in _SCHEMA.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _error(self, error: sqlite3.Error) -> CacheBackendError:
        """The ``CacheBackendError`` that names what went wrong, and what to do."""
        code = _primary_code(error)
        if code in _BUSY or "locked" in str(error):
            return _LockedError(
                f"The response cache {self.path} stayed locked for more than {self.busy_timeout:g} s "
                f"({error}): another process holds a long write. The call goes on without the cache."
            )
        if code == _FULL:
            return _BusyError(
                f"The response cache {self.path} cannot grow: the disk (or the database's page "
                f"limit) is full ({error}). Its entries are intact; free space or lower max_bytes."
            )
        if code in _UNUSABLE or "readonly" in str(error) or "unable to open" in str(error):
            return _UnwritableError(
                f"The response cache {self.path} cannot be opened or written ({error}): the file "
                "or its directory is read-only or not ours."
            )
        if _is_corruption(error):
            return _CorruptError(
                f"The response cache {self.path} is unreadable or corrupt ({error}). Delete it, or "
                'open it with SQLiteBackend(path, on_corrupt="reset") to start a fresh cache.'
            )
        return CacheBackendError(f"The response cache {self.path} failed: {error}.")

    def _reset(self) -> None:
        """Move the damaged file aside under a unique name and start a fresh cache."""
        self.close()
        try:
            current = os.stat(self.path).st_ino
        except OSError:
            current = None
        if current is not None and current == self._inode:  # else another process reset it
            stamp = time.strftime("%Y%m%dT%H%M%S")
            base = f"{self.path}.corrupt-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            for suffix in ("", "-wal", "-shm"):
                candidate = Path(f"{self.path}{suffix}")
                if candidate.exists():
                    target = Path(f"{base}{suffix}")
                    _move_aside(candidate, target)
                    self.moved_aside.append(target)
        self._local = threading.local()
        self._open_checked()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Queue this process's writers on a lock of its own, fairly, within ``busy_timeout``.

        Threads of one process would otherwise meet at SQLite's busy handler, which polls with
        sleeps: under load most of them time out although the lock is free most of the time.
        """
        if not self._write_lock.acquire(timeout=self.busy_timeout):
            raise CacheBackendError(
                f"The response cache {self.path} stayed locked by other threads for more than "
                f"{self.busy_timeout:g} s. The call goes on without the cache."
            )
        try:
            yield
        finally:
            self._write_lock.release()

    @contextlib.contextmanager
    def _guard(self, kind: Kind = "read") -> Iterator[sqlite3.Connection]:
        """Turn any SQLite failure into ``CacheBackendError`` (resetting a damaged file if asked),
        never bad data; skip the file while the lock breaker is open."""
        state = self._breaker.state(kind)
        if state == "open":
            raise _LockedError(
                f"The response cache {self.path} is locked by another process; promptcache skips "
                f"it for {self._breaker.retry_in(kind):.1f} s more. The call goes on without the cache."
            )
        probing = state == "probe"
        try:
            if self._unchecked:
                self._create_checked()  # before SQLite creates it, so it is 0600
            # A probe is one try without waiting: a lock still held costs microseconds.
            conn = self._conn(0.0 if probing else None)
            try:
                if self._unchecked:
                    self._open_checked()
                    self._unchecked = False
                yield conn
            finally:
                if probing:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn(self.busy_timeout)
        except sqlite3.Error as e:
            error = self._error(e)
            if isinstance(error, _LockedError):
                self._breaker.trip(kind)
            if isinstance(error, _CorruptError) and self.on_corrupt == "reset":
                self._reset()
                raise CacheBackendError(
                    f"The response cache {self.path} was corrupt and has been reset ({e})."
                ) from e
            raise error from e
        except _LockedError:  # found by the deferred checks of a busy start
            self._breaker.trip(kind)
            raise
        except _CorruptError as e:  # found by the deferred checks of a busy start
            if self.on_corrupt != "reset":
                raise
            self._reset()
            raise CacheBackendError(f"The response cache {self.path} was corrupt and has been reset.") from e
        except OSError as e:
            raise _UnwritableError(f"The response cache {self.path} cannot be used ({e}).") from e
        self._breaker.close(kind)

    # -- the CacheBackend protocol ------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        with self._guard() as conn:
            row = conn.execute(_GET, (key,)).fetchone()
            if row is None:
                return None
            value, crc, accessed, expires = row
            now = self._clock()
            if not (isinstance(value, bytes) and isinstance(crc, int)
                    and isinstance(accessed, int | float)
                    and (expires is None or isinstance(expires, int | float))):
                # SQLite keeps whatever type was written: a row another program left is a miss
                conn.execute("DELETE FROM entries WHERE key = ?", (key,))
                return None
            if expires is not None and now >= expires:
                conn.execute("DELETE FROM entries WHERE key = ? AND expires <= ?", (key, now))
                return None
            if zlib.crc32(value) != crc:
                conn.execute("DELETE FROM entries WHERE key = ?", (key,))
                return None
            if now - accessed > _ACCESS_REFRESH:
                conn.execute("UPDATE entries SET accessed = ? WHERE key = ?", (now, key))
            return bytes(value)

    def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        now = self._clock()
        expires = None if ttl is None else now + ttl
        row = (key, value, zlib.crc32(value), len(value), now, now, expires)
        with self._writing(), self._guard("write") as conn:
            conn.execute(_PUT, row)
            total = conn.execute("SELECT bytes FROM stats WHERE id = 0").fetchone()[0]
            if total > self.max_bytes:
                self._evict(conn, now)

    def _evict(self, conn: sqlite3.Connection, now: float) -> None:
        """Drop expired entries, then the least recently used, down to 90% of ``max_bytes``."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM entries WHERE expires IS NOT NULL AND expires <= ?", (now,))
            target = int(self.max_bytes * 0.9)
            while True:
                total, count = conn.execute("SELECT bytes, entries FROM stats").fetchone()
                if total <= target or count == 0:
                    break
                conn.execute(
                    "DELETE FROM entries WHERE key IN (SELECT key FROM entries ORDER BY accessed LIMIT ?)",
                    (max(1, count // 10),),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def delete(self, key: str) -> None:
        with self._writing(), self._guard("write") as conn:
            conn.execute("DELETE FROM entries WHERE key = ?", (key,))

    def delete_prefix(self, prefix: str) -> None:
        """Remove every entry whose key starts with ``prefix`` (one namespace of the adapter)."""
        with self._writing(), self._guard("write") as conn:
            if not prefix:
                conn.execute("DELETE FROM entries")
                return
            end = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # keys in [prefix, end) share the prefix
            conn.execute("DELETE FROM entries WHERE key >= ? AND key < ?", (prefix, end))

    def clear(self) -> None:
        self.delete_prefix("")

    def purge_expired(self) -> int:
        """Delete expired entries now (they are otherwise dropped when read or when evicting)."""
        with self._guard("write") as conn:
            cursor = conn.execute(
                "DELETE FROM entries WHERE expires IS NOT NULL AND expires <= ?", (self._clock(),)
            )
            return cursor.rowcount

    def __len__(self) -> int:
        with self._guard() as conn:
            count: int = conn.execute("SELECT entries FROM stats").fetchone()[0]
            return count

    def close(self) -> None:
        """Close every connection this backend opened, in any thread."""
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()
