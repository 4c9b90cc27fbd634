"""Which prompt prefixes are warm in the provider's cache, shared across workers.

Entries say when a prefix (by fingerprint) was written and for how long the provider keeps it.
``warm_once`` is single-flight: of many workers wanting the same prefix warm, one takes a lock
and writes it; the others wait for the entry to appear and then read the warm cache, so a fleet
pays for one cache write, not one per worker. ``RedisRegistry`` shares this across processes and
machines (lock = ``SET NX PX``); ``InProcessRegistry`` does the same between threads when no Redis
is configured.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ._redis_client import OutageGuard, deadline, redis_from_url
from .base import CacheUnavailableWarning

__all__ = ["InProcessRegistry", "RedisRegistry", "WarmEntry", "WarmOutcome", "WarmPrefixRegistry"]

T = TypeVar("T")

_UNLOCK = """if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1])
else return 0 end"""
_RENEW = """if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2])
else return 0 end"""


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmEntry:
    """A prefix known to be in the provider's cache."""

    fingerprint: str
    """Identifies the prefix (a hash of everything up to a breakpoint)."""
    written_at: float
    """Unix time of the cache write; wall clock because workers on other machines read it."""
    ttl: float
    """Seconds the provider keeps it (300 for Anthropic's 5m, 3600 for 1h)."""

    @property
    def expires_at(self) -> float:
        return self.written_at + self.ttl


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmOutcome(Generic[T]):
    """What ``warm_once`` did."""

    entry: WarmEntry | None
    """The entry now registered (``None`` only if the shared store was unreachable)."""
    wrote: bool
    """True for the one worker that ran ``write``."""
    value: T | None
    """What ``write`` returned, for that worker; ``None`` for the others."""


class WarmPrefixRegistry(Protocol):
    """Where warm prefixes are recorded."""

    def get(self, fingerprint: str) -> WarmEntry | None: ...

    def mark_warm(self, fingerprint: str, *, ttl: float, written_at: float | None = None) -> WarmEntry: ...

    def forget(self, fingerprint: str) -> None: ...

    def warm_once(
        self,
        fingerprint: str,
        *,
        ttl: float,
        write: Callable[[], T],
        wait_timeout: float = 60.0,
    ) -> WarmOutcome[T]: ...


class _SingleFlight:
    """``warm_once`` over four primitives (read, try-lock, renew, unlock) that subclasses provide.

    A writer holds its lock for ``lock_ttl`` seconds and renews it every third of that while
    ``write`` runs, so a writer that dies (SIGKILL, a lost machine) blocks the others for at most
    ``lock_ttl``; then one of them takes over.
    """

    poll_interval = 0.01
    lock_ttl = 10.0

    def get(self, fingerprint: str) -> WarmEntry | None:
        raise NotImplementedError

    def mark_warm(self, fingerprint: str, *, ttl: float, written_at: float | None = None) -> WarmEntry:
        raise NotImplementedError

    def _try_lock(self, fingerprint: str, token: str) -> bool:
        raise NotImplementedError

    def _renew(self, fingerprint: str, token: str) -> None:
        """Extend a held lock by ``lock_ttl``; a no-op where locks cannot outlive their holder."""

    def _unlock(self, fingerprint: str, token: str) -> None:
        raise NotImplementedError

    def _write_holding(self, fingerprint: str, token: str, write: Callable[[], T]) -> T:
        """Run ``write`` while a heartbeat thread keeps the lock alive (where locks expire)."""
        if type(self)._renew is _SingleFlight._renew:
            return write()
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(self.lock_ttl / 3):
                self._renew(fingerprint, token)

        beat = threading.Thread(target=heartbeat, name="promptcache-warm-lock", daemon=True)
        beat.start()
        try:
            return write()
        finally:
            done.set()
            beat.join()

    def warm_once(
        self,
        fingerprint: str,
        *,
        ttl: float,
        write: Callable[[], T],
        wait_timeout: float = 60.0,
    ) -> WarmOutcome[T]:
        """Run ``write`` in exactly one worker unless ``fingerprint`` is already warm.

        If the writer fails, its lock is released and a waiting worker takes over; if it dies, its
        lock expires within ``lock_ttl``. A worker that has waited ``wait_timeout`` seconds stops
        waiting and writes itself (with a ``CacheUnavailableWarning``): a stuck peer costs one
        extra cache write, never a failed call.
        """
        deadline = time.monotonic() + wait_timeout
        while True:
            entry = self.get(fingerprint)
            if entry is not None:
                return WarmOutcome(entry=entry, wrote=False, value=None)
            token = uuid.uuid4().hex
            if self._try_lock(fingerprint, token):
                try:
                    entry = self.get(fingerprint)  # finished while we were taking the lock
                    if entry is not None:
                        return WarmOutcome(entry=entry, wrote=False, value=None)
                    value = self._write_holding(fingerprint, token, write)
                    return WarmOutcome(entry=self.mark_warm(fingerprint, ttl=ttl), wrote=True, value=value)
                finally:
                    self._unlock(fingerprint, token)
            if time.monotonic() >= deadline:
                warnings.warn(
                    f"Waited {wait_timeout:g} s for another worker to warm prefix {fingerprint}; "
                    "writing it here instead.",
                    CacheUnavailableWarning,
                    stacklevel=2,
                )
                value = write()
                return WarmOutcome(entry=self.mark_warm(fingerprint, ttl=ttl), wrote=True, value=value)
            time.sleep(self.poll_interval)


