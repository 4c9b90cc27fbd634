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
   :class:`~promptcache.state_model.LayerEstimate`); a layer whose content was new on every recent
   request is not written, and the plan warns, naming it.
3. Cost: the expected cost per request in steady state. Each segment between two breakpoints is
   written once and then, on each later request sharing its prefix, read if that request comes
   within the TTL, or rewritten if not: with ``U`` expected uses of the prefix and ``q`` the chance
   the next reuse is within the TTL, a segment costs ``(w + (U-1) * (q*r + (1-q)*w)) / U`` per
   request, ``r`` and ``w`` the model's read and write multipliers; tokens after the last
   breakpoint cost 1.0. If the previous request's prefix is out of every breakpoint's lookback,
   the conversation is rewritten on every request (cost ``w``). This request's own bill breaks ties.
4. Choice. :func:`promptcache.placement.search`, a dynamic program over the candidates in prefix
   order and the TTLs (longer first), finds the cheapest placement within the budget, the same
   one enumerating every subset would find, in time quadratic in the candidates. Each candidate
   not chosen gets the reason.

The per-layer, per-TTL figures are computed once per call, and the state is asked only about the
candidate positions and the recent turn boundaries (one round trip to a shared store), so planning
the next turn of a long conversation does not walk its history.

Token counts are offline estimates everywhere except where a decision turns on them: a candidate
near the model minimum is counted exactly when an ``exact_counter`` is given (and only then, and
only if it is still a candidate); the plan's ``counting`` line says which were.

User markers are fixed points: kept, counted, validated, never dropped.
"""

from __future__ import annotations

import bisect
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from promptcache.blocks import Layer, Volatility
from promptcache.errors import CacheWarning, PromptError
from promptcache.limits import TTL_SECONDS, ModelLimits, limits_for
from promptcache.placement import Candidate, Point, Problem, steady_state, this_request, units
from promptcache.placement_search import search
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
class _Fixed:
    """The markers the optimizer does not choose: the user's, and the request-level one."""

    user: dict[int, str]
    #: Every fixed position with its TTL (the automatic marker's included).
    pinned: dict[int, str]
    auto_index: int | None
    automatic: str | None
    budget: int
    notes: list[str]


@dataclass(slots=True)
class _Observed:
    """What the state knows about this prompt: reuse estimates and warm / in-flight entries."""

    est: dict[str, LayerEstimate]
    entries: dict[int, CacheEntry]
    warm: list[int]
    pending: set[int]
    layer_ends: dict[str, int | None]
    notes: list[str] = field(default_factory=list)


