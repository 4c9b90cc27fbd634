"""The first-write prior shared by a fleet: reuse gaps per class of layers, kept in the shared store.

A layer with no reuse gap of its own yet takes its first write's TTL from other layers of its class
(its volatility, its size within a factor of 4; see :class:`~promptcache.state_model.GapPrior`). Kept
only in one process, that evidence is lost at every restart (a deploy) and never reaches the other
workers of a fleet, so each fresh process pays the first-write lesson again: a 100k-token static
prefix written for 5 minutes when its kind comes back every 20. A store that also implements
:class:`FleetPriors` keeps the last :data:`~promptcache.state_model.PRIOR_GAPS` gaps of each class for
the whole fleet (folded in by the same server-side merge that records a sighting, and read back
by the same round trip that plans a request: no call of its own).

Anything can be left in a shared store, so every class read back is checked here: a field name
that is no class, a value that is not a short list of finite gaps within the horizon, is absent
(the process's own prior is used), never an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from promptcache.blocks import Volatility

__all__ = ["PRIOR_FIELDS", "PRIOR_SIZES", "FleetPriors", "class_field", "parse_gaps"]

#: The size classes shared (``int(log4(tokens))``): 0-10 reaches 4M tokens, past every context
#: window; the store reads exactly these fields, so a poisoned store cannot make it read more.
PRIOR_SIZES = range(11)


@runtime_checkable
class FleetPriors(Protocol):
    """A shared store that also keeps the fleet's first-write prior (see the module docstring)."""

    def gap_priors(self) -> Mapping[tuple[str, int], tuple[float, ...]]:
        """Each class's reuse gaps (oldest first) as the last successful fetch read them (no
        round trip; empty: none read yet)."""
        ...


def class_field(cls: tuple[str, int] | None) -> str:
    """The store's field of class ``cls`` (``"static:3"``); empty when it is not shared."""
    if cls is None or cls[1] not in PRIOR_SIZES:
        return ""
    return f"{cls[0]}:{cls[1]}"


#: Every field the store keeps, in the order it reads them, with its class.
PRIOR_FIELDS: Mapping[str, tuple[str, int]] = {
    class_field((v.value, b)): (v.value, b) for v in Volatility for b in PRIOR_SIZES}


def parse_gaps(raw: object, *, most: int, horizon: float) -> tuple[float, ...]:
    """A class's gaps from the store's ``"g1,g2,..."``: at most ``most`` of them, each a finite
    number of seconds from 0 to ``horizon`` (a longer gap is new content, never a reuse).

    Raises ValueError or TypeError on anything else: the caller treats the class as absent.
    """
    if not isinstance(raw, bytes):
        raise TypeError(f"a {type(raw).__name__}, not bytes")
    if len(raw) > most * 32:
        raise ValueError(f"{len(raw)} bytes, more than {most} gaps take")
    parts = raw.decode("ascii").split(",")
    if len(parts) > most:
        raise ValueError(f"{len(parts)} gaps, more than {most}")
    gaps = tuple(float(p) for p in parts)
    if not all(math.isfinite(g) and 0 <= g <= horizon for g in gaps):
        raise ValueError(f"a gap outside 0-{horizon:g} s")
    return gaps
