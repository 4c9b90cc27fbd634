"""The search for the cheapest placement: dynamic programs over the candidates and TTLs.

A placement's cost (:func:`promptcache.placement.expected_cost`) is a sum over the segments
between consecutive breakpoints, each priced by the breakpoint that ends it, plus the tail and this
request's own bill (the tie-break). So the cheapest placement from a candidate on extends the
cheapest placements from the candidates after it, and the work grows with the square of the
candidates, not with their subsets (17 candidates and 4 slots: 3,214 subsets, each under several
TTL patterns, against 136 pairs of candidates, each under a few labels). What the rest of the
cost depends on besides the position is carried in a small label, and labels with the same future
are merged:

* breakpoints used (the budget, and one more to tell "no slot" from "not worth it");
* the TTL rank reached (longer TTLs first);
* whether the newest warm prefix is within some breakpoint's lookback (if not, every segment after
  it is rewritten);
* for this request's bill: the entry it reads (A) and the last long-TTL breakpoint (B).

When no request is in flight and no near-minimum candidate lies in the newest warm entry's
lookback window (the usual case), :func:`_search_backward` runs backwards from the end of the
prompt, where A, B and C (this request's last breakpoint) are decided first, with the breakpoint
counts as one vector per label and, where a near-minimum breakpoint may not take effect, the
expected price of the next one in effect; the suffixes a candidate may precede are merged by label
over the candidates after it (:func:`_merged`). Otherwise :func:`_search_labels` runs forwards and
carries the expected position of the last breakpoint in effect, the chance the window is
covered, and the prefix in flight. Both are exact: ``tests/planner/test_placement.py`` checks them
against enumerating every subset under every TTL assignment.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptcache.placement import TIE_BREAK, Point, Problem

__all__ = ["Search", "search"]


@dataclass(frozen=True, slots=True)
class Search:
    """The cheapest placement within the budget, and within one slot more (to tell a
    candidate left out for want of a slot from one not worth its write)."""

    points: tuple[Point, ...]
    cost: float
    wider: tuple[Point, ...]
    wider_cost: float


def search(problem: Problem, budget: int) -> Search:
    """The cheapest placement using at most ``budget`` breakpoints besides the pinned ones.

    Exact: the optimum enumerating every subset of candidates under every TTL assignment that
    keeps longer TTLs first would find. Ties go to fewer breakpoints.
    """
    if _backward_applies(problem):
        return _search_backward(problem, budget)
    return _search_labels(problem, budget)


# A label: (optional breakpoints used, rank of the last TTL (0 = longest; -1 before the first),
#           P(newest warm entry out of every lookback so far), E[tokens of the last breakpoint in
#           effect], E[those tokens, when out of lookback], E[premium a later write over the
#           pending one pays], tokens this request reads (A), tokens at the switch to shorter
#           TTLs or later reads (max(A, B)), tokens of the last breakpoint this request bills).
_Label = tuple[int, int, float, float, float, float, int, float, int]
# What each label holds: cost so far and a back pointer (node position, label, ttl).
_Entry = tuple[float, int, "_Label | None", str]


def _search_labels(problem: Problem, budget: int) -> Search:
    """The general program: any candidate may miss the minimum, a request may be in flight.

    Forward over the candidates; a label carries what the rest of the cost depends on (see
    ``_Label``), and its value is the least cost of reaching it.
    """
    nodes = problem.candidates
    n = len(nodes)
    ttls = problem.ttls
    by_rank = sorted(ttls, key=lambda t: ttls.index(t), reverse=True)  # longest first
    rank = {t: r for r, t in enumerate(by_rank)}
    long, short = problem.long_ttl, problem.short_ttl
    r_read = problem.read
    w = problem.write
    w_long, w_short = w[long], w[short]
    kappa = w_long - w_short
    pending = problem.pending
    newest = problem.warm[-1] if problem.warm else None
    lookback = problem.lookback
    kmax = max(0, budget) + 1
    pinned_at = [c.pinned is not None for c in nodes]
    # No pinned node strictly between two positions: the nearest pinned node at or after each.
    next_pinned = [n] * (n + 1)
    for pos in range(n - 1, -1, -1):
        next_pinned[pos] = pos if pinned_at[pos] else next_pinned[pos + 1]
    reach = [problem.reached(c.index) for c in nodes]
    # Highest entry any later node can read: a tie-break label above it is as good as infinity.
    later_reach = [-1] * (n + 1)
    for pos in range(n - 1, -1, -1):
        later_reach[pos] = max(later_reach[pos + 1], reach[pos])
    p0 = 1.0 if newest is not None else 0.0
    if newest is not None and pending >= 0 and newest <= pending < newest + lookback:
        p0 = 0.0  # the entry in flight covers the newest warm prefix in every outcome

    def in_window(i: int) -> bool:
        return newest is not None and newest <= i < newest + lookback

    def beyond_window(i: int) -> bool:
        return newest is not None and i >= newest + lookback

    def segment(i: int, tokens: int, pt: float, wt: float, lab: _Label) -> float:
        _, _, pu, last, last_cov, *_ = lab
        cost = pt * (tokens - last)
        if beyond_window(i):
            cost += (wt - pt) * (tokens * pu - last_cov)
        return cost

    def through_pending(lab: _Label) -> tuple[float, _Label]:
        """Pass the prefix a request in flight writes: in effect in every outcome."""
        k, tr, pu, _, _, lb, a, e, lastdet = lab
        cost = segment(pending, problem.pending_tokens, problem.pending_price, w_short, lab)
        if in_window(pending):
            pu = 0.0
        tokens = problem.pending_tokens
        return cost, (k, tr, pu, float(tokens), tokens * pu, lb, a, e, lastdet)

    def add(pos: int, ttl: str, lab: _Label) -> tuple[float, _Label]:
        c = nodes[pos]
        i, tokens, p = c.index, c.tokens, min(1.0, max(0.0, c.clear))
        k, tr, pu, last, last_cov, lb, a, e, lastdet = lab
        cost = 0.0
        if i == pending:
            # In effect in every outcome: at its own TTL when it clears, else as the entry in
            # flight (short TTL).
            cost = (p * segment(i, tokens, c.price[ttl], w[ttl], lab)
                    + (1 - p) * segment(i, tokens, problem.pending_price, w_short, lab))
            if in_window(i):
                pu = 0.0
            last, last_cov, lb = float(tokens), tokens * pu, 0.0
        else:
            cost = p * segment(i, tokens, c.price[ttl], w[ttl], lab)
            last = p * tokens + (1 - p) * last
            if in_window(i):
                pu, last_cov = (1 - p) * pu, (1 - p) * last_cov
            else:
                last_cov = p * tokens * pu + (1 - p) * last_cov
            lb = (p * (w[ttl] - 1.0) if pending >= 0 and i > pending else 0.0) + (1 - p) * lb
        # This request's bill (the tie-break), kept additive: see _finish.
        bill = 0.0
        r = rank[ttl]
        if r > 0 and tr <= 0:
            e = lastdet  # B: the last long-TTL breakpoint billed
            bill += kappa * e
        if c.counts:
            got = reach[pos]
            if got > a:
                bill += (got - a) * (r_read - w_long)
                if r > 0 and got > e:
                    bill += (got - e) * kappa
                    e = got
                a = got
            lastdet = tokens
        if r > 0 and e >= later_reach[pos + 1] and e >= a:
            e = float("inf")  # no later read can raise max(A, B): forget its value
        if not c.pinned:
            k += 1
        return cost + TIE_BREAK * bill, (k, r, pu, last, last_cov, lb, a, e, lastdet)

    def finish(lab: _Label, last_index: int) -> float:
        """The tail after the last breakpoint, the premium over the write in flight, and the
        bill terms left: B if no TTL got shorter, C."""
        cost = 0.0
        if last_index < pending:
            cost, lab = through_pending(lab)
        _, tr, _, last, _, lb, a, _, lastdet = lab
        cost += problem.total - last + problem.pending_duplicate * lb
        bill = 0.0
        if tr <= 0:
            bill += kappa * max(a, lastdet)
        bill += max(a, lastdet) * (w_short - 1.0) + problem.total
        return cost + TIE_BREAK * bill

    start: _Label = (0, -1, p0, 0.0, 0.0, 0.0, 0, 0.0, 0)
    labels: list[dict[_Label, _Entry]] = [{} for _ in range(n)]
    for pos in range(n):
        node = nodes[pos]
        options = (node.pinned,) if node.pinned else ttls
        # Predecessors: the start (no pinned node before) and every earlier node with no pinned
        # node strictly between.
        sources: list[tuple[int, _Label, float]] = []
        if next_pinned[0] >= pos:
            sources.append((-1, start, 0.0))
        for prev in range(pos - 1, -1, -1):
            if next_pinned[prev + 1] < pos:
                break
            sources.extend((prev, lab, entry[0]) for lab, entry in labels[prev].items())
        out = labels[pos]
        for ttl in options:
            r = rank[ttl]
            for prev, lab, so_far in sources:
                if lab[1] > r or lab[0] + (0 if node.pinned else 1) > kmax:
                    continue
                cost = so_far
                cur = lab
                prev_index = nodes[prev].index if prev >= 0 else -1
                if prev_index < pending < node.index:
                    extra, cur = through_pending(cur)
                    cost += extra
                extra, new = add(pos, ttl, cur)
                cost += extra
                old = out.get(new)
                if old is None or cost < old[0]:
                    out[new] = (cost, prev, lab, ttl)
    # Ends: the start or any node with no pinned node after it.
    finals: list[tuple[float, int, int, _Label]] = []
    if next_pinned[0] >= n:
        finals.append((finish(start, -1), 0, -1, start))
    for pos in range(n):
        if next_pinned[pos + 1] < n:
            continue
        for lab, (so_far, *_rest) in labels[pos].items():
            finals.append((so_far + finish(lab, nodes[pos].index), lab[0], pos, lab))
    finals.sort(key=lambda f: f[1])  # fewer breakpoints first: ties go to them

    def best(limit: int) -> tuple[tuple[Point, ...], float]:
        top: tuple[float, int, _Label] | None = None
        for cost, k, pos, lab in finals:
            if k <= limit and (top is None or cost < top[0] - 1e-9):
                top = (cost, pos, lab)
        assert top is not None, "the pinned markers alone are always a placement"
        points: list[Point] = []
        cost, pos, lab = top
        cur: _Label | None = lab
        while pos >= 0 and cur is not None:
            _, prev, prev_lab, ttl = labels[pos][cur]
            points.append((nodes[pos].index, ttl))
            pos, cur = prev, prev_lab
        return tuple(reversed(points)), cost

    chosen, cost = best(max(0, budget))
    wider, wider_cost = best(max(0, budget) + 1)
    return Search(points=chosen, cost=cost, wider=wider, wider_cost=wider_cost)


# The lookback of the newest warm entry, as the backward program knows it for a suffix: no
# candidate after the window (nothing to decide), a suffix that assumes the window will be
# covered (still to be), or has been, and one that assumes it will not (every segment after the
# window is then rewritten).
_FREE, _NEED, _COVERED, _BROKEN = 0, 1, 2, 3

# A suffix's label: (TTL rank of its first breakpoint, lookback state, tokens of the entry this
# request reads (None while no breakpoint in the suffix reaches one; 0 once only "known" matters),
# whether C and B (this request's last breakpoint, last long-TTL one) are decided, and the
# expected price of the first breakpoint in effect from here (1.0: the uncached tail)).
_Suffix = tuple[int, int, "int | None", bool, bool, float]


def _backward_applies(problem: Problem) -> bool:
    """The backward program's assumptions: nothing in flight, and no near-minimum candidate in
    the newest warm entry's lookback window (whose coverage would then be a chance)."""
    if problem.pending >= 0:
        return False
    newest = problem.warm[-1] if problem.warm else None
    return all(c.clear >= 1.0 or newest is None
               or not newest <= c.index < newest + problem.lookback
               for c in problem.candidates)


