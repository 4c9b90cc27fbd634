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
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, Literal

from ..errors import CacheBackendError
from .base import LocalBackend

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


class SQLiteBackend(LocalBackend):
    """A response cache in one SQLite file, safe across threads and processes.

    ``max_bytes`` caps the stored values; past it the least recently used entries go (access
    times are refreshed at most once a minute, so a hit is a single read). A file that is not a
    promptcache database, or is damaged, raises ``CacheBackendError``; with
    ``on_corrupt="reset"`` it is moved aside as ``<name>.corrupt`` and a fresh cache starts.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_bytes: int = 1024 * 1024 * 1024,
        busy_timeout: float = 30.0,
        on_corrupt: Literal["raise", "reset"] = "raise",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.max_bytes = max_bytes
        self.busy_timeout = busy_timeout
        self.on_corrupt = on_corrupt
        self._clock = clock
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        try:
            self._open_checked()
        except CacheBackendError:
            if on_corrupt != "reset":
                raise
            self._reset()

    # -- connections --------------------------------------------------------------------------

    def _create_file(self) -> None:
        """Create the file with mode 0600 before SQLite does, so cached answers stay private.

        SQLite gives the ``-wal`` and ``-shm`` files the mode of the main file.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            conn = self._connect()
            local.conn, local.pid = conn, os.getpid()
        return conn

    def _open_checked(self) -> None:
        self._create_file()
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
        except sqlite3.DatabaseError as e:
            raise self._corrupt(e) from e

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

    def _corrupt(self, error: BaseException) -> CacheBackendError:
        return CacheBackendError(
            f"The response cache {self.path} is unreadable or corrupt ({error}). Delete it, or "
            'open it with SQLiteBackend(path, on_corrupt="reset") to start a fresh cache.'
        )

    def _reset(self) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm"):
            candidate = Path(f"{self.path}{suffix}")
            if candidate.exists():
                os.replace(candidate, f"{candidate}.corrupt")
        self._local = threading.local()
        self._open_checked()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """Turn damage found mid-run into ``CacheBackendError`` (or a reset), never bad data."""
        try:
            yield self._conn()
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise CacheBackendError(
                    f"The response cache {self.path} stayed locked for {self.busy_timeout} s. "
                    "Another process holds a long write; raise busy_timeout or retry."
                ) from e
            raise self._handle_corrupt(e) from e
        except sqlite3.DatabaseError as e:
            raise self._handle_corrupt(e) from e

    def _handle_corrupt(self, error: sqlite3.Error) -> CacheBackendError:
        if self.on_corrupt == "reset":
            self._reset()
            return CacheBackendError(
                f"The response cache {self.path} was corrupt and has been reset ({error})."
            )
        return self._corrupt(error)

    # -- the CacheBackend protocol ------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        with self._guard() as conn:
            row = conn.execute(_GET, (key,)).fetchone()
            if row is None:
                return None
            value, crc, accessed, expires = row
            now = self._clock()
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
        with self._guard() as conn:
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
        with self._guard() as conn:
            conn.execute("DELETE FROM entries WHERE key = ?", (key,))

    def clear(self) -> None:
        with self._guard() as conn:
            conn.execute("DELETE FROM entries")

    def purge_expired(self) -> int:
        """Delete expired entries now (they are otherwise dropped when read or when evicting)."""
        with self._guard() as conn:
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
