"""A real ``redis-server`` on a free loopback port, for tests (plain helpers; the fixtures that use
them, ``redis_server``, ``redis_url`` and ``own_redis_server``, are in ``tests/conftest.py``).

The server comes from ``benchmarks/redis_server.py``'s ``redis_server()``, the one launcher the
benchmarks use too. Without the binary, tests skip locally with the reason, but fail under ``CI``,
where ``.ci/run`` installs it: a CI run that silently skipped every Redis test would prove nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from redis_server import DelayProxy, RedisServer, RedisUnavailable
from redis_server import redis_server as _launch

__all__ = ["DelayProxy", "RedisServer", "running_redis"]


@contextlib.contextmanager
def running_redis() -> Iterator[RedisServer]:
    """A running server for the ``with`` block, or a skip (a failure under ``CI``) without one."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(_launch())
        except RedisUnavailable as e:
            if os.environ.get("CI"):
                pytest.fail(f"{e}; CI must provide it.")
            pytest.skip(str(e))
        yield server