class _Pricing:
    """Each layer's steady-state price per token for each TTL, computed once per call.

    The prefix ending in a layer is used ``U`` times (change rates add up along the prefix), and
    ``q`` is the chance its next use comes within the TTL (asked of the estimate once per layer
    and TTL: the plan's reasons and layer summaries read the same figures).
    """

    def __init__(self, prompt: Prompt, limits: ModelLimits,
                 est: Mapping[str, LayerEstimate]) -> None:
        ttls = limits.ttls or ("5m", "1h")
        self.ttls = ttls
        self.short_ttl, self.long_ttl = ttls[0], ttls[-1]
        self.read = limits.cache_read_multiplier
        self.write = {t: limits.write_multiplier(t) for t in ttls}
        self.layers = [layer for layer in prompt.layers if layer.stop > layer.start]
        self._starts = [layer.start for layer in self.layers]
        rate = 0.0
        self.prefix_uses: dict[str, float] = {}
        self.q: dict[tuple[str, str], float] = {}
        self.per_token: dict[str, dict[str, float]] = {}
        asked = set(ttls) | {"5m", "1h"}  # the plan's layer summaries report 5m and 1h
        for layer in self.layers:
            e = est[layer.name]
            rate += 1.0 / e.uses
            uses = max(1.0, 1.0 / min(1.0, rate))
            self.prefix_uses[layer.name] = uses
            for ttl in asked:
                self.q[layer.name, ttl] = e.hit_probability(TTL_SECONDS[ttl])
            self.per_token[layer.name] = {
                ttl: (self.write[ttl] + (uses - 1) * self.steady(layer.name, ttl)) / uses
                for ttl in ttls}

    def layer_at(self, index: int) -> Layer:
        return self.layers[bisect.bisect_right(self._starts, index) - 1]

    def steady(self, layer: str, ttl: str) -> float:
        """Cost per token of one later use: read if within the TTL, rewritten if not."""
        q = self.q[layer, ttl]
        return q * self.read + (1 - q) * self.write[ttl]


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
               lookups: Sequence[int], now: float, previous_size: int, ttls: Sequence[str],
               ) -> tuple[dict[str, LayerEstimate], dict[int, CacheEntry]]:
    """Each layer's reuse estimate, and the state's entries at the ``lookups`` positions
    (``previous_size``: how many positions the conversation's previous request had; ``ttls``:
    the model's, the longest of which bounds how late a use can still read a write)."""
    if state is None:
        return {layer.name: LayerEstimate.from_hint(layer.reuse) for layer in prompt.layers}, {}
    keys = layer_keys(prompt, fingerprints)
    consecutive = {layer.name: previous_size for layer in prompt.layers if layer.append_only}
    entries, stats, seen = state.lookup([fingerprints[i] for i in lookups], now, keys,
                                        consecutive)
    observed: dict[str, LayerEstimate] = {}
    by_name = {layer.name: layer for layer in prompt.layers}
    prefix = prompt.prefix_tokens
    # Whether a conversation that did not come back here is one that ended (see from_stats).
    watched = now if state.watches_conversations() else None
    longest = float(max(TTL_SECONDS[t] for t in ttls))
    for name, content in keys:
        layer = by_name[name]
        own_gap, size = seen.get((name, content), (None, 0))
        layer_stats = stats.get(name)
        # A layer with no gap of its own yet takes its first write's TTL from layers like it.
        prior = state.gap_prior(layer, prefix[layer.stop - 1]
                                - (prefix[layer.start - 1] if layer.start else 0)) \
            if own_gap is None and (layer_stats is None or not layer_stats.gaps) else None
        got = LayerEstimate.from_stats(layer.reuse, layer_stats, size > 0, own_gap,
                                       grows=layer.append_only, last_size=size,
                                       prior=prior, now=watched, longest_ttl=longest)
        if layer.append_only and state.rebased(prompt, layer, content):
            got = replace(got, rebased=True)
        observed[name] = got
    # In layer order, the hint only for the (empty) layers the state was not asked about.
    est = {layer.name: observed[layer.name] if layer.name in observed
           else LayerEstimate.from_hint(layer.reuse) for layer in prompt.layers}
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
    if now is None:
        now = state.now() if state is not None else 0.0
    fingerprints = prompt.fingerprints if state is not None else ()
    fixed = _fixed_markers(prompt, lim, automatic)
    if not prompt.blocks:
        return _empty_plan(prompt, lim, fixed)
    seen = _observe(prompt, state, fingerprints, now, fixed, lim)
    candidates, clear, rejected, counted = _layer_candidates(prompt, lim, seen, margin,
                                                             exact_counter)
    pricing = _Pricing(prompt, lim, seen.est)
    lookback = lim.lookback_blocks or len(prompt.blocks) + 1
    _add_bridge(prompt, lim, pricing, seen.warm, candidates, fixed, lookback, margin, rejected)
    problem = _problem(prompt, lim, pricing, seen, candidates, fixed, clear, lookback)
    found = search(problem, fixed.budget)
    rejected += _left_out(prompt, lim, pricing, candidates, fixed, clear, found.points,
                          found.wider)
    return Plan(model=prompt.model, limits=lim,
                placements=_placements(prompt, pricing, candidates, fixed, found.points),
                rejected=tuple(rejected), layers=_layer_summaries(prompt, pricing, seen.est),
                expected=_estimate(problem, found.points, lim), automatic_ttl=fixed.automatic,
                warnings=tuple(fixed.notes + seen.notes),
                fingerprints=fingerprints, counting=_counting(lim, counted))


