"""Breakpoint placement strategies, applied to the requests of a trace one at a time.

Every strategy receives the same request content (no ``cache_control``) and returns what it would
send. Between calls the replay tells it what the provider did (:meth:`Strategy.sent`), so a
strategy may keep state, like promptcache's :class:`~promptcache.CacheState`, fed with what was
sent at trace time. Only the Anthropic Messages API is supported for now.

- ``promptcache``: :func:`~promptcache.optimize` with a CacheState whose clock is the trace time.
- ``automatic``: the request-level ``cache_control`` (Anthropic puts it on the last block).
- ``hand``: the placement the docs show: last tool, last system block, last message (5m).
- ``none``: no caching at all.
- ``clairvoyant``: an oracle that knows every future request (see :class:`Clairvoyant`).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptcache.limits import TTL_SECONDS, limits_for
from promptcache.optimizer import optimize
from promptcache.positions import UNMARKABLE_TYPES
from promptcache.providers.anthropic.render import prompt_from_request, render_anthropic
from promptcache.providers.anthropic.simulator import (
    AnthropicCacheResult,
    AnthropicCacheSimulator,
    SimulatedBlock,
)
from promptcache.providers.registry import view_of
from promptcache.replay.workloads import Trace, TraceError, TraceRequest
from promptcache.state import CacheState

__all__ = [
    "BENCHMARK_STRATEGIES",
    "DEMO_STRATEGIES",
    "Automatic",
    "Clairvoyant",
    "Hand",
    "NoCaching",
    "PromptCache",
    "Strategy",
    "mark_request",
    "strategy_for",
]

#: What the demo compares; the benchmark suite adds the clairvoyant bound.
DEMO_STRATEGIES: tuple[str, ...] = ("promptcache", "automatic", "hand", "none")
BENCHMARK_STRATEGIES: tuple[str, ...] = (*DEMO_STRATEGIES, "clairvoyant")

_PATH = re.compile(r"^(?:tools\[(?P<tool>\d+)\]|system(?:\[(?P<sys>\d+)\])?"
                   r"|messages\[(?P<msg>\d+)\]\.content(?:\[(?P<part>\d+)\])?)$")


def _as_blocks(content: Any) -> list[dict[str, Any]]:
    """A ``system`` or message ``content`` as a list of block copies (a string is one text block:
    the cache sees it so, so no fingerprint changes)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [dict(b) for b in content or ()]


def mark_request(request: Mapping[str, Any], marks: Mapping[int, str]) -> dict[str, Any]:
    """A copy of ``request`` with ``cache_control`` on the blocks at the given cache positions.

    Positions are those of :func:`promptcache.providers.registry.view_of` (the one model of what the cache
    sees); only the lists that get a marker are copied.
    """
    out = dict(request)
    if not marks:
        return out
    view = view_of(request, provider="anthropic")
    if isinstance(out.get("tools"), list):
        out["tools"] = list(out["tools"])
    messages = list(out.get("messages") or ())
    out["messages"] = messages
    for index, ttl in marks.items():
        match = _PATH.match(view.blocks[index].path)
        if match is None:  # pragma: no cover - view_of only makes these paths
            raise TraceError(f"cannot mark {view.blocks[index].path}")
        marker = {"type": "ephemeral", "ttl": ttl}
        if match["tool"] is not None:
            t = int(match["tool"])
            out["tools"][t] = {**out["tools"][t], "cache_control": marker}
        elif match["msg"] is None:
            system = out["system"] = (_as_blocks(out["system"])
                                      if not isinstance(out["system"], list) or match["sys"] is None
                                      else list(out["system"]))
            n = int(match["sys"] or 0)
            system[n] = {**system[n], "cache_control": marker}
        else:
            m = int(match["msg"])
            content = _as_blocks(messages[m]["content"])
            n = int(match["part"] or 0)
            content[n] = {**content[n], "cache_control": marker}
            messages[m] = {**messages[m], "content": content}
    return out


class Strategy(ABC):
    """Decides the breakpoints of each request of one trace; one instance per replay."""

    name: str = ""

    @abstractmethod
    def prepare(self, item: TraceRequest, now: float) -> dict[str, Any]:
        """The request to send for ``item`` at ``now`` (its content unchanged)."""

    def sent(  # noqa: B027 - an optional hook: most strategies learn nothing from the answer
        self, item: TraceRequest, request: Mapping[str, Any], result: AnthropicCacheResult,
        now: float,
    ) -> None:
        """What the provider did with the request; strategies that learn override this."""


