"""Clocks: the seam through which time enters the cache model, so tests and simulations control it."""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "WallClock"]


@runtime_checkable
class Clock(Protocol):
    """Returns the current time in seconds (any epoch; only differences matter)."""

    def now(self) -> float: ...


class WallClock:
    """The real time (``time.time()``), the default everywhere."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to: for tests and offline simulation."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("a ManualClock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when