def _fixed_markers(prompt: Prompt, lim: ModelLimits, automatic: str | None) -> _Fixed:
    """The user's markers and the request-level automatic one: validated (the API's 400s
    raise, markers without effect warn) and counted against the budget."""
    blocks = prompt.blocks
    notes: list[str] = []
    user: dict[int, str] = dict(prompt.user_markers)  # carried by extend: no block scan
    markers = [Marker(index=i, ttl=t) for i, t in sorted(user.items())]
    auto_index: int | None = None
    if automatic is not None and blocks:
        auto_index = _last_markable(prompt, 0, len(blocks))
        if auto_index is None:
            notes.append("automatic cache_control requested but no block can carry a marker.")
        else:
            markers.append(Marker(index=auto_index, ttl=automatic, automatic=True))
            markers.sort(key=lambda m: (m.index, m.automatic))
    for path, rule, message in check_markers(prompt, markers, lim, margin=0.0):
        notes.append(message)
        warnings.warn(CacheWarning(message, path=path, rule=rule), stacklevel=3)
    pinned = dict(user)
    if auto_index is not None and automatic is not None:
        pinned.setdefault(auto_index, automatic)
    return _Fixed(user=user, pinned=pinned, auto_index=auto_index, automatic=automatic,
                  budget=max(0, lim.max_breakpoints - len(markers)), notes=notes)


def _empty_plan(prompt: Prompt, lim: ModelLimits, fixed: _Fixed) -> Plan:
    """The plan of a prompt with no blocks: nothing to place, nothing to pay."""
    empty = CostEstimate(input_tokens=0, cache_read_tokens=0, cache_write_5m_tokens=0,
                         cache_write_1h_tokens=0, cost_units=0, uncached_units=0,
                         amortised_units=0, billed_usd=None, uncached_usd=None,
                         amortised_usd=None)
    return Plan(model=prompt.model, limits=lim, placements=(), rejected=(), layers=(),
                expected=empty, automatic_ttl=fixed.automatic, warnings=tuple(fixed.notes))


def _observe(prompt: Prompt, state: CacheState | None, fingerprints: Sequence[str], now: float,
             fixed: _Fixed, lim: ModelLimits) -> _Observed:
    """Ask the state once (one round trip to a shared store) about the layer ends, the recent
    request ends and the user's markers: reuse estimates, warm and in-flight entries.

    The previous request of a conversation wrote at the end of the history this one extends, a
    function of the content alone: assumed warm unless this state saw that very request (and so
    knows it wrote nothing), or that request's prefix is below the model's minimum even at the
    top of the token-ratio band (nobody could have written it). Assuming such an entry made a
    private fleet worker reject the write the conversation needed as not worth it, and the next
    worker then read nothing where it expected the write (g010-agent private: 1.435x one process).
    """
    lookback = lim.lookback_blocks
    blocks = prompt.blocks
    layer_ends = {layer.name: _last_markable(prompt, layer.start, layer.stop)
                  for layer in prompt.layers if layer.stop > layer.start}
    previous = request_ends(prompt)
    lookups = sorted({*(i for i in layer_ends.values() if i is not None), *previous,
                      *fixed.user})
    previous_size = _previous_size(prompt)
    est, entries = _estimates(prompt, state, fingerprints, lookups, now, previous_size,
                              lim.ttls or ("5m", "1h"))
    warm = [i for i, e in entries.items() if e.warm(now)]
    pending = {i for i, e in entries.items() if e.pending(now)}
    seen = _Observed(est=est, entries=entries, warm=warm, pending=pending, layer_ends=layer_ends)
    conv = next((layer for layer in prompt.layers if layer.append_only), None)
    if previous and conv is not None and previous[0] not in entries:
        # Deterministic placement: the previous request of this conversation wrote at its end.
        # Assume so unless this state saw that very request (and so knows it wrote nothing).
        saw_it = est[conv.name].last_size == previous_size or est[conv.name].rebased
        # This state holds an entry of its own in the conversation, and the conversation's last
        # breakpoint reaches the assumed one: then the assumption changes no read (that marker
        # reads the assumed entry if it exists) but would hide the own entry from the lookback
        # bridge, and a history with a turn nobody sent (an appended "Continue") then pays a
        # rewrite of the whole conversation. Count on the own entry only.
        own = max((i for i in warm if i >= conv.start), default=-1)
        end = layer_ends.get(conv.name)  # _last_markable of the conversation, found above
        if own >= 0 and end is not None and lookback and end - previous[0] < lookback:
            saw_it = True
        cacheable = (lim.provider_tokens(prompt.prefix_tokens[previous[0]])[2]
                     >= lim.min_cacheable_tokens)
        if not saw_it and cacheable and est[conv.name].uses > 1:
            warm.append(previous[0])
            seen.notes.append(f"Assumed the previous request cached the conversation up to "
                              f"{blocks[previous[0]].path} (not seen by this state).")
    return seen