class NoCaching(Strategy):
    """No ``cache_control`` anywhere: every token at the base input price."""

    name = "none"

    def prepare(self, item: TraceRequest, now: float) -> dict[str, Any]:
        return dict(item.request)


class Automatic(Strategy):
    """Anthropic's request-level automatic caching: one 5m marker on the last cacheable block."""

    name = "automatic"

    def __init__(self, ttl: str = "5m") -> None:
        self.ttl = ttl

    def prepare(self, item: TraceRequest, now: float) -> dict[str, Any]:
        return {**item.request, "cache_control": {"type": "ephemeral", "ttl": self.ttl}}


class Hand(Strategy):
    """The docs' hand placement: 5m markers on the last tool, last system block and last message."""

    name = "hand"

    def prepare(self, item: TraceRequest, now: float) -> dict[str, Any]:
        blocks = view_of(item.request, provider="anthropic").blocks
        marks: dict[int, str] = {}
        for level in ("tools", "system"):
            last = max((i for i, b in enumerate(blocks) if b.level == level), default=None)
            if last is not None:
                marks[last] = "5m"
        final = blocks[-1].path.split(".content")[0]
        for i in range(len(blocks) - 1, -1, -1):
            if not blocks[i].path.startswith(final + ".content"):
                break
            if blocks[i].markable:
                marks[i] = "5m"
                break
        return mark_request(item.request, marks)


class PromptCache(Strategy):
    """promptcache's optimizer, with a CacheState fed by what was sent, on the trace's clock.

    Uses the request's Prompt (and so its builder's layer hints) when the trace has one; recorded
    requests are read with :func:`~promptcache.prompt_from_request` (tools, system, conversation).
    """

    name = "promptcache"

    def __init__(self, state: CacheState | None = None) -> None:
        self.state = state if state is not None else CacheState()

    def prepare(self, item: TraceRequest, now: float) -> dict[str, Any]:
        prompt = item.prompt if item.prompt is not None else prompt_from_request(item.request)
        plan = optimize(prompt, state=self.state, now=now)
        request = render_anthropic(prompt, plan)
        # Still in flight: its writes become readable after the state's response latency. One
        # call, so a shared store costs one round trip.
        writes = [(plan.fingerprints[p.index], p.ttl, p.prefix_tokens) for p in plan.placements
                  if p.prefix_tokens >= plan.limits.estimated_minimum]
        self.state.record_request(prompt, plan.fingerprints, writes, now)
        self._sent = (prompt, plan)
        return request

    def sent(self, item: TraceRequest, request: Mapping[str, Any], result: AnthropicCacheResult,
             now: float) -> None:
        prompt, plan = self._sent
        usage = result.usage
        read = int(usage.get("cache_read_input_tokens") or 0)
        total = read + int(usage.get("cache_creation_input_tokens") or 0) + int(
            usage.get("input_tokens") or 0)
        self.state.record_read(prompt, plan, read, now, total=total)


@dataclass(slots=True)
class _Entry:
    ttl: str
    expires_at: float
    readable_at: float


@dataclass(frozen=True, slots=True)
class _Use:
    t: float
    index: int


@dataclass(slots=True)
class _Future:
    """For each prefix fingerprint, the requests of the trace that contain it, in time order."""

    uses: dict[str, list[_Use]] = field(default_factory=dict)