def _search_backward(problem: Problem, budget: int) -> Search:
    """Backwards over suffixes: ``best[pos][label][k]`` is the least cost of the placements
    that start at candidate ``pos`` and use ``k`` optional breakpoints.

    The cost is written as ``T + sum_j p_j * P_j * (x_j - R_j)`` over the placed breakpoints
    (``P_j`` prefix tokens, ``x_j`` price per token of the segment ending there, ``p_j`` its
    chance of taking effect, ``R_j`` the expected price of the next one in effect after it, 1.0
    for the uncached tail): each breakpoint's term depends on the suffix after it only through
    ``R``, a number the label carries. Going backwards, the first breakpoint reached that
    counts in this request's bill is C, the first long-TTL one B, and the first that reaches a
    warm entry decides the read A (later ones read higher).
    """
    nodes = problem.candidates
    n = len(nodes)
    ttls = problem.ttls
    longest_first = ttls[::-1]
    rank = {t: r for r, t in enumerate(longest_first)}
    write = problem.write
    w_long, w_short = write[problem.long_ttl], write[problem.short_ttl]
    kappa = w_long - w_short
    a_weight = problem.read - w_long
    c_weight = w_short - 1.0
    total = problem.total
    eps = TIE_BREAK
    width = max(0, budget) + 2  # optional breakpoints 0 .. budget + 1
    inf = float("inf")
    newest = problem.warm[-1] if problem.warm else None
    tokens = [c.tokens for c in nodes]
    chance = [min(1.0, max(0.0, c.clear)) for c in nodes]
    counts = [c.counts for c in nodes]
    reach = [problem.reached(c.index) if c.counts else -1 for c in nodes]
    zone = []  # -2: no warm entry; -1 before the newest one's window, 0 in it, 1 after it
    for c in nodes:
        if newest is None:
            zone.append(-2)
        else:
            zone.append(-1 if c.index < newest else 0 if c.index < newest + problem.lookback
                        else 1)
    shift = [0 if c.pinned else 1 for c in nodes]
    options = [(c.pinned,) if c.pinned else ttls for c in nodes]
    pinned_at = [pos for pos in range(n) if nodes[pos].pinned]
    first_pinned = pinned_at[0] if pinned_at else n
    last_pinned = pinned_at[-1] if pinned_at else -1
    next_pinned = [n] * n
    upcoming = n
    for pos in range(n - 1, -1, -1):
        next_pinned[pos] = upcoming
        if nodes[pos].pinned:
            upcoming = pos
    # Price per token of the segment ending at each node, by TTL rank: when its earlier prefix
    # is readable, and when the newest warm entry is out of every lookback (after the window).
    prices = [[(nodes[pos].price[t], write[t] if zone[pos] == 1 else nodes[pos].price[t])
               for t in longest_first] for pos in range(n)]

    def place(pos: int, r: int, state: int, a: int | None, c_done: bool, b_done: bool,
              after: float) -> tuple[float, _Suffix]:
        """``pos`` placed before a suffix with this label (``after``: its R)."""
        p = chance[pos]
        x = prices[pos][r][1 if state == _BROKEN else 0]
        cost = p * tokens[pos] * (x - after)  # the same arithmetic as the search's inner loop
        bill = 0.0
        if counts[pos]:
            if not c_done:
                bill += tokens[pos] * c_weight
                c_done = True
            if r == 0 and not b_done:
                bill += max(a or 0, tokens[pos]) * kappa
                b_done = True
            if a is None and reach[pos] >= 0:
                a = reach[pos]
                bill += a * a_weight
        if b_done and a is not None:
            a = 0  # once B is decided, only whether A is known matters
        return cost + eps * bill, (r, state, a, c_done, b_done, p * x + (1 - p) * after)

    def transit(pos: int, r: int, label: _Suffix) -> tuple[float, _Suffix] | None:
        """``pos`` placed before the suffix ``label``: None where the order or the window's
        promise forbids it."""
        r_next, state, a, c_done, b_done, after = label
        if r_next < r:
            return None  # longer TTLs first
        z = zone[pos]
        if z == 0:
            if state == _BROKEN:
                return None
            if state == _NEED:
                state = _COVERED
        elif z == -1 and state == _NEED:
            return None  # the window was promised a breakpoint and none came
        return place(pos, r, state, a, c_done, b_done, after)

    def endings(pos: int, r: int) -> list[tuple[float, _Suffix]]:
        """``pos`` as the last breakpoint (a suffix of one), under each window assumption."""
        states = (_NEED, _BROKEN) if zone[pos] == 1 else (_FREE,)
        return [place(pos, r, state, None, False, False, 1.0) for state in states]

    best: list[dict[_Suffix, list[float]]] = [{} for _ in range(n)]
    # The suffixes a breakpoint at ``pos`` may precede (those of the candidates after it up to
    # the next pinned one), merged by label: see _merged.
    reachable: dict[_Suffix, list[float]] = {}
    for pos in range(n - 1, -1, -1):
        here = best[pos]
        s = shift[pos]
        z, at, p_here, counted = zone[pos], tokens[pos], chance[pos], counts[pos]
        a_here = reach[pos] if reach[pos] >= 0 else None
        counts_from = range(width - s)
        for ttl in options[pos]:
            r = rank[ttl]
            if pos >= last_pinned:
                for base, key in endings(pos, r):
                    vec = here.setdefault(key, [inf] * width)
                    if base < vec[s]:
                        vec[s] = base
            x_free, x_broken = prices[pos][r]
            for (r_next, state, a, c_done, b_done, after), later in reachable.items():
                # transit() and place(), inlined: this loop is the search's whole cost.
                if r_next < r:
                    continue
                if z == 0:
                    if state == _BROKEN:
                        continue
                    if state == _NEED:
                        state = _COVERED
                elif z == -1 and state == _NEED:
                    continue
                x = x_broken if state == _BROKEN else x_free
                d = p_here * at * (x - after)
                bill = 0.0
                if counted:
                    if not c_done:
                        bill += at * c_weight
                        c_done = True
                    if r == 0 and not b_done:
                        bill += max(a or 0, at) * kappa
                        b_done = True
                    if a is None and a_here is not None:
                        a = a_here
                        bill += a * a_weight
                if b_done and a is not None:
                    a = 0
                d += eps * bill
                key = (r, state, a, c_done, b_done, p_here * x + (1 - p_here) * after)
                got = here.get(key)
                if got is None:
                    here[key] = [inf] * s + [v + d for v in later[:width - s]]
                    continue
                for k in counts_from:
                    v = later[k] + d
                    if v < got[k + s]:
                        got[k + s] = v
        if pos:
            reachable = _merged(here, {} if nodes[pos].pinned else reachable)

    def opening(label: _Suffix) -> float | None:
        _, state, a, _, b_done, _ = label
        if state == _NEED:
            return None  # the window was promised a breakpoint and none came
        bill = total + (0.0 if b_done else (a or 0) * kappa)  # no long-TTL breakpoint: B is A
        return total + eps * bill

    # The cheapest complete placement for each count of optional breakpoints (the first found
    # among those within 1e-9 of each other).
    finals: list[tuple[float, int, _Suffix | None] | None] = [None] * width
    if first_pinned == n:
        finals[0] = (total + eps * total, -1, None)
    for pos in range(min(first_pinned + 1, n)):
        for label, vec in best[pos].items():
            start = opening(label)
            if start is None:
                continue
            for k, v in enumerate(vec):
                if v < inf:
                    old = finals[k]
                    if old is None or start + v < old[0] - 1e-9:
                        finals[k] = (start + v, pos, label)

    def close(made: float, value: float) -> bool:
        return made == value or abs(made - value) <= 1e-12 * max(1.0, abs(value))

    def placement(pos: int, label: _Suffix | None, k: int) -> tuple[Point, ...]:
        """Walk the suffix forward again, recomputing each step (the same arithmetic)."""
        out: list[Point] = []
        while label is not None:
            r = label[0]
            out.append((nodes[pos].index, longest_first[r]))
            value = best[pos][label][k]
            if pos >= last_pinned and k == shift[pos] and any(
                    key == label and close(base, value) for base, key in endings(pos, r)):
                break
            step: tuple[int, _Suffix] | None = None
            for nxt in range(pos + 1, min(n - 1, next_pinned[pos]) + 1):
                for later_label, later in best[nxt].items():
                    moved = transit(pos, r, later_label)
                    rest = k - shift[pos]
                    if moved is not None and moved[1] == label and rest >= 0 and close(
                            later[rest] + moved[0], value):
                        step = (nxt, later_label)
                        break
                if step is not None:
                    break
            assert step is not None, "every value was made by a step"
            k -= shift[pos]
            pos, label = step
        return tuple(out)

    def choose(limit: int) -> tuple[int, float, int, _Suffix | None]:
        top: tuple[int, float, int, _Suffix | None] | None = None
        for k in range(min(limit, width - 1) + 1):  # fewer breakpoints first: ties go to them
            final = finals[k]
            if final is not None and (top is None or final[0] < top[1] - 1e-9):
                top = (k, *final)
        assert top is not None, "the pinned markers alone are always a placement"
        return top

    narrow, broad = choose(max(0, budget)), choose(max(0, budget) + 1)
    chosen = placement(narrow[2], narrow[3], narrow[0])
    # One slot more found no cheaper placement (the usual case): the same walk, made once.
    wider = chosen if broad == narrow else placement(broad[2], broad[3], broad[0])
    return Search(points=chosen, cost=narrow[1], wider=wider, wider_cost=broad[1])


def _merged(here: dict[_Suffix, list[float]],
            rest: dict[_Suffix, list[float]]) -> dict[_Suffix, list[float]]:
    """The suffixes of one candidate (``here``) and of those after it (``rest``), the same
    label's merged into the least cost for each count.

    A step before a suffix depends on its label, not on where it starts, so the search extends
    each label once, not once per candidate holding it; and as rounding is monotone,
    ``min(a, b) + d`` is ``min(a + d, b + d)``: the costs are those the unmerged search
    computes. The labels keep the order they are first met in (``here``'s, then the later
    candidates' in prefix order), so the labels each step creates, and the order that settles
    ties, are the same too.
    """
    if not rest:
        return here
    out = {**here, **rest}  # here's labels first, then the others in their order
    for label in here.keys() & rest.keys():
        out[label] = [min(a, b) for a, b in zip(here[label], rest[label], strict=True)]
    return out
