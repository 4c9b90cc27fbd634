"""The breakpoint optimizer: a pure function from a Prompt (+ limits, cache state, clock) to a Plan.

How it decides (docs/optimizer.md has a worked example):

1. Candidates. The last markable block of every layer (thinking, redacted-thinking and empty blocks
   cannot carry a marker), and a *lookback bridge* when the previous request's cached prefix lies
   20 or more blocks before the end of this one: the provider only finds an earlier entry within
   the 20 positions ending at a breakpoint. Where the previous request of a conversation wrote is
   a function of the content alone (the end of the history this request extends: the position
   before the last assistant turn), so a worker that never saw that request still bridges to it.
2. Uncertainty is a cost, not a veto. Our token estimate is not the provider's count: the model
   row's token ratio band says how far apart they may be, so a candidate near the minimum, on
   either side of it, clears it with some probability (:meth:`ModelLimits.clear_probability`). A
   marker below the minimum costs nothing (the API ignores it), so such a candidate is placed
   while a slot is free, and when slots compete the expected cost (over whether each such marker
   takes effect) ranks it. Only a candidate that cannot reach the minimum even at the top of the
   band is refused (``below-minimum``).
   Reuse is estimated per layer from the hints and what the CacheState saw (see
   :class:`~promptcache.state.LayerEstimate`); a layer whose content was new on every recent
   request is not written, and the plan warns, naming it.
3. Cost: the expected cost per request in steady state. Each segment between two breakpoints is
   written once and then, on each later request sharing its prefix, read if that request comes
   within the TTL, or rewritten if not: with ``U`` expected uses of the prefix and ``q`` the chance
   the next reuse is within the TTL, a segment costs ``(w + (U-1) * (q*r + (1-q)*w)) / U`` per
   request, ``r`` and ``w`` the model's read and write multipliers; tokens after the last
   breakpoint cost 1.0. If the previous request's prefix is out of every breakpoint's lookback,
   the conversation is rewritten on every request (cost ``w``). This request's own bill breaks ties.
4. Choice. Every subset of candidates that fits the budget, with every TTL assignment that keeps
   longer TTLs first, is scored and the cheapest kept. Each candidate not chosen gets the reason.

The per-layer, per-TTL figures are computed once per call, and the state is asked only about the
candidate positions and the recent turn boundaries (one round trip to a shared store), so planning
the next turn of a long conversation does not walk its history.

User markers are fixed points: kept, counted, validated, never dropped.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from promptcache.blocks import Layer, Volatility
from promptcache.errors import CacheWarning, PromptError
from promptcache.limits import TTL_SECONDS, ModelLimits, limits_for
from promptcache.plan import CostEstimate, LayerSummary, Placement, Plan, Rejection
from promptcache.prompt import Prompt
from promptcache.rules import Marker, check_markers, request_level_ttl
from promptcache.state import CacheEntry, CacheState, LayerEstimate, layer_keys

__all__ = ["DEFAULT_MARGIN", "PrefixCounter", "optimize"]


@runtime_checkable
class PrefixCounter(Protocol):
    """Counts the exact tokens of a prompt's prefix, usually through a provider endpoint.

    ``count_prefix(prompt, index)`` counts blocks ``0..index`` of ``prompt``. It is a seam: the
    provider adapter renders the prefix its own way (see
    :class:`promptcache.anthropic.AnthropicPrefixCounter`), so the planner never imports one.
    Used only to settle candidates that may or may not reach a model minimum as the provider
    counts.
    """

    def count_prefix(self, prompt: Prompt, index: int) -> int: ...

#: Our token estimate (tiktoken cl100k) differs from the provider's tokenizer: the model row's
#: ``token_ratio_range`` says by how much, and this margin around its ``token_ratio`` is the least
#: uncertainty assumed (see :meth:`ModelLimits.clear_probability`).
DEFAULT_MARGIN = 0.10
#: Turn boundaries looked up in the state, walking back from the end (where earlier requests of
#: the conversation wrote).
RECENT_TURNS = 6


@dataclass(frozen=True, slots=True)
class _Candidate:
    index: int
    kind: str  # "layer" or "bridge"
    layer: str
    note: str


@dataclass(frozen=True, slots=True)
class _Scored:
    cost: float
    points: tuple[tuple[int, str], ...]  # (index, ttl) sorted by index


class _Model:
    """Everything the cost function needs, precomputed once per optimize() call."""

    def __init__(self, prompt: Prompt, limits: ModelLimits, est: Mapping[str, LayerEstimate],
                 warm: Sequence[int], clear: Mapping[int, float], pending: int = -1) -> None:
        self.prompt = prompt
        self.pending = pending  # the longest prefix a request in flight is writing (-1: none)
        self.limits = limits
        self.est = est
        self.warm = sorted(warm)
        self.clear = clear  # index -> probability the prefix clears the minimum (absent: 1 or 0)
        # lookback_blocks == 0 means "no lookback limit" (OpenAI considers every breakpoint).
        self.lookback = limits.lookback_blocks or len(prompt.blocks) + 1
        ttls = limits.ttls or ("5m", "1h")
        self.ttls = ttls
        self.short_ttl, self.long_ttl = ttls[0], ttls[-1]
        self.prefix = prompt.prefix_tokens
        self.total = prompt.total_tokens
        self.read = limits.cache_read_multiplier
        self.write = {t: limits.write_multiplier(t) for t in ttls}
        self.layers = [layer for layer in prompt.layers if layer.stop > layer.start]
        self._starts = [layer.start for layer in self.layers]
        # Expected uses of the prefix ending in each layer: change rates add up along the prefix.
        rate = 0.0
        self.prefix_uses: dict[str, float] = {}
        self.q: dict[tuple[str, str], float] = {}
        self._per_token: dict[tuple[str, str], float] = {}
        for layer in self.layers:
            e = est[layer.name]
            rate += 1.0 / e.uses
            uses = max(1.0, 1.0 / min(1.0, rate))
            self.prefix_uses[layer.name] = uses
            for ttl in ttls:
                q = e.hit_probability(TTL_SECONDS[ttl])
                self.q[layer.name, ttl] = q
                w = self.write[ttl]
                steady = q * self.read + (1 - q) * w
                self._per_token[layer.name, ttl] = (w + (uses - 1) * steady) / uses

    def layer_at(self, index: int) -> Layer:
        return self.layers[bisect.bisect_right(self._starts, index) - 1]

    def steady(self, layer: str, ttl: str) -> float:
        q = self.q[layer, ttl]
        return q * self.read + (1 - q) * self.write[ttl]

    def read_position(self, points: Sequence[tuple[int, str]]) -> int:
        """The highest warm position some breakpoint can reach through the lookback (-1: none)."""
        lookback = self.lookback
        best = -1
        for p in self.warm:
            if any(b - lookback < p <= b for b, _ in points):
                best = max(best, p)
        return best

    def _outcomes(self, points: Sequence[tuple[int, str]]
                  ) -> list[tuple[float, list[tuple[int, str]]]]:
        """The breakpoints that take effect, with their probability: a prefix below the minimum
        caches nothing, and near-minimum ones clear it with the probability in ``clear``."""
        sure, unsure = [], []
        for i, t in points:
            p = self.clear.get(i, 1.0)
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

    def _steady(self, effective: Sequence[tuple[int, str]]) -> float:
        beyond = bool(effective) and effective[-1][0] > self.pending >= 0
        if self.pending >= 0 and all(i != self.pending for i, _ in effective):
            # Later requests read the prefix a request in flight is writing, whatever this one
            # does: price its segments as held by that entry.
            effective = sorted([*effective, (self.pending, self.short_ttl)])
        broken_after = -1
        if self.warm:
            newest = self.warm[-1]
            lookback = self.lookback
            if not any(b - lookback < newest <= b for b, _ in effective):
                broken_after = newest
        total = 0.0
        prev_tokens = 0
        for index, ttl in effective:
            tokens = self.prefix[index]
            if 0 <= broken_after < index:
                per_token = self.write[ttl]
            else:
                per_token = self._per_token[self.layer_at(index).name, ttl]
            total += (tokens - prev_tokens) * per_token
            prev_tokens = tokens
        if beyond:
            # A request in flight is writing the prefix up to ``pending``: a later breakpoint
            # writes it a second time now (at w, instead of 1 unmarked), for nobody.
            read = max((p for p in self.warm if p <= self.pending), default=-1)
            dup = self.prefix[self.pending] - (self.prefix[read] if read >= 0 else 0)
            total += dup * (self.write[effective[-1][1]] - 1.0)
        return total + (self.total - prev_tokens)

    def steady_state(self, points: Sequence[tuple[int, str]]) -> float:
        """Expected cost per request over the lifetime of each prefix, in base-price units."""
        return sum(p * self._steady(eff) for p, eff in self._outcomes(points))

    def this_request(self, points: Sequence[tuple[int, str]]) -> tuple[int, int, int, int]:
        """Tokens read, written for the long TTL, for the short one, and sent uncached.

        Positions A (highest readable entry), B (highest long-TTL breakpoint after A) and C (last
        breakpoint) of the Anthropic docs. Near-minimum breakpoints count when their prefix reaches
        the minimum at the model's expected token ratio.
        """
        effective = [(i, t) for i, t in points
                     if i not in self.clear or self.prefix[i] >= self.limits.estimated_minimum]
        a_index = self.read_position(effective)
        a = self.prefix[a_index] if a_index >= 0 else 0
        b = max([a] + [self.prefix[i] for i, t in effective
                       if t == self.long_ttl and t != self.short_ttl])
        c = max([a] + [self.prefix[i] for i, _ in effective])
        return a, b - a, c - b, self.total - c

    def units(self, read: int, w_long: int, w_short: int, plain: int) -> float:
        return (read * self.read + w_long * self.write[self.long_ttl]
                + w_short * self.write[self.short_ttl] + plain)

    def cost(self, points: Sequence[tuple[int, str]]) -> float:
        """The objective: steady-state cost per request; this request's bill breaks ties."""
        return self.steady_state(points) + 1e-6 * self.units(*self.this_request(points))

    def estimate(self, points: Sequence[tuple[int, str]]) -> CostEstimate:
        read, w1h, w5m, plain = self.this_request(points)
        units = self.units(read, w1h, w5m, plain)
        amortised = self.steady_state(points)
        price = self.limits.input_price / 1e6 if self.limits.input_price is not None else None
        return CostEstimate(
            input_tokens=plain, cache_read_tokens=read, cache_write_5m_tokens=w5m,
            cache_write_1h_tokens=w1h, cost_units=units, uncached_units=float(self.total),
            amortised_units=amortised,
            billed_usd=units * price if price is not None else None,
            uncached_usd=self.total * price if price is not None else None,
            amortised_usd=amortised * price if price is not None else None,
        )