def _layer_candidates(prompt: Prompt, lim: ModelLimits, seen: _Observed, margin: float,
                      exact_counter: PrefixCounter | None,
                      ) -> tuple[dict[int, _Candidate], dict[int, float], list[Rejection],
                                 list[int]]:
    """The last markable block of each layer, unless the layer is volatile, out of reach of the
    minimum, or being written by a request in flight; with each near-minimum candidate's chance
    of clearing the minimum (``clear``) and the positions counted exactly.

    Only a candidate still in the running whose prefix may fall either side of the minimum is
    counted exactly: no other decision turns on the exact count.
    """
    blocks = prompt.blocks
    rejected: list[Rejection] = []
    candidates: dict[int, _Candidate] = {}
    clear: dict[int, float] = {}
    counted: list[int] = []
    minimum = lim.min_cacheable_tokens
    for layer in prompt.layers:
        if layer.start == layer.stop:
            continue
        index = seen.layer_ends[layer.name]
        last_path = blocks[layer.stop - 1].path
        if index is None:
            rejected.append(Rejection(path=last_path, layer=layer.name, rule="no-markable-block",
                                      reason="no block of this layer can carry cache_control."))
            continue
        note = ""
        if index != layer.stop - 1:
            note = f" (moved off {last_path}: {blocks[layer.stop - 1].unmarkable})"
        e = seen.est[layer.name]
        if not layer.append_only and e.volatile:
            rejected.append(Rejection(
                path=blocks[index].path, layer=layer.name, rule="volatile",
                reason=f"new content on each of the last {e.window} requests; writing it would "
                       "pay the write premium for nothing"))
            if layer.volatility is not Volatility.TURN:
                seen.notes.append(_volatile_warning(layer, e, blocks[layer.start].path))
            continue
        tokens = prompt.prefix_tokens[index]
        p = lim.clear_probability(tokens, margin)
        if index in seen.pending and p > 0.0:
            if p < 1.0:
                clear[index] = p
            rejected.append(Rejection(
                path=blocks[index].path, layer=layer.name, rule="pending-write",
                reason="a request in flight is writing this exact prefix and the provider makes it "
                       "readable only once that response starts; marking it again would pay a "
                       "second write (send concurrent requests through promptcache.warmup)"))
            continue
        exact = None
        if 0.0 < p < 1.0 and exact_counter is not None:
            exact = _exact_prefix(exact_counter, prompt, index)
            if exact is not None:
                counted.append(index)
                p = 1.0 if exact >= minimum else 0.0
        if p <= 0.0:
            counted_as = (f"{exact:,} tokens (counted exactly)" if exact is not None else
                          f"~{tokens:,} tokens, at most ~{lim.provider_tokens(tokens)[2]:,} as "
                          f"{lim.model} counts")
            rejected.append(Rejection(
                path=blocks[index].path, layer=layer.name, rule="below-minimum",
                reason=f"prefix {counted_as} is below the {minimum:,}-token minimum; merged into "
                       "the next breakpoint"))
            continue
        if p < 1.0:
            clear[index] = p
            low, _, high = lim.provider_tokens(tokens)
            note += (f" (prefix ~{tokens:,} tokens by our estimate, {low:,}-{high:,} as "
                     f"{lim.model} counts, against a {minimum:,}-token minimum: clears it with "
                     f"p~{p:.0%}; if it does not, the API ignores the marker at no cost; an "
                     "exact counter settles it)")
        candidates[index] = _Candidate(index, "layer", layer.name, note)
    return candidates, clear, rejected, counted


