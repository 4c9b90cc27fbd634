"""Functions run in child processes by the multi-process cache tests (importable by spawn)."""

from __future__ import annotations

import sys
import time

from promptcache.cache import RedisRegistry, SQLiteBackend


def write_many(path: str, worker: int, count: int) -> None:
    # Eight writers on two cores queue for the lock longer than the default 0.25 s, which would
    # drop writes (by design: a cache write is never worth a stall); this test is about loss.
    backend = SQLiteBackend(path, busy_timeout=30)
    for i in range(count):
        backend.set(f"w{worker}-{i}", f"value {worker} {i}".encode())
    backend.close()


def write_until_killed(path: str) -> None:
    """Write forever, printing each index only after its commit returned."""
    backend = SQLiteBackend(path)
    payload = b"x" * 200_000
    i = 0
    while True:
        backend.set(f"k{i}", payload + str(i).encode())
        print(i, flush=True)
        i += 1


def warm_once(url: str, fingerprint: str, counter_key: str) -> bool:
    import redis

    registry = RedisRegistry(url)
    counter = redis.Redis.from_url(url)

    def write() -> str:
        counter.incr(counter_key)
        time.sleep(0.3)  # a slow cache write: the others must wait, not write too
        return "written"

    outcome = registry.warm_once(fingerprint, ttl=300, write=write, wait_timeout=20)
    return outcome.wrote


def hold_warm_lock(url: str, fingerprint: str, lock_ttl: float) -> None:
    """Take the registry's lock for ``fingerprint`` and hang inside ``write`` until killed."""
    registry = RedisRegistry(url, lock_ttl=lock_ttl)

    def write() -> None:
        print("writing", flush=True)
        time.sleep(3600)

    registry.warm_once(fingerprint, ttl=300, write=write)


if __name__ == "__main__":
    if sys.argv[1] == "hold-warm-lock":
        hold_warm_lock(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        write_until_killed(sys.argv[1])