def _is_finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class InProcessRegistry(_SingleFlight):
    """Warm prefixes known to this process only; single-flight between its threads."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[str, WarmEntry] = {}
        self._locks: dict[str, str] = {}
        self._mutex = threading.Lock()

    def get(self, fingerprint: str) -> WarmEntry | None:
        with self._mutex:
            entry = self._entries.get(fingerprint)
            if entry is not None and self._clock() >= entry.expires_at:
                del self._entries[fingerprint]
                return None
            return entry

    def mark_warm(self, fingerprint: str, *, ttl: float, written_at: float | None = None) -> WarmEntry:
        entry = WarmEntry(
            fingerprint=fingerprint,
            written_at=self._clock() if written_at is None else written_at,
            ttl=ttl,
        )
        with self._mutex:
            self._entries[fingerprint] = entry
        return entry

    def forget(self, fingerprint: str) -> None:
        with self._mutex:
            self._entries.pop(fingerprint, None)

    def _try_lock(self, fingerprint: str, token: str) -> bool:
        with self._mutex:
            if fingerprint in self._locks:
                return False
            self._locks[fingerprint] = token
            return True

    def _unlock(self, fingerprint: str, token: str) -> None:
        with self._mutex:
            if self._locks.get(fingerprint) == token:
                del self._locks[fingerprint]


class RedisRegistry(_SingleFlight):
    """Warm prefixes in Redis, shared by every worker that points at it.

    Entries expire with the provider's TTL (``PX``), so Redis never reports a cold prefix as warm.
    If Redis is down, workers warn once and act alone: each warms what it needs.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        client: Any = None,
        prefix: str = "promptcache:warm:",
        socket_timeout: float = 0.25,
        retry_after: float = 5.0,
        lock_ttl: float = 10.0,
    ) -> None:
        self._guard = OutageGuard("The Redis warm-prefix registry", retry_after=retry_after)
        self._client = client if client is not None else redis_from_url(url, socket_timeout=socket_timeout)
        self.prefix = prefix
        self.socket_timeout = socket_timeout
        """Each Redis operation's deadline, as a whole (see ``promptcache._redis``)."""
        self.lock_ttl = lock_ttl
        """Seconds a writer's lock outlives its last heartbeat (a dead writer blocks no longer)."""

    def get(self, fingerprint: str) -> WarmEntry | None:
        """The entry, or ``None``; a malformed entry is absent (with a warning), never an error."""
        if not self._guard.available():
            return None
        name = f"{self.prefix}entry:{fingerprint}"
        try:
            with deadline(self.socket_timeout):
                raw = self._client.get(name)
        except self._guard.response_error as e:
            self._guard.malformed(name, e)
            return None
        except self._guard.errors as e:
            self._guard.failed(e)
            return None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            written_at, ttl = data["written_at"], data["ttl"]
            if not all(_is_finite(v) for v in (written_at, ttl)):
                raise TypeError("written_at and ttl must be finite numbers")
        except (ValueError, TypeError, KeyError) as e:  # JSONDecodeError is a ValueError
            self._guard.malformed(name, e)
            return None
        return WarmEntry(fingerprint=fingerprint, written_at=float(written_at), ttl=float(ttl))

    def mark_warm(self, fingerprint: str, *, ttl: float, written_at: float | None = None) -> WarmEntry:
        entry = WarmEntry(
            fingerprint=fingerprint,
            written_at=time.time() if written_at is None else written_at,
            ttl=ttl,
        )
        remaining_ms = int((entry.expires_at - time.time()) * 1000)
        if remaining_ms > 0 and self._guard.available():
            payload = json.dumps({"written_at": entry.written_at, "ttl": entry.ttl})
            try:
                with deadline(self.socket_timeout):
                    self._client.set(f"{self.prefix}entry:{fingerprint}", payload, px=remaining_ms)
            except self._guard.errors as e:
                self._guard.failed(e)
        return entry

    def forget(self, fingerprint: str) -> None:
        if not self._guard.available():
            return
        try:
            with deadline(self.socket_timeout):
                self._client.delete(f"{self.prefix}entry:{fingerprint}")
        except self._guard.errors as e:
            self._guard.failed(e)

    def _try_lock(self, fingerprint: str, token: str) -> bool:
        if not self._guard.available():
            return True  # no shared state: this worker warms for itself
        try:
            with deadline(self.socket_timeout):
                got = self._client.set(
                    f"{self.prefix}lock:{fingerprint}", token, nx=True, px=int(self.lock_ttl * 1000)
                )
        except self._guard.errors as e:
            self._guard.failed(e)
            return True
        return bool(got)

    def _renew(self, fingerprint: str, token: str) -> None:
        if not self._guard.available():
            return
        try:
            with deadline(self.socket_timeout):
                self._client.eval(
                    _RENEW, 1, f"{self.prefix}lock:{fingerprint}", token, int(self.lock_ttl * 1000)
                )
        except self._guard.errors as e:
            self._guard.failed(e)

    def _unlock(self, fingerprint: str, token: str) -> None:
        if not self._guard.available():
            return
        try:
            with deadline(self.socket_timeout):
                self._client.eval(_UNLOCK, 1, f"{self.prefix}lock:{fingerprint}", token)
        except self._guard.errors as e:
            self._guard.failed(e)