def _add_bridge(prompt: Prompt, lim: ModelLimits, pricing: _Pricing, warm: Sequence[int],
                candidates: dict[int, _Candidate], fixed: _Fixed, lookback: int, margin: float,
                rejected: list[Rejection]) -> None:
    """A lookback bridge: a candidate within reach of the newest warm prefix when every other
    one is too far after it (the provider looks back only ``lookback`` positions)."""
    if not warm:
        return
    blocks = prompt.blocks
    target = max(warm)
    reachable = [i for i in (*candidates, *fixed.user) if target <= i < target + lookback]
    if reachable or not any(i > target for i in candidates):
        return
    bridge = _last_markable(prompt, target, min(len(blocks), target + lookback))
    if bridge is None:
        rejected.append(Rejection(
            path=blocks[target].path, layer=pricing.layer_at(target).name, rule="unreachable",
            reason=f"the cached prefix ending here is more than {lookback} blocks before the "
                   "next breakpoint and no block within reach can carry a marker."))
    elif lim.clear_probability(prompt.prefix_tokens[bridge], margin) > 0:
        candidates[bridge] = _Candidate(
            bridge, "bridge", pricing.layer_at(bridge).name,
            f"lookback bridge: the previous request cached up to {blocks[target].path}, "
            f"{max(candidates) - target} blocks before the end (the provider looks back only "
            f"{lookback}); this marker reads it")


def _problem(prompt: Prompt, lim: ModelLimits, pricing: _Pricing, seen: _Observed,
             candidates: Mapping[int, _Candidate], fixed: _Fixed, clear: Mapping[int, float],
             lookback: int) -> Problem:
    """The placement problem: each candidate's prefix, price per TTL and chance of clearing
    the minimum, what is warm and what is in flight."""
    prefix = prompt.prefix_tokens
    estimated_minimum = lim.estimated_minimum

    def priced(index: int) -> Mapping[str, float]:
        return pricing.per_token[pricing.layer_at(index).name]

    points = [
        Candidate(index=i, tokens=prefix[i], price=priced(i), clear=clear.get(i, 1.0),
                  counts=i not in clear or prefix[i] >= estimated_minimum,
                  pinned=fixed.pinned.get(i))
        for i in sorted({*candidates, *fixed.pinned})]
    in_flight = [i for i in seen.pending if i not in seen.warm]
    pending = max(in_flight, default=-1)
    duplicate, pending_price = 0, 0.0
    if pending >= 0:
        read = max((p for p in seen.warm if p <= pending), default=-1)
        duplicate = prefix[pending] - (prefix[read] if read >= 0 else 0)
        pending_price = priced(pending)[pricing.short_ttl]
    warm = sorted(seen.warm)
    return Problem(candidates=tuple(points), ttls=pricing.ttls, read=pricing.read,
                   write=pricing.write, total=prompt.total_tokens, warm=tuple(warm),
                   warm_tokens=tuple(prefix[i] for i in warm), lookback=lookback,
                   pending=pending, pending_tokens=prefix[pending] if pending >= 0 else 0,
                   pending_price=pending_price, pending_duplicate=duplicate)


def _left_out(prompt: Prompt, lim: ModelLimits, pricing: _Pricing,
              candidates: Mapping[int, _Candidate], fixed: _Fixed, clear: Mapping[int, float],
              chosen: Sequence[Point], wider: Sequence[Point]) -> list[Rejection]:
    """Why each candidate not chosen was left out: no slot (it is in the best placement with
    one slot more) or not worth its write."""
    chosen_at = {i for i, _ in chosen}
    wider_at = {i for i, _ in wider}
    out = []
    for index in sorted(candidates):
        if index in chosen_at or index in fixed.pinned:
            continue
        cand = candidates[index]
        if index in wider_at:
            rule, reason = "budget", (f"worth a breakpoint, but all {lim.max_breakpoints} slots "
                                      "went to placements that save more")
        else:
            rule, reason = "not-worth-it", ("expected reuse does not pay for the cache write "
                                            f"(layer {cand.layer!r}: "
                                            f"~{pricing.prefix_uses[cand.layer]:,.1f} uses)")
        if index in clear:
            rule = "safety-margin" if rule == "budget" else rule
            reason += cand.note
        out.append(Rejection(path=prompt.blocks[index].path, layer=cand.layer, rule=rule,
                             reason=reason))
    return out


