"""A placement problem, and what a placement costs: the definition the search optimises.

The optimizer turns a Prompt and what the CacheState saw into a :class:`Problem`: candidate
positions in prefix order, each with its prefix tokens, its steady-state price per token for each
TTL (from the reuse estimate of its layer: whoever estimates reuse plugs in here), the chance it
clears the model minimum, and whether the user pinned it. This module knows nothing of layers,
estimates or providers. :func:`expected_cost` prices one placement directly; the search for the
cheapest one is :mod:`promptcache.placement_search`.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["TIE_BREAK", "Candidate", "Point", "Problem", "expected_cost", "steady_state",
           "this_request", "units"]

#: Weight of this request's own bill in the objective: it only breaks ties of the steady state.
TIE_BREAK = 1e-6

Point = tuple[int, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A position that may carry a breakpoint."""

    index: int
    #: Estimated tokens from the start of the request to the end of this block.
    tokens: int
    #: Expected cost per token per request of the segment ending here, for each TTL, when the
    #: earlier prefix is readable: ``(w + (U - 1) * (q*r + (1-q)*w)) / U`` for the layer's ``U``
    #: expected uses and ``q`` chance of the next use within the TTL.
    price: Mapping[str, float]
    #: Chance that the prefix reaches the model minimum as the provider counts it.
    clear: float = 1.0
    #: Whether it counts in this request's own bill (a near-minimum prefix counts when it reaches
    #: the minimum at the expected token ratio).
    counts: bool = True
    #: The TTL of a marker the user (or the request-level automatic marker) fixed here.
    pinned: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """Everything the cost of a placement depends on, in base-price units."""

    candidates: tuple[Candidate, ...]
    #: TTLs, shortest first.
    ttls: tuple[str, ...]
    read: float
    write: Mapping[str, float]
    total: int
    #: Positions holding a readable entry, and each one's prefix tokens.
    warm: tuple[int, ...] = ()
    warm_tokens: tuple[int, ...] = ()
    #: How many positions ending at a breakpoint the provider checks for an entry.
    lookback: int = 20
    #: The longest prefix a request in flight is writing (-1: none), its prefix tokens, the
    #: short-TTL price of the segment ending there, and the tokens a later breakpoint would
    #: write a second time (from the highest warm entry below it).
    pending: int = -1
    pending_tokens: int = 0
    pending_price: float = 0.0
    pending_duplicate: int = 0
    _by_index: dict[int, Candidate] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        order = sorted(self.candidates, key=lambda c: c.index)
        object.__setattr__(self, "candidates", tuple(order))
        object.__setattr__(self, "_by_index", {c.index: c for c in order})
        pairs = sorted(zip(self.warm, self.warm_tokens, strict=True))
        object.__setattr__(self, "warm", tuple(p for p, _ in pairs))
        object.__setattr__(self, "warm_tokens", tuple(t for _, t in pairs))

    @property
    def short_ttl(self) -> str:
        return self.ttls[0]

    @property
    def long_ttl(self) -> str:
        return self.ttls[-1]

    def candidate(self, index: int) -> Candidate:
        return self._by_index[index]

    def reached(self, index: int) -> int:
        """Prefix tokens of the highest warm entry a breakpoint at ``index`` reads (-1: none)."""
        k = bisect.bisect_right(self.warm, index) - 1
        if k >= 0 and self.warm[k] > index - self.lookback:
            return self.warm_tokens[k]
        return -1


# --- the definition ------------------------------------------------------------------------


def _outcomes(problem: Problem, points: Sequence[Point]) -> list[tuple[float, list[Point]]]:
    """The breakpoints that take effect, with their probability: a prefix below the minimum
    caches nothing, and near-minimum ones clear it with their ``clear`` probability."""
    sure: list[Point] = []
    unsure: list[tuple[int, str, float]] = []
    by_index = problem._by_index
    for i, t in points:
        p = by_index[i].clear
        if p >= 1.0:
            sure.append((i, t))
        elif p > 0.0:
            unsure.append((i, t, p))
    if not unsure:
        return [(1.0, sure)]
    out = []
    for mask in itertools.product((True, False), repeat=len(unsure)):
        prob = 1.0
        kept = list(sure)
        for on, (i, t, p) in zip(mask, unsure, strict=True):
            prob *= p if on else 1 - p
            if on:
                kept.append((i, t))
        if prob > 0:
            out.append((prob, sorted(kept)))
    return out


def _steady(problem: Problem, effective: Sequence[Point]) -> float:
    pending = problem.pending
    beyond = bool(effective) and effective[-1][0] > pending >= 0
    last_ttl = effective[-1][1] if effective else problem.short_ttl
    by_index = problem._by_index
    prices = {i: by_index[i].price for i, _ in effective}
    tokens = {i: by_index[i].tokens for i, _ in effective}
    if pending >= 0 and pending not in prices:
        # Later requests read the prefix a request in flight is writing, whatever this one does:
        # price its segments as held by that entry.
        effective = sorted([*effective, (pending, problem.short_ttl)])
        prices[pending] = {problem.short_ttl: problem.pending_price}
        tokens[pending] = problem.pending_tokens
    broken_after = -1
    if problem.warm:
        newest = problem.warm[-1]
        if not any(b - problem.lookback < newest <= b for b, _ in effective):
            broken_after = newest
    total = 0.0
    prev = 0
    for index, ttl in effective:
        per_token = (problem.write[ttl] if 0 <= broken_after < index else prices[index][ttl])
        total += (tokens[index] - prev) * per_token
        prev = tokens[index]
    if beyond:
        # A request in flight is writing the prefix up to ``pending``: a later breakpoint writes
        # it a second time now (at w, instead of 1 unmarked), for nobody.
        total += problem.pending_duplicate * (problem.write[last_ttl] - 1.0)
    return total + (problem.total - prev)


def steady_state(problem: Problem, points: Sequence[Point]) -> float:
    """Expected cost per request over the lifetime of each prefix, in base-price units."""
    return sum(p * _steady(problem, eff) for p, eff in _outcomes(problem, sorted(points)))


def this_request(problem: Problem, points: Sequence[Point]) -> tuple[int, int, int, int]:
    """Tokens this request reads, writes for the long TTL, for the short one, and sends uncached.

    Positions A (highest readable entry), B (highest long-TTL breakpoint after A) and C (last
    breakpoint) of the Anthropic docs.
    """
    by_index = problem._by_index
    effective = [(i, t) for i, t in points if by_index[i].counts]
    a = max((problem.reached(i) for i, _ in effective), default=-1)
    a = max(a, 0)
    long, short = problem.ttls[-1], problem.ttls[0]
    b = max([a] + [by_index[i].tokens for i, t in effective
                   if t == long and t != short])
    c = max([a] + [by_index[i].tokens for i, _ in effective])
    return a, b - a, c - b, problem.total - c


def units(problem: Problem, read: int, w_long: int, w_short: int, plain: int) -> float:
    """This request's bill in base-price units."""
    return (read * problem.read + w_long * problem.write[problem.long_ttl]
            + w_short * problem.write[problem.short_ttl] + plain)


def expected_cost(problem: Problem, points: Sequence[Point]) -> float:
    """The objective: steady-state cost per request; this request's bill breaks ties."""
    return (steady_state(problem, points)
            + TIE_BREAK * units(problem, *this_request(problem, points)))
