"""The placement search: the dynamic program finds what enumerating every subset finds."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache.limits import TTL_SECONDS
from promptcache.placement import Candidate, Point, Problem, expected_cost
from promptcache.placement_search import (
    Search,
    _backward_applies,
    _merged,
    _search_backward,
    _search_labels,
    search,
)


def brute_force(problem: Problem, budget: int) -> tuple[float, tuple[Point, ...]]:
    """The oracle: every subset of the optional candidates within the budget, with the pinned
    ones, under every TTL assignment that keeps longer TTLs first and pinned TTLs as given."""
    pinned = {c.index: c.pinned for c in problem.candidates if c.pinned}
    optional = [c.index for c in problem.candidates if not c.pinned]
    longest_first = sorted(problem.ttls, key=lambda t: -TTL_SECONDS[t])
    best: tuple[float, tuple[Point, ...]] | None = None
    for k in range(min(budget, len(optional)) + 1):
        for subset in itertools.combinations(optional, k):
            points = sorted({*subset, *pinned})
            for ranks in itertools.product(range(len(longest_first)), repeat=len(points)):
                if list(ranks) != sorted(ranks):
                    continue
                pattern = tuple((i, longest_first[r]) for i, r in zip(points, ranks, strict=True))
                if any(pinned.get(i, t) != t for i, t in pattern):
                    continue
                cost = expected_cost(problem, pattern)
                if best is None or cost < best[0] - 1e-9:
                    best = (cost, pattern)
    assert best is not None
    return best


WRITE = {"5m": 1.25, "1h": 2.0}


@st.composite
def problems(draw: st.DrawFn) -> tuple[Problem, int]:
    n = draw(st.integers(0, 6))
    ttls = draw(st.sampled_from([("5m", "1h"), ("5m",), ("1h",)]))
    indices = sorted(draw(st.sets(st.integers(0, 40), min_size=n, max_size=n)))
    size = (max(indices) + 1 if indices else 1) + draw(st.integers(0, 5))
    widths = draw(st.lists(st.integers(0, 400), min_size=size, max_size=size))
    prefix = list(itertools.accumulate(widths))
    candidates = []
    pinned_left = draw(st.integers(0, 2))
    for i in indices:
        pin = None
        if pinned_left and draw(st.booleans()) and draw(st.booleans()):
            pin = draw(st.sampled_from(ttls))
            pinned_left -= 1
        clear = draw(st.sampled_from([1.0, 1.0, 1.0, 0.3, 0.75]))
        candidates.append(Candidate(
            index=i, tokens=prefix[i],
            price={t: draw(st.floats(0.1, 2.2, allow_nan=False)) for t in ttls},
            clear=clear, counts=clear == 1.0 or draw(st.booleans()), pinned=pin))
    # Pinned TTLs must already be in order (the rules reject the request otherwise).
    pins = [c for c in candidates if c.pinned]
    if [TTL_SECONDS[c.pinned or ""] for c in pins] != sorted(
            (TTL_SECONDS[c.pinned or ""] for c in pins), reverse=True):
        candidates = [Candidate(index=c.index, tokens=c.tokens, price=c.price, clear=c.clear,
                                counts=c.counts) for c in candidates]
    warm = sorted(draw(st.sets(st.integers(0, size - 1), max_size=3)))
    pending = draw(st.sampled_from([-1, -1, *range(size)]))
    if pending in warm:
        pending = -1
    lookback = draw(st.sampled_from([3, 6, 20, size + 1]))
    duplicate = 0
    if pending >= 0:
        below = [p for p in warm if p <= pending]
        duplicate = prefix[pending] - (prefix[max(below)] if below else 0)
    problem = Problem(
        candidates=tuple(candidates), ttls=ttls, read=draw(st.sampled_from([0.1, 0.05])),
        write={t: WRITE[t] for t in ttls}, total=prefix[-1], warm=tuple(warm),
        warm_tokens=tuple(prefix[p] for p in warm), lookback=lookback, pending=pending,
        pending_tokens=prefix[pending] if pending >= 0 else 0,
        pending_price=draw(st.floats(0.1, 2.2)), pending_duplicate=duplicate)
    return problem, draw(st.integers(0, 4))


def _sure(problem: Problem) -> Problem:
    """The same problem with every candidate clearing the minimum and nothing in flight."""
    return Problem(
        candidates=tuple(Candidate(index=c.index, tokens=c.tokens, price=c.price,
                                   pinned=c.pinned) for c in problem.candidates),
        ttls=problem.ttls, read=problem.read, write=problem.write, total=problem.total,
        warm=problem.warm, warm_tokens=problem.warm_tokens, lookback=problem.lookback)


def _agrees(problem: Problem, budget: int, found: Search) -> None:
    cost, _ = brute_force(problem, budget)
    # Same optimum: the chosen placement, priced by the definition, costs what the best subset
    # costs (to rounding), and the search's own running total agrees.
    assert expected_cost(problem, found.points) == pytest.approx(cost, rel=1e-9, abs=1e-9)
    assert found.cost == pytest.approx(cost, rel=1e-9, abs=1e-9)
    wider, _ = brute_force(problem, budget + 1)
    assert expected_cost(problem, found.wider) == pytest.approx(wider, rel=1e-9, abs=1e-9)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_the_general_search_finds_the_cost_of_enumerating_every_subset(
        case: tuple[Problem, int]) -> None:
    problem, budget = case
    _agrees(problem, budget, _search_labels(problem, budget))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_the_backward_search_finds_the_cost_of_enumerating_every_subset(
        case: tuple[Problem, int]) -> None:
    problem, budget = case
    if not _backward_applies(problem):
        problem = _sure(problem)
    _agrees(problem, budget, _search_backward(problem, budget))
    _agrees(problem, budget, search(problem, budget))


@settings(max_examples=400, deadline=None)
@given(problems())
def test_the_chosen_placement_is_valid(case: tuple[Problem, int]) -> None:
    problem, budget = case
    found = search(problem, budget)
    pinned = {c.index: c.pinned for c in problem.candidates if c.pinned}
    placed = dict(found.points)
    assert all(placed.get(i) == t for i, t in pinned.items())
    assert len(set(placed) - set(pinned)) <= budget
    seconds = [TTL_SECONDS[t] for _, t in found.points]
    assert seconds == sorted(seconds, reverse=True)
    assert [i for i, _ in found.points] == sorted(placed)


def test_seventeen_candidates_are_searched_without_enumerating_subsets() -> None:
    # 17 candidates, 4 slots: 3,214 subsets (each under several TTL patterns) for an enumeration;
    # the search visits each pair of candidates once per label, and finds the enumeration's
    # optimum (checked on the first 9, where the enumeration is still quick).
    prefix = list(itertools.accumulate(300 + 37 * i for i in range(40)))
    cands = tuple(Candidate(index=2 * i + 1, tokens=prefix[2 * i + 1],
                            price={"5m": 0.2 + (i % 5) * 0.3, "1h": 0.5 + (i % 3) * 0.2})
                  for i in range(17))
    problem = Problem(candidates=cands, ttls=("5m", "1h"), read=0.1, write=WRITE,
                      total=prefix[-1], warm=(3, 9), warm_tokens=(prefix[3], prefix[9]))
    small = Problem(candidates=cands[:9], ttls=("5m", "1h"), read=0.1, write=WRITE,
                    total=prefix[-1], warm=(3, 9), warm_tokens=(prefix[3], prefix[9]))
    assert search(small, 4).cost == pytest.approx(brute_force(small, 4)[0], rel=1e-9)
    found = search(problem, 4)
    assert len(found.points) <= 4
    assert expected_cost(problem, found.points) == pytest.approx(found.cost, rel=1e-9)



def test_the_suffixes_of_later_candidates_are_merged_by_label_in_the_order_first_met() -> None:
    # The backward search extends each label once, with the least cost per count over the
    # candidates holding it; the order first met settles ties, so it must be kept.
    inf = float("inf")
    shared = (0, 0, 0, True, True, 1.25)
    mine = (1, 0, 0, True, False, 1.25)
    later = (0, 0, 0, True, True, 2.0)
    here = {mine: [inf, 5.0, inf], shared: [inf, 100.0, 50.0]}
    rest = {later: [inf, 7.0, inf], shared: [inf, 80.0, 60.0]}
    out = _merged(here, rest)
    assert list(out) == [mine, shared, later]
    assert out[shared] == [inf, 80.0, 50.0]
    assert here[shared] == [inf, 100.0, 50.0] and rest[shared] == [inf, 80.0, 60.0]  # not mutated
    assert _merged(here, {}) is here