@functools.lru_cache(maxsize=4_096)
def _ttl_patterns(points: tuple[int, ...], fixed_items: tuple[tuple[int, str], ...],
                  ttls: tuple[str, ...]) -> tuple[tuple[tuple[int, str], ...], ...]:
    """Every TTL assignment in which longer TTLs precede shorter ones and fixed TTLs hold.

    Memoised: the same few point sets recur on every request of a service (bounded cache).
    """
    fixed = dict(fixed_items)
    ordered = sorted(ttls, key=lambda t: -TTL_SECONDS[t])  # longest first
    out = []
    k = len(points)
    # A non-increasing sequence of TTLs is a composition of k into len(ordered) runs.
    for cuts in itertools.combinations_with_replacement(range(k + 1), len(ordered) - 1):
        bounds = (0, *cuts, k)
        assignment = []
        for run, ttl in enumerate(ordered):
            assignment += [ttl] * (bounds[run + 1] - bounds[run])
        if all(fixed.get(p, t) == t for p, t in zip(points, assignment, strict=True)):
            out.append(tuple(zip(points, assignment, strict=True)))
    return tuple(out)


def _last_markable(prompt: Prompt, start: int, stop: int) -> int | None:
    for i in range(stop - 1, start - 1, -1):
        if prompt.blocks[i].markable:
            return i
    return None