def _placements(prompt: Prompt, pricing: _Pricing, candidates: Mapping[int, _Candidate],
                fixed: _Fixed, chosen: Sequence[Point]) -> tuple[Placement, ...]:
    """The chosen breakpoints, each with who set it and why."""
    out = []
    short, long = pricing.short_ttl, pricing.long_ttl
    for index, ttl in chosen:
        layer = pricing.layer_at(index)
        if index in fixed.user:
            source, reason = "user", "set by hand; kept as given"
        elif index == fixed.auto_index:
            source, reason = "automatic", "request-level cache_control: the last cacheable block"
        else:
            cand = candidates[index]
            why = cand.note if cand.kind == "bridge" else f"end of layer {layer.name!r}{cand.note}"
            source = "optimizer"
            reason = (f"{why}; ~{pricing.prefix_uses[layer.name]:,.1f} expected uses, next use "
                      f"within {short} {pricing.q[layer.name, short]:.0%}, within {long} "
                      f"{pricing.q[layer.name, long]:.0%}: {ttl} costs "
                      f"{pricing.steady(layer.name, ttl):.2f}x per reuse")
        out.append(Placement(index=index, path=prompt.blocks[index].path, ttl=ttl,
                             layer=layer.name, prefix_tokens=prompt.prefix_tokens[index],
                             source=source, reason=reason))  # type: ignore[arg-type]
    return tuple(out)


def _layer_summaries(prompt: Prompt, pricing: _Pricing, est: Mapping[str, LayerEstimate],
                     ) -> tuple[LayerSummary, ...]:
    """Each layer as the optimizer saw it (the reuse figures the prices came from)."""
    prefix = prompt.prefix_tokens
    return tuple(
        LayerSummary(
            name=layer.name, section=layer.section, volatility=layer.volatility,
            blocks=layer.stop - layer.start,
            tokens=prefix[layer.stop - 1] - (prefix[layer.start - 1] if layer.start else 0),
            prefix_tokens=prefix[layer.stop - 1], uses=est[layer.name].uses,
            p_within_5m=pricing.q[layer.name, "5m"], p_within_1h=pricing.q[layer.name, "1h"],
        )
        for layer in pricing.layers
    )


def _estimate(problem: Problem, points: Sequence[Point], lim: ModelLimits) -> CostEstimate:
    """This request's bill by token class, and the steady-state cost per request."""
    read, w_long, w_short, plain = this_request(problem, points)
    billed = units(problem, read, w_long, w_short, plain)
    amortised = steady_state(problem, points)
    price = lim.input_price / 1e6 if lim.input_price is not None else None
    total = problem.total
    return CostEstimate(
        input_tokens=plain, cache_read_tokens=read, cache_write_5m_tokens=w_short,
        cache_write_1h_tokens=w_long, cost_units=billed, uncached_units=float(total),
        amortised_units=amortised,
        billed_usd=billed * price if price is not None else None,
        uncached_usd=total * price if price is not None else None,
        amortised_usd=amortised * price if price is not None else None,
    )


def _counting(lim: ModelLimits, counted: Sequence[int]) -> str:
    """Which prefix sizes were estimated and which counted exactly."""
    how = (f"token counts are offline estimates (cl100k, x{lim.token_ratio:g} for "
           f"{lim.model}'s tokenizer)")
    if counted:
        return (f"{how}, except {len(counted)} prefix(es) near the "
                f"{lim.min_cacheable_tokens:,}-token minimum, counted exactly")
    return how


def _exact_prefix(counter: PrefixCounter, prompt: Prompt, index: int) -> int | None:
    """Ask the exact counter for the tokens up to ``index``; None if it fails."""
    try:
        return counter.count_prefix(prompt, index)
    except Exception as e:  # an exact count is an option: fall back to the estimate
        warnings.warn(f"exact token count failed ({e}); using the estimate", CacheWarning,
                      stacklevel=4)
        return None
