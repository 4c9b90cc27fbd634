"""Clocks for the simulators: time is an input, never read from a global.

Cache semantics are all about time (a TTL, a response that has or has not started yet), so every
simulator takes a :class:`Clock`. Tests and replays use :class:`ManualClock` and move time by hand;
the loopback servers default to :class:`WallClock` so a user's own code sees real time pass.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "WallClock"]


@runtime_checkable
class Clock(Protocol):
    """A source of time in seconds. Only differences matter, so the epoch is arbitrary."""

    def now(self) -> float: ...


class WallClock:
    """Monotonic wall time: immune to the system clock being set backwards mid-run."""

    def now(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to, so a test can step over a TTL in no real time.

    Thread-safe, because the loopback servers read it from their request threads.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` and return the new time. Time never runs backwards."""
        if seconds < 0:
            raise ValueError(f"A clock cannot move backwards (advance({seconds}) was called).")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        """Jump to an absolute time, at or after the current one (for replaying a trace)."""
        with self._lock:
            if when < self._now:
                raise ValueError(
                    f"A clock cannot move backwards (set({when}) while it reads {self._now})."
                )
            self._now = when