def _previous_size(prompt: Prompt) -> int:
    """How many positions the previous request of this conversation had (-1: none)."""
    turns = prompt.turns
    for t_index in range(len(turns) - 1, 0, -1):
        if turns[t_index].role == "assistant":
            return turns[t_index - 1].stop
    return -1


def request_ends(prompt: Prompt, count: int = RECENT_TURNS) -> list[int]:
    """Where the previous requests of this conversation wrote, newest first.

    A request of a conversation is answered by an assistant turn that the next request appends
    (with new input after it); so each turn followed by an assistant turn ended an earlier
    request. Its conversation breakpoint is the last markable block of that turn, a
    function of the content alone: any worker finds it without having seen that request.
    """
    out: list[int] = []
    turns = prompt.turns
    for t_index in range(len(turns) - 1, 0, -1):
        if turns[t_index].role == "assistant":
            prev = turns[t_index - 1]
            end = _last_markable(prompt, prev.start, prev.stop)
            if end is not None:
                out.append(end)
            if len(out) >= count:
                break
    return out


def _estimates(prompt: Prompt, state: CacheState | None, fingerprints: Sequence[str],
               lookups: Sequence[int], now: float, previous_size: int,
               ) -> tuple[dict[str, LayerEstimate], dict[int, CacheEntry]]:
    """Each layer's reuse estimate, and the state's entries at the ``lookups`` positions
    (``previous_size``: how many positions the conversation's previous request had)."""
    if state is None:
        return {layer.name: LayerEstimate.from_hint(layer.reuse) for layer in prompt.layers}, {}
    keys = layer_keys(prompt, fingerprints)
    consecutive = {layer.name: previous_size for layer in prompt.layers if layer.append_only}
    entries, stats, seen = state.lookup([fingerprints[i] for i in lookups], now, keys,
                                        consecutive)
    est = {layer.name: LayerEstimate.from_hint(layer.reuse) for layer in prompt.layers}
    by_name = {layer.name: layer for layer in prompt.layers}
    for name, content in keys:
        layer = by_name[name]
        own_gap, size = seen.get((name, content), (None, 0))
        est[name] = LayerEstimate.from_stats(layer.reuse, stats.get(name), size > 0, own_gap,
                                             grows=layer.append_only, last_size=size)
    return est, {i: e for i in lookups if (e := entries.get(fingerprints[i])) is not None}