class Clairvoyant(Strategy):
    """An oracle that places breakpoints knowing every later request of the trace.

    For each request it knows exactly which later requests share each prefix and when, and it
    mirrors the provider's cache (fed by the simulator's answers), so it never writes what nobody
    will read, never pays a 1h write for a prefix whose next use is within 5 minutes, rewrites
    nothing a pending or live entry already covers (a burst pays one write, not one per request),
    and reads the longest live prefix through the 20-block lookback. Among the positions where the
    set of future readers changes, it tries every choice of at most 4 breakpoints and every TTL
    order the API accepts, and keeps the one that minimises this request's bill minus the savings
    of the later reads its writes make possible (each read saves 0.9 of the base price, chained
    while each gap stays within the TTL, since a read refreshes the entry).

    What it assumes, and why it is a bound only "close to" a true minimum: the choice is greedy,
    request by request (a write is credited with the reads it enables, not with the writes it
    spares later requests), and savings of nested prefixes with different TTLs are added per
    segment. It cannot change timing: requests still arrive when the trace says.
    """

    name = "clairvoyant"

    def __init__(self, trace: Trace, *, response_start_delay: float = 0.5,
                 max_candidates: int = 7) -> None:
        flattener = AnthropicCacheSimulator()
        self.delay = response_start_delay
        self.max_candidates = max_candidates
        self._positions: list[tuple[SimulatedBlock, ...]] = []
        self._index: dict[int, int] = {}
        self._future = _Future()
        self._cache: dict[str, _Entry] = {}
        self._minimum = 0
        self._read = 0.1
        for k, item in enumerate(trace.requests):
            positions = flattener.positions(item.request)
            self._positions.append(positions)
            self._index[id(item)] = k
            for p in positions:
                self._future.uses.setdefault(p.fingerprint, []).append(_Use(item.t, k))
        if trace.requests:
            lim = limits_for(str(trace.requests[0].request["model"]), provider="anthropic")
            self._minimum = lim.estimated_minimum
            self._read = lim.cache_read_multiplier
            self._write = {t: lim.write_multiplier(t) for t in ("5m", "1h")}

    # -- the oracle's view of the future ------------------------------------------------------------

    def _chain(self, fingerprint: str, k: int, start: float, ttl: str,
               readable_at: float) -> int:
        """How many later requests would read an entry of ``ttl`` alive from ``start``."""
        count = 0
        last = start
        for use in self._future.uses.get(fingerprint, ()):
            if use.index <= k or use.t < readable_at:
                continue
            if use.t - last > TTL_SECONDS[ttl]:
                break
            count += 1
            last = use.t
        return count

    def _existing_chain(self, fingerprint: str, k: int, now: float) -> int:
        entry = self._cache.get(fingerprint)
        if entry is None or entry.expires_at <= now:
            return 0
        ttl_s = TTL_SECONDS[entry.ttl]
        return self._chain(fingerprint, k, entry.expires_at - ttl_s, entry.ttl, entry.readable_at)

    def prepare(self, item: TraceRequest, now: float) -> dict[str, Any]:
        k = self._index.get(id(item))
        if k is None:
            raise TraceError("Clairvoyant was asked about a request outside the trace it was "
                             "built from; build one Clairvoyant per trace.")
        positions = self._positions[k]
        ends = [p.end for p in positions]
        live = {i for i, p in enumerate(positions)
                if (e := self._cache.get(p.fingerprint)) is not None
                and e.expires_at > now and e.readable_at <= now}
        anchor = max(live, default=None)
        # What existing (live or pending) entries already serve: a later request that contains a
        # longer entry reads that one, which covers every shorter prefix too.
        cover = [0] * (len(positions) + 1)
        for i in range(len(positions) - 1, -1, -1):
            fp = positions[i].fingerprint
            own = (self._chain(fp, k, now, self._cache[fp].ttl, now) if i == anchor
                   else self._existing_chain(fp, k, now))
            cover[i] = max(cover[i + 1], own)
        # base[i]: the longest prefix before i that an existing entry already holds; a write at i
        # only adds the tokens after it for the readers it serves.
        base = [0] * len(positions)
        held = 0
        for i, p in enumerate(positions):
            base[i] = held
            e = self._cache.get(p.fingerprint)
            if e is not None and e.expires_at > now:
                held = p.end
        # Gain of a write (or free refresh) at i, per TTL: the later reads it enables beyond
        # those existing entries already serve.
        gains: dict[int, dict[str, int]] = {}
        for i, p in enumerate(positions):
            if p.kind in UNMARKABLE_TYPES or p.end < self._minimum:
                continue
            gains[i] = {ttl: max(0, self._chain(p.fingerprint, k, now, ttl, now + self.delay)
                                 - cover[i]) for ttl in ("5m", "1h")}
        # Candidates: the last position of each run with the same gains (longest prefix for the
        # same readers), plus the newest live entry (the read anchor).
        cands: list[int] = []
        order = sorted(gains)
        for j, i in enumerate(order):
            nxt = order[j + 1] if j + 1 < len(order) else None
            if (nxt is None or gains[nxt] != gains[i]) and (gains[i]["1h"] > 0 or i in live):
                cands.append(i)
        if anchor is not None:
            # The read needs a breakpoint within the lookback after the anchor.
            reach = [i for i in range(anchor, min(len(positions), anchor + 20))
                     if positions[i].kind not in UNMARKABLE_TYPES]
            if reach and not any(anchor <= c < anchor + 20 for c in cands):
                cands.append(reach[-1])
        cands = sorted(set(cands), key=lambda i: -ends[i] * (1 + gains.get(i, {}).get("1h", 0)))
        cands = sorted(cands[: self.max_candidates])
        best = self._choose(ends, live, gains, cands, base)
        return mark_request(item.request, dict(best))

    def _choose(self, ends: Sequence[int], live: set[int], gains: Mapping[int, Mapping[str, int]],
                cands: Sequence[int], base: Sequence[int]) -> tuple[tuple[int, str], ...]:
        from itertools import combinations

        total = ends[-1] if ends else 0
        best: tuple[float, tuple[tuple[int, str], ...]] = (float(total), ())
        for size in range(1, min(4, len(cands)) + 1):
            for subset in combinations(cands, size):
                for n_long in range(size + 1):
                    marks = tuple((i, "1h" if j < n_long else "5m") for j, i in enumerate(subset))
                    cost = self._score(ends, live, gains, marks, total, base)
                    if cost < best[0] - 1e-9:
                        best = (cost, marks)
        return best[1]

    def _score(self, ends: Sequence[int], live: set[int], gains: Mapping[int, Mapping[str, int]],
               marks: Sequence[tuple[int, str]], total: int, base: Sequence[int]) -> float:
        hit = -1
        for b, _ in marks:
            for i in range(b, max(-1, b - 20), -1):
                if i in live:
                    hit = max(hit, i)
                    break
        a = ends[hit] if hit >= 0 else 0
        written = [(b, t) for b, t in marks if ends[b] >= self._minimum and b > hit]
        b_end = max([a] + [ends[b] for b, t in written if t == "1h"])
        c_end = max([a] + [ends[b] for b, _ in written])
        bill = (a * self._read + (b_end - a) * self._write["1h"] + (c_end - b_end) * self._write["5m"]
                + (total - c_end))
        saved = 0.0
        prev = 0
        for b, ttl in marks:
            if ends[b] < self._minimum:
                continue
            fresh = ends[b] - max(prev, base[b])
            saved += max(0, fresh) * (1 - self._read) * gains.get(b, {}).get(ttl, 0)
            prev = ends[b]
        return bill - saved

    def sent(self, item: TraceRequest, request: Mapping[str, Any],
             result: AnthropicCacheResult, now: float) -> None:
        positions = result.positions
        if result.hit is not None:
            e = self._cache.get(positions[result.hit].fingerprint)
            if e is not None:
                e.expires_at = max(e.expires_at, now + TTL_SECONDS[e.ttl])
        for b, p in enumerate(positions):
            if p.ttl is None or p.end < self._minimum:
                continue
            end = now + TTL_SECONDS[p.ttl]
            e = self._cache.get(p.fingerprint)
            if e is not None and e.expires_at <= now:
                e = None
            readable = now if result.hit is not None and b <= result.hit else now + self.delay
            if e is None:
                self._cache[p.fingerprint] = _Entry(ttl=p.ttl, expires_at=end, readable_at=readable)
            else:
                e.expires_at = max(e.expires_at, end)
                e.readable_at = min(e.readable_at, readable)
                if TTL_SECONDS[p.ttl] > TTL_SECONDS[e.ttl]:
                    e.ttl = p.ttl


def strategy_for(name: str, trace: Trace) -> Strategy:
    """A fresh strategy instance for one replay of ``trace``."""
    if name == "promptcache":
        return PromptCache()
    if name == "automatic":
        return Automatic()
    if name == "hand":
        return Hand()
    if name == "none":
        return NoCaching()
    if name == "clairvoyant":
        return Clairvoyant(trace)
    raise TraceError(f"Unknown strategy {name!r}; known: {', '.join(BENCHMARK_STRATEGIES)}.")
