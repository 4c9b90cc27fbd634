"""The breakpoint optimizer: a pure function from a Prompt (+ limits, cache state, clock) to a Plan.

How it decides (docs/optimizer.md has a worked example):

1. Candidates. The last markable block of every layer (thinking, redacted-thinking and empty blocks
   cannot carry a marker), and a *lookback bridge* when the previous request's cached prefix lies
   20 or more blocks before the end of this one: the provider only finds an earlier entry within
   the 20 positions ending at a breakpoint, so a tool turn of 30 blocks needs a marker within 19
   blocks after the old prefix to read it. Candidates whose prefix is below the model's minimum
   (with a safety margin, since our tokenizer is not Claude's) are rejected: that layer merges into
   the next breakpoint instead of wasting a slot.
2. Cost: the expected cost per request in steady state, i.e. of this request and those that
   follow under the same placement policy. Each segment between two breakpoints is written once
   and then, on each later request sharing its prefix, read (0.1x) if that request comes within
   the TTL, or rewritten if not: with ``U`` expected uses of the prefix and ``q`` the share of
   reuse gaps within the TTL, a segment costs ``(w + (U-1) * (q*r + (1-q)*w)) / U`` per request;
   tokens after the last breakpoint cost 1.0. If the previous request's prefix is out of every
   breakpoint's lookback, the conversation is rewritten on every request (cost ``w``). This
   request's own bill (positions A, B, C of the docs) is reported and breaks ties.
3. Choice. Every subset of candidates that fits the budget (4, minus hand-set markers, minus the
   request-level automatic marker), with every TTL assignment that keeps 1h before 5m, is scored
   and the cheapest kept. Each candidate not chosen gets the reason: not worth it, or no slot.

User markers are fixed points: kept, counted, validated, never dropped.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from promptcache.blocks import Layer, Reuse
from promptcache.errors import CacheWarning
from promptcache.limits import TTL_SECONDS, ModelLimits, limits_for
from promptcache.plan import CostEstimate, LayerSummary, Placement, Plan, Rejection
from promptcache.prompt import Prompt
from promptcache.rules import Marker, check_markers
from promptcache.state import CacheState

__all__ = ["DEFAULT_MARGIN", "PrefixCounter", "optimize"]


@runtime_checkable
class PrefixCounter(Protocol):
    """Counts the exact tokens of a prompt's prefix, usually through a provider endpoint.

    ``count_prefix(prompt, index)`` counts blocks ``0..index`` of ``prompt``. It is a seam: the
    provider adapter renders the prefix its own way (see
    :class:`promptcache.anthropic.AnthropicPrefixCounter`), so the planner never imports one.
    Used only to settle candidates that fall inside the safety margin of a model minimum.
    """

    def count_prefix(self, prompt: Prompt, index: int) -> int: ...

#: Our token estimate (tiktoken cl100k) differs from Claude's tokenizer by several percent either
#: way; a candidate must clear the minimum by this much to be placed without an exact count.
DEFAULT_MARGIN = 0.10


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

    def __init__(self, prompt: Prompt, limits: ModelLimits, reuse: Mapping[str, Reuse],
                 warm: Sequence[int]) -> None:
        self.prompt = prompt
        self.limits = limits
        self.reuse = reuse
        self.warm = sorted(warm)
        # lookback_blocks == 0 means "no lookback limit" (OpenAI considers every breakpoint).
        self.lookback = limits.lookback_blocks or len(prompt.blocks) + 1
        # The model's shortest and longest write TTL (Anthropic 5m/1h, OpenAI 30m/12h).
        ttls = limits.ttls or ("5m", "1h")
        self.short_ttl, self.long_ttl = ttls[0], ttls[-1]
        self.prefix = prompt.prefix_tokens
        self.total = prompt.total_tokens
        self.layer_at: list[Layer] = []
        for layer in prompt.layers:
            self.layer_at += [layer] * (layer.stop - layer.start)
        # Expected uses of the prefix ending in each layer: change rates add up along the prefix.
        rate = 0.0
        self.prefix_uses: dict[str, float] = {}
        for layer in prompt.layers:
            rate += 1.0 / reuse[layer.name].uses
            self.prefix_uses[layer.name] = max(1.0, 1.0 / min(1.0, rate))

    def steady(self, layer: Layer, ttl: str) -> float:
        q = self.reuse[layer.name].hit_probability(TTL_SECONDS[ttl])
        w = self.limits.write_multiplier(ttl)
        return q * self.limits.cache_read_multiplier + (1 - q) * w

    def read_position(self, points: Sequence[tuple[int, str]]) -> int:
        """The highest warm position some breakpoint can reach through the lookback (-1: none)."""
        lookback = self.lookback
        best = -1
        for p in self.warm:
            if any(b - lookback < p <= b for b, _ in points):
                best = max(best, p)
        return best

    def _effective(self, points: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
        """Breakpoints that can write: a prefix below the minimum caches nothing."""
        return [(i, t) for i, t in points if self.prefix[i] >= self.limits.min_cacheable_tokens]

    def steady_state(self, points: Sequence[tuple[int, str]]) -> float:
        """Expected cost per request over the lifetime of each prefix, in base-price units.

        If the newest warm prefix (the previous request's, in a conversation) is out of every
        breakpoint's lookback, the chain of incremental writes is broken: segments past it are
        written on every request and never read, which is what makes a lookback bridge pay.
        """
        effective = self._effective(points)
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
            layer = self.layer_at[index]
            w = self.limits.write_multiplier(ttl)
            if 0 <= broken_after < index:
                per_token = w
            else:
                uses = self.prefix_uses[layer.name]
                per_token = (w + (uses - 1) * self.steady(layer, ttl)) / uses
            total += (tokens - prev_tokens) * per_token
            prev_tokens = tokens
        return total + (self.total - prev_tokens)

    def this_request(self, points: Sequence[tuple[int, str]]) -> tuple[int, int, int, int]:
        """Tokens read, written for 1h, written for 5m, and sent uncached by this request.

        Positions A (highest readable entry), B (highest 1h breakpoint after A) and C (last
        breakpoint) of the Anthropic docs: read A, 1h-write B-A, 5m-write C-B.
        """
        effective = self._effective(points)
        a_index = self.read_position(effective)
        a = self.prefix[a_index] if a_index >= 0 else 0
        b = max([a] + [self.prefix[i] for i, t in effective
                       if t == self.long_ttl and t != self.short_ttl])
        c = max([a] + [self.prefix[i] for i, _ in effective])
        return a, b - a, c - b, self.total - c

    def units(self, read: int, w1h: int, w5m: int, plain: int) -> float:
        lim = self.limits
        return (read * lim.cache_read_multiplier + w1h * lim.write_multiplier(self.long_ttl)
                + w5m * lim.write_multiplier(self.short_ttl) + plain)

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


def _ttl_patterns(points: Sequence[int], fixed: Mapping[int, str],
                  ttls: Sequence[str]) -> list[tuple[tuple[int, str], ...]]:
    """Every TTL assignment in which longer TTLs precede shorter ones and fixed TTLs hold."""
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
    return out


def _last_markable(prompt: Prompt, start: int, stop: int) -> int | None:
    for i in range(stop - 1, start - 1, -1):
        if prompt.blocks[i].markable:
            return i
    return None


def _previous_request_end(prompt: Prompt) -> int | None:
    """Where the previous request of this conversation ended: before the last assistant turn."""
    for t_index in range(len(prompt.turns) - 1, 0, -1):
        if prompt.turns[t_index].role == "assistant":
            return prompt.turns[t_index - 1].stop - 1
    return None


def optimize(prompt: Prompt, *, state: CacheState | None = None, now: float | None = None,
             limits: ModelLimits | None = None, exact_counter: PrefixCounter | None = None,
             automatic: str | None = None, margin: float = DEFAULT_MARGIN) -> Plan:
    """Place ``cache_control`` breakpoints on ``prompt`` to minimise expected cost.

    ``state`` supplies warm prefixes and observed reuse gaps (recommended in a long-running
    service); ``now`` defaults to the state's clock. ``automatic`` (``"5m"``/``"1h"``) reserves the
    request-level automatic ``cache_control`` for the last cacheable block. ``exact_counter``
    settles candidates inside the safety ``margin`` of the model minimum.
    """
    lim = limits if limits is not None else limits_for(prompt.model, provider="anthropic",
                                                        platform=prompt.platform)
    blocks = prompt.blocks
    if now is None:
        now = state.now() if state is not None else 0.0
    fingerprints = prompt.fingerprints if state is not None else ()

    reuse = {layer.name: (state.observed_reuse(layer.name, layer.reuse) if state is not None
                          else layer.reuse) for layer in prompt.layers}
    notes: list[str] = []

    # --- fixed markers: the user's, and the request-level automatic one ---------------------
    fixed: dict[int, str] = {i: b.user_ttl for i, b in enumerate(blocks) if b.user_ttl}
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

    # --- warm prefixes -------------------------------------------------------------------------
    warm: list[int] = []
    pending: set[int] = set()
    if state is not None:
        warm = list(state.warm_positions(fingerprints, now))
        pending = state.pending_positions(fingerprints, now)
    else:
        conv = next((layer for layer in prompt.layers if layer.append_only), None)
        previous = _previous_request_end(prompt)
        if conv is not None and previous is not None and reuse[conv.name].uses > 1:
            warm = [previous]
            notes.append(f"Assumed the previous request cached the conversation up to "
                         f"{blocks[previous].path} (no CacheState given).")
    model = _Model(prompt, lim, reuse, warm)

    # --- candidates ------------------------------------------------------------------------------
    rejected: list[Rejection] = []
    candidates: dict[int, _Candidate] = {}
    minimum = lim.min_cacheable_tokens
    for layer in prompt.layers:
        if layer.start == layer.stop:
            continue
        index = _last_markable(prompt, layer.start, layer.stop)
        last_path = blocks[layer.stop - 1].path
        if index is None:
            rejected.append(Rejection(path=last_path, layer=layer.name, rule="no-markable-block",
                                      reason="no block of this layer can carry cache_control."))
            continue
        note = ""
        if index != layer.stop - 1:
            note = f" (moved off {last_path}: {blocks[layer.stop - 1].unmarkable})"
        tokens = model.prefix[index]
        if tokens < minimum * (1 + margin):
            exact = None
            if exact_counter is not None and tokens >= minimum * (1 - margin):
                exact = _exact_prefix(exact_counter, prompt, index)
            if exact is None or exact < minimum:
                below = tokens < minimum if exact is None else True
                counted = f"{exact:,} tokens (exact)" if exact is not None else f"~{tokens:,} tokens"
                rejected.append(Rejection(
                    path=blocks[index].path, layer=layer.name,
                    rule="below-minimum" if below else "safety-margin",
                    reason=(f"prefix {counted} is {'below' if below else 'within 10% of'} the "
                            f"{minimum:,}-token minimum; merged into the next breakpoint"
                            + ("" if below else "; pass an exact counter to settle it")),
                ))
                continue
        if index in pending:
            rejected.append(Rejection(
                path=blocks[index].path, layer=layer.name, rule="pending-write",
                reason="a request in flight is writing this exact prefix and the provider makes it "
                       "readable only once that response starts; marking it again would pay a "
                       "second write (send concurrent requests through promptcache.warmup)"))
            continue
        candidates[index] = _Candidate(index, "layer", layer.name, note)

    # Lookback bridges: reach the newest warm prefix when every candidate is too far after it.
    lookback = model.lookback
    if warm:
        target = max(warm)
        reachable = [i for i in (*candidates, *fixed) if target <= i < target + lookback]
        if not reachable and any(i > target for i in candidates):
            bridge = _last_markable(prompt, target, min(len(blocks), target + lookback))
            if bridge is None:
                rejected.append(Rejection(
                    path=blocks[target].path, layer=model.layer_at[target].name, rule="unreachable",
                    reason=f"the cached prefix ending here is more than {lookback} blocks before "
                           "the next breakpoint and no block within reach can carry a marker."))
            elif model.prefix[bridge] >= minimum:
                candidates[bridge] = _Candidate(
                    bridge, "bridge", model.layer_at[bridge].name,
                    f"lookback bridge: the previous request cached up to {blocks[target].path}, "
                    f"{max(candidates) - target} blocks before the end (the provider looks back "
                    f"only {lookback}); this marker reads it")

    # --- choose ----------------------------------------------------------------------------------
    optional = sorted(i for i in candidates if i not in pinned)
    block_ttls = lim.ttls or ("5m", "1h")

    def best(limit: int) -> _Scored:
        top: _Scored | None = None
        for k in range(0, min(limit, len(optional)) + 1):
            for subset in itertools.combinations(optional, k):
                points = sorted({*subset, *pinned})
                for pattern in _ttl_patterns(points, pinned, block_ttls):
                    c = model.cost(pattern)
                    if top is None or c < top.cost - 1e-9:
                        top = _Scored(c, pattern)
        assert top is not None
        return top

    chosen = best(max(0, budget))
    chosen_points = {i for i, _ in chosen.points}
    wider = best(max(0, budget) + 1) if optional else chosen
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
        rejected.append(Rejection(path=blocks[index].path, layer=cand.layer, rule=rule,
                                  reason=reason))

    placements = []
    for index, ttl in chosen.points:
        layer = model.layer_at[index]
        if index in fixed:
            source, reason = "user", "set by hand; kept as given"
        elif index == auto_index:
            source, reason = "automatic", "request-level cache_control: the last cacheable block"
        else:
            cand = candidates[index]
            q5 = reuse[layer.name].hit_probability(TTL_SECONDS[model.short_ttl])
            q1 = reuse[layer.name].hit_probability(TTL_SECONDS[model.long_ttl])
            why = cand.note if cand.kind == "bridge" else f"end of layer {layer.name!r}{cand.note}"
            source = "optimizer"
            reason = (f"{why}; ~{model.prefix_uses[layer.name]:,.1f} expected uses, next use "
                      f"within {model.short_ttl} {q5:.0%}, within {model.long_ttl} {q1:.0%}: {ttl} costs "
                      f"{model.steady(layer, ttl):.2f}x per reuse")
        placements.append(Placement(index=index, path=blocks[index].path, ttl=ttl,
                                    layer=layer.name, prefix_tokens=model.prefix[index],
                                    source=source, reason=reason))  # type: ignore[arg-type]

    layers = tuple(
        LayerSummary(
            name=layer.name, section=layer.section, volatility=layer.volatility,
            blocks=layer.stop - layer.start,
            tokens=(model.prefix[layer.stop - 1] - (model.prefix[layer.start - 1]
                                                    if layer.start else 0)),
            prefix_tokens=model.prefix[layer.stop - 1], uses=reuse[layer.name].uses,
            p_within_5m=reuse[layer.name].hit_probability(TTL_SECONDS["5m"]),
            p_within_1h=reuse[layer.name].hit_probability(TTL_SECONDS["1h"]),
        )
        for layer in prompt.layers if layer.stop > layer.start
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