def _volatile_warning(layer: Layer, est: LayerEstimate, path: str) -> str:
    return (f"Layer {layer.name!r} ({path}, declared {layer.volatility.value}) had new content on "
            f"each of its last {est.window} requests, so it is not cached. Move what changes in "
            "it (a timestamp, a request id, per-request data) out of it, to the end of the prompt "
            "(the last user turn, or a layer with Volatility.TURN), and the layers before it "
            "cache again.")


def optimize(prompt: Prompt, *, state: CacheState | None = None, now: float | None = None,
             limits: ModelLimits | None = None, exact_counter: PrefixCounter | None = None,
             automatic: str | None = None, margin: float = DEFAULT_MARGIN) -> Plan:
    """Place ``cache_control`` breakpoints on ``prompt`` to minimise expected cost.

    ``state`` supplies warm prefixes and observed reuse (recommended in a long-running service;
    share one store across a fleet); ``now`` defaults to the state's clock. ``automatic``
    (``"5m"``/``"1h"``) reserves the request-level automatic ``cache_control`` for the last
    cacheable block. ``exact_counter`` settles candidates that may or may not reach the model
    minimum (without one they are placed when a slot is free, weighted by their chance);
    ``margin`` is the least relative error assumed for our token estimate.
    """
    if not isinstance(prompt, Prompt):
        hint = " call .build() first" if hasattr(prompt, "build") else ""  # type: ignore[unreachable]
        raise PromptError(f"optimize() takes a Prompt, got {type(prompt).__name__};{hint or ' '}"
                          "build one with PromptBuilder or prompt_from_request.", path="prompt")
    lim = limits if limits is not None else limits_for(prompt.model, provider="anthropic",
                                                        platform=prompt.platform)
    if automatic is None and lim.provider == "anthropic":
        # A request-level cache_control read from an Anthropic request keeps its slot; other
        # providers' renderers map or report it themselves.
        automatic = request_level_ttl(prompt.params)
    blocks = prompt.blocks
    if now is None:
        now = state.now() if state is not None else 0.0
    fingerprints = prompt.fingerprints if state is not None else ()
    notes: list[str] = []

    # --- fixed markers: the user's, and the request-level automatic one ---------------------
    fixed: dict[int, str] = dict(prompt.user_markers)  # carried by extend: no block scan
    markers = [Marker(index=i, ttl=t) for i, t in sorted(fixed.items())]
    auto_index: int | None = None
    if automatic is not None:
        auto_index = _last_markable(prompt, 0, len(blocks))
        if auto_index is None:
            notes.append("automatic cache_control requested but no block can carry a marker.")
        else:
            markers.append(Marker(index=auto_index, ttl=automatic, automatic=True))
            markers.sort(key=lambda m: (m.index, m.automatic))
    for path, rule, message in check_markers(prompt, markers, lim, margin=0.0):
        notes.append(message)
        warnings.warn(CacheWarning(message, path=path, rule=rule), stacklevel=2)
    budget = lim.max_breakpoints - len(markers)
    pinned = dict(fixed)
    if auto_index is not None and automatic is not None:
        pinned.setdefault(auto_index, automatic)

    if not blocks:
        empty = CostEstimate(input_tokens=0, cache_read_tokens=0, cache_write_5m_tokens=0,
                             cache_write_1h_tokens=0, cost_units=0, uncached_units=0,
                             amortised_units=0, billed_usd=None, uncached_usd=None,
                             amortised_usd=None)
        return Plan(model=prompt.model, limits=lim, placements=(), rejected=(), layers=(),
                    expected=empty, automatic_ttl=automatic, warnings=tuple(notes))

    # --- what the state knows, asked once: layer ends and the recent request ends ---------------
    layer_ends = {layer.name: _last_markable(prompt, layer.start, layer.stop)
                  for layer in prompt.layers if layer.stop > layer.start}
    previous = request_ends(prompt)
    lookups = sorted({*(i for i in layer_ends.values() if i is not None), *previous, *fixed})
    previous_size = _previous_size(prompt)
    est, entries = _estimates(prompt, state, fingerprints, lookups, now, previous_size)
    warm = [i for i, e in entries.items() if e.warm(now)]
    pending = {i for i, e in entries.items() if e.pending(now)}
    conv = next((layer for layer in prompt.layers if layer.append_only), None)
    if previous and conv is not None and previous[0] not in entries:
        # Deterministic placement: the previous request of this conversation wrote at its end.
        # Assume so unless this state saw that very request (and so knows it wrote nothing).
        saw_it = est[conv.name].last_size == previous_size
        if not saw_it and est[conv.name].uses > 1:
            warm.append(previous[0])
            notes.append(f"Assumed the previous request cached the conversation up to "
                         f"{blocks[previous[0]].path} (not seen by this state).")

    # --- candidates ------------------------------------------------------------------------------
    rejected: list[Rejection] = []
    candidates: dict[int, _Candidate] = {}
    clear: dict[int, float] = {}
    minimum = lim.min_cacheable_tokens
    for layer in prompt.layers:
        if layer.start == layer.stop:
            continue
        index = layer_ends[layer.name]
        last_path = blocks[layer.stop - 1].path
        if index is None:
            rejected.append(Rejection(path=last_path, layer=layer.name, rule="no-markable-block",
                                      reason="no block of this layer can carry cache_control."))
            continue
        note = ""
        if index != layer.stop - 1:
            note = f" (moved off {last_path}: {blocks[layer.stop - 1].unmarkable})"
        e = est[layer.name]
        if not layer.append_only and e.volatile:
            rejected.append(Rejection(
                path=blocks[index].path, layer=layer.name, rule="volatile",
                reason=f"new content on each of the last {e.window} requests; writing it would "
                       "pay the write premium for nothing"))
            if layer.volatility is not Volatility.TURN:
                notes.append(_volatile_warning(layer, e, blocks[layer.start].path))
            continue
        tokens = prompt.prefix_tokens[index]
        p = lim.clear_probability(tokens, margin)
        exact = None
        if p < 1.0 and exact_counter is not None:
            exact = _exact_prefix(exact_counter, prompt, index)
            if exact is not None:
                p = 1.0 if exact >= minimum else 0.0
        if p <= 0.0:
            counted = (f"{exact:,} tokens (counted exactly)" if exact is not None else
                       f"~{tokens:,} tokens, at most ~{lim.provider_tokens(tokens)[2]:,} as "
                       f"{lim.model} counts")
            rejected.append(Rejection(
                path=blocks[index].path, layer=layer.name, rule="below-minimum",
                reason=f"prefix {counted} is below the {minimum:,}-token minimum; merged into "
                       "the next breakpoint"))
            continue
        if p < 1.0:
            clear[index] = p
            low, _, high = lim.provider_tokens(tokens)
            note += (f" (prefix ~{tokens:,} tokens by our estimate, {low:,}-{high:,} as "
                     f"{lim.model} counts, against a {minimum:,}-token minimum: clears it with "
                     f"p~{p:.0%}; if it does not, the API ignores the marker at no cost; an "
                     "exact counter settles it)")
        if index in pending:
            rejected.append(Rejection(
                path=blocks[index].path, layer=layer.name, rule="pending-write",
                reason="a request in flight is writing this exact prefix and the provider makes it "
                       "readable only once that response starts; marking it again would pay a "
                       "second write (send concurrent requests through promptcache.warmup)"))
            continue
        candidates[index] = _Candidate(index, "layer", layer.name, note)

    in_flight = [i for i in pending if i not in warm]
    model = _Model(prompt, lim, est, warm, clear, max(in_flight, default=-1))

    # Lookback bridge: reach the newest warm prefix when every candidate is too far after it.
    lookback = model.lookback
    if warm:
        target = max(warm)
        reachable = [i for i in (*candidates, *fixed) if target <= i < target + lookback]
        if not reachable and any(i > target for i in candidates):
            bridge = _last_markable(prompt, target, min(len(blocks), target + lookback))
            if bridge is None:
                rejected.append(Rejection(
                    path=blocks[target].path, layer=model.layer_at(target).name,
                    rule="unreachable",
                    reason=f"the cached prefix ending here is more than {lookback} blocks before "
                           "the next breakpoint and no block within reach can carry a marker."))
            elif lim.clear_probability(prompt.prefix_tokens[bridge], margin) > 0:
                candidates[bridge] = _Candidate(
                    bridge, "bridge", model.layer_at(bridge).name,
                    f"lookback bridge: the previous request cached up to {blocks[target].path}, "
                    f"{max(candidates) - target} blocks before the end (the provider looks back "
                    f"only {lookback}); this marker reads it")

    # --- choose ----------------------------------------------------------------------------------
    optional = sorted(i for i in candidates if i not in pinned)

    scores: dict[tuple[tuple[int, str], ...], float] = {}  # both searches share evaluations
    pinned_items = tuple(sorted(pinned.items()))
    ttls = tuple(model.ttls)

    def best(limit: int) -> _Scored:
        top: _Scored | None = None
        for k in range(0, min(limit, len(optional)) + 1):
            for subset in itertools.combinations(optional, k):
                points = tuple(sorted({*subset, *pinned}))
                for pattern in _ttl_patterns(points, pinned_items, ttls):
                    c = scores.get(pattern)
                    if c is None:
                        c = scores[pattern] = model.cost(pattern)
                    if top is None or c < top.cost - 1e-9:
                        top = _Scored(c, pattern)
        assert top is not None
        return top

    chosen = best(max(0, budget))
    chosen_points = {i for i, _ in chosen.points}
    # Only to tell "no slot" from "not worth it" for what was left out.
    wider = best(max(0, budget) + 1) if set(optional) - chosen_points else chosen
    for index in optional:
        if index in chosen_points:
            continue
        cand = candidates[index]
        if index in {i for i, _ in wider.points}:
            rule, reason = "budget", (f"worth a breakpoint, but all {lim.max_breakpoints} slots "
                                      "went to placements that save more")
        else:
            rule, reason = "not-worth-it", ("expected reuse does not pay for the cache write "
                                            f"(layer {cand.layer!r}: ~{model.prefix_uses[cand.layer]:,.1f} "
                                            "uses)")
        if index in clear:
            rule = "safety-margin" if rule == "budget" else rule
            reason += cand.note
        rejected.append(Rejection(path=blocks[index].path, layer=cand.layer, rule=rule,
                                  reason=reason))

    placements = []
    short, long = model.short_ttl, model.long_ttl
    for index, ttl in chosen.points:
        layer = model.layer_at(index)
        if index in fixed:
            source, reason = "user", "set by hand; kept as given"
        elif index == auto_index:
            source, reason = "automatic", "request-level cache_control: the last cacheable block"
        else:
            cand = candidates[index]
            why = cand.note if cand.kind == "bridge" else f"end of layer {layer.name!r}{cand.note}"
            source = "optimizer"
            reason = (f"{why}; ~{model.prefix_uses[layer.name]:,.1f} expected uses, next use "
                      f"within {short} {model.q[layer.name, short]:.0%}, within {long} "
                      f"{model.q[layer.name, long]:.0%}: {ttl} costs "
                      f"{model.steady(layer.name, ttl):.2f}x per reuse")
        placements.append(Placement(index=index, path=blocks[index].path, ttl=ttl,
                                    layer=layer.name, prefix_tokens=prompt.prefix_tokens[index],
                                    source=source, reason=reason))  # type: ignore[arg-type]

    prefix = prompt.prefix_tokens
    layers = tuple(
        LayerSummary(
            name=layer.name, section=layer.section, volatility=layer.volatility,
            blocks=layer.stop - layer.start,
            tokens=prefix[layer.stop - 1] - (prefix[layer.start - 1] if layer.start else 0),
            prefix_tokens=prefix[layer.stop - 1], uses=est[layer.name].uses,
            p_within_5m=est[layer.name].hit_probability(TTL_SECONDS["5m"]),
            p_within_1h=est[layer.name].hit_probability(TTL_SECONDS["1h"]),
        )
        for layer in model.layers
    )
    return Plan(model=prompt.model, limits=lim, placements=tuple(placements),
                rejected=tuple(rejected), layers=layers,
                expected=model.estimate(chosen.points), automatic_ttl=automatic,
                warnings=tuple(notes), fingerprints=fingerprints)


def _exact_prefix(counter: PrefixCounter, prompt: Prompt, index: int) -> int | None:
    """Ask the exact counter for the tokens up to ``index``; None if it fails."""
    try:
        return counter.count_prefix(prompt, index)
    except Exception as e:  # an exact count is an option: fall back to the estimate
        warnings.warn(f"exact token count failed ({e}); using the estimate", CacheWarning,
                      stacklevel=3)
        return None
