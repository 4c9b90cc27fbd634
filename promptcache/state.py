"""CacheState: what was sent, so the optimizer plans from what actually happens, in one process or a fleet.

Keep one per process in a long-running service (it is thread-safe) and pass it to
:func:`promptcache.optimize`. It remembers, per prefix fingerprint, when an entry was written and
with which TTL (warm prefixes to read, expired ones that are surely cold), and per layer what it
has seen of the layer's content: how often the content was new, and the gaps between requests
that reused the same content. From those the optimizer estimates each layer's reuse, starting
from the volatility hints (a prior worth one observation) and following what it sees within a few
requests, in both directions: a layer that turns out to change on every request is detected after
four requests, and reused content is recognised as soon as it comes back.

Memory is bounded: at most ``max_entries`` warm-prefix entries and ``max_contents`` content
sightings (least recently used dropped first; a sighting older than ``horizon`` counts as new
content anyway), ``max_layers`` layer statistics with at most ``max_gaps`` gaps each. With the
defaults that is under 73 MB (:data:`BYTES_PER_ENTRY`, :data:`BYTES_PER_CONTENT`).

Learning is as early as the evidence: the gap a request closes (since its content was last sent)
counts when that request is planned, so the request that ends a long pause can already choose a
1-hour TTL; and :meth:`CacheState.record_read` learns from what the provider actually read (an
entry the plan counted on was gone; a marker taken for a write was a read of another worker's
entry), which is how a private worker learns what it could not see.

A fleet of workers shares what they learn through a :class:`SharedStore` (``shared=``, see
:class:`promptcache.state_redis.RedisStateStore`): every write and sighting goes to the local view
and to the store, and plans read the store first. When the store fails, the state plans from its
local view, warns (once per cause a minute, see :class:`WarnLimiter`), and tries the store
again after a backoff that doubles while it keeps failing; it never raises. What only the
provider's answers tell (how soon a write is readable) is shared too, through
:class:`FleetLessons`, so a fleet learns it once, as one process would; and so is the first-write
prior (:mod:`promptcache.state_prior`), so a restarted process starts from what the fleet learned.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from promptcache.blocks import Layer, Reuse
from promptcache.clock import Clock, WallClock
from promptcache.errors import CacheWarning
from promptcache.limits import TTL_SECONDS
from promptcache.log import degraded
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.state_duel import Duel, shadow_served
from promptcache.state_evidence import (
    IN_FLIGHT_WITHIN,
    Coverage,
    LatencyBounds,
    ReadCause,
    ReadEvidence,
    TokenCalibration,
    attribute,
)
from promptcache.state_model import (
    BYTES_PER_CONTENT,
    BYTES_PER_ENTRY,
    DUEL_TTLS,
    OWN_KEEP,
    PRIOR_GAPS,
    CacheEntry,
    GapPrior,
    LayerEstimate,
    LayerStats,
    Sighting,
    content_key,
    layer_keys,
    lineage_of,
    prior_class,
    settled,
    sighted,
)
from promptcache.state_prior import FleetPriors
from promptcache.state_store import FleetLessons, SharedStore, StoreError, WarnLimiter

__all__ = ["BYTES_PER_CONTENT", "BYTES_PER_ENTRY", "CacheEntry", "CacheState", "FleetLessons",
           "GapPrior", "LayerEstimate", "LayerStats", "SharedStore", "Sighting", "StoreError",
           "WarnLimiter", "layer_keys", "lineage_of", "prior_class", "settled", "sighted"]


@dataclass(slots=True)
class _Lessons:
    """What one answer taught that the fleet should know (see :class:`FleetLessons`)."""

    entries: list[CacheEntry] = field(default_factory=list)
    reads: list[float] = field(default_factory=list)
    misses: list[float] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.entries or self.reads or self.misses)


@dataclass(slots=True)
class _Local:
    """The in-process view: bounded LRU maps."""

    entries: OrderedDict[str, CacheEntry] = field(default_factory=OrderedDict)
    #: ``(layer, content)`` -> (last seen, last reuse gap or -1, size of that request, when the
    #: run of sightings the last one belongs to began: see :func:`sighted`).
    contents: OrderedDict[tuple[str, str], tuple[float, float, int, float]] = field(
        default_factory=OrderedDict)
    layers: OrderedDict[str, LayerStats] = field(default_factory=OrderedDict)
    #: ``(layer, lineage)`` -> (content key last seen, True when that sighting changed the key).
    lineage: OrderedDict[tuple[str, str], tuple[str, bool]] = field(default_factory=OrderedDict)
    #: Layer name -> its prior class when last sent; class -> its last reuse gaps (the prior).
    classes: OrderedDict[str, tuple[str, int]] = field(default_factory=OrderedDict)
    priors: dict[tuple[str, int], tuple[float, ...]] = field(default_factory=dict)


class CacheState:
    """Memory of cache writes and of each layer's reuse, local and optionally fleet-wide.

    ``response_latency`` is the expected time from sending a request to the start of its
    response: a prefix written by a request in flight is pending until then (not readable), and
    gaps shorter than it are concurrency, not reuse. ``shared`` is a :class:`SharedStore`;
    ``retry_after`` is how long (wall seconds) the state leaves a failed store alone after its
    first failure; each failure in a row doubles that, up to ``max_retry_after`` (with a jitter
    of up to a fifth, so a fleet does not come back all at once), and a success resets it: a
    blip costs a second of local planning, a dead server one deadline per minute.
    ``warn_every`` is how often one cause of failure is warned about again while it lasts.
    """

    def __init__(self, *, clock: Clock | None = None, max_entries: int = 100_000,
                 max_contents: int = 100_000, max_layers: int = 1_024, max_gaps: int = 64,
                 window: int = 8, horizon: float = 2 * 3600.0, response_latency: float = 1.0,
                 shared: SharedStore | None = None, retry_after: float = 1.0,
                 max_retry_after: float = 60.0, warn_every: float = 60.0) -> None:
        self.response_latency = response_latency
        self.clock: Clock = clock if clock is not None else WallClock()
        self.shared = shared
        self.retry_after, self.max_retry_after = retry_after, max(retry_after, max_retry_after)
        self.max_entries, self.max_contents, self.max_layers = max_entries, max_contents, max_layers
        self.max_gaps, self.window, self.horizon = max_gaps, window, horizon
        self._local = _Local()
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._failures = 0  # in a row: the backoff's exponent
        self._warnings = WarnLimiter(warn_every)
        #: Each model's token ratio, measured from the usage totals the provider returns.
        self.calibration = TokenCalibration()
        #: When a write becomes readable, learned from what the provider read (starts at
        #: ``(0, response_latency)``).
        self.latency = LatencyBounds(response_latency)
        #: How many conversations' previous requests this state saw, of those it saw before.
        self._coverage = Coverage()

    def now(self) -> float:
        return self.clock.now()

    # -- the shared store, guarded -------------------------------------------------------------

    def _store(self) -> SharedStore | None:
        if self.shared is None:
            return None
        return self.shared if time.monotonic() >= self._down_until else None

    def _failed(self, error: Exception) -> None:
        now = time.monotonic()
        if now >= self._down_until:  # calls that failed together count as one failure
            self._failures += 1
        wait = self.backoff(self._failures)
        self._down_until = max(self._down_until, now + wait * random.uniform(0.8, 1.0))
        degraded(f"The shared cache state is unavailable ({error}); planning from this "
                 f"process's own view for {wait:g} s.", cause="shared-state-unavailable")
        cause = type(error.__cause__ if error.__cause__ is not None else error).__name__
        if self._warnings.due(cause):
            warnings.warn(CacheWarning(
                f"The shared cache state is unavailable ({error}); planning from this process's "
                f"own view and trying it again in {wait:g} s (doubling while it keeps failing, "
                f"up to {self.max_retry_after:g} s). (Said again at most every "
                f"{self._warnings.every:g} s while it lasts.)",
                rule="shared-state-unavailable"), stacklevel=4)

    def _succeeded(self) -> None:
        self._failures = 0

    def backoff(self, failures: int) -> float:
        """Seconds the store is left alone after ``failures`` failures in a row (before jitter)."""
        if failures <= 0:
            return 0.0
        return min(self.max_retry_after, self.retry_after * 2.0 ** min(failures - 1, 30))

    # -- entries -------------------------------------------------------------------------------

    def entry(self, fingerprint: str) -> CacheEntry | None:
        with self._lock:
            return self._local.entries.get(fingerprint)

    def lookup(self, fingerprints: Sequence[str], now: float,
               layers: Sequence[tuple[str, str]] = (),
               consecutive: Mapping[str, int] | None = None,
               ) -> tuple[dict[str, CacheEntry], dict[str, LayerStats],
                          dict[tuple[str, str], tuple[float | None, int]]]:
        """Entries for ``fingerprints``, stats of ``(layer, content)`` layers, and the contents
        seen before (at least the response latency ago: sooner is concurrency) with their last
        reuse gap: one round trip to the shared store, merged with the local view.

        The time since a content was last sent counts as a gap of the layer already. For a
        conversation (a layer named in ``consecutive``, with the size its previous request had)
        only when that sighting was the previous request itself: a worker that missed the turns
        in between would take several gaps for one.
        """
        remote: tuple[dict[str, CacheEntry], dict[str, LayerStats],
                      dict[tuple[str, str], tuple[float, float, int]]] | None = None
        store = self._store()
        if store is not None:
            try:
                remote = store.fetch(fingerprints, layers, now)
            except StoreError as error:
                self._failed(error)
            else:
                self._succeeded()
                bounds = store.latency_bounds() if isinstance(store, FleetLessons) else None
                if bounds is not None:
                    self.latency.adopt(*bounds)
        with self._lock:
            loc = self._local
            entries = {fp: e for fp in fingerprints if (e := loc.entries.get(fp)) is not None}
            if remote is not None:
                for fp, theirs in remote[0].items():
                    mine = entries.get(fp)
                    if mine is None or theirs.expires_at > mine.expires_at or (
                            theirs.readable_at < mine.readable_at and theirs.expires_at > now):
                        # Kept locally too: what this state records and reads next refreshes the
                        # fleet's entry (when it was written, when readable), not one it imagines
                        # it wrote itself (a read of it would teach a latency from the wrong write).
                        entries[fp] = theirs
                        loc.entries.pop(fp, None)
                        loc.entries[fp] = theirs
                while len(loc.entries) > self.max_entries:
                    loc.entries.popitem(last=False)
                stats, last = dict(remote[1]), remote[2]
                for name, shared in stats.items():  # a store that keeps no duel: this process's
                    local = loc.layers.get(name)
                    if local is None:
                        continue
                    # The fleet's own-gap test when the store keeps one: a worker's own share
                    # of the pairs is too few to measure a correlation, and the default weight
                    # of 1 then outvoted the layer's gaps where one process had learned 0.39
                    # (g150-compaction's shared fleet 1.133x one process).
                    pairs = shared.own_pairs or local.own_pairs
                    if local.duel is not None and shared.duel is None:
                        stats[name] = replace(shared, duel=local.duel, own_pairs=pairs,
                                              starts=local.starts)
                    elif pairs != shared.own_pairs or local.starts:  # kept locally only
                        stats[name] = replace(shared, own_pairs=pairs, starts=local.starts)
            else:
                stats = {name: s for name, _ in layers if (s := loc.layers.get(name)) is not None}
                last = {k: t[:3] for k in layers if (t := loc.contents.get(k)) is not None}
            # Concurrent new contents that have had time to go on count now, not at the next
            # sighting: this request's plan is the one their lesson is for.
            stats = {name: settled(st, now, self.window) for name, st in stats.items()}
            # This request's own gap since the content was last sent is an observation already:
            # count it now, not one request late (a long pause is seen on the request after it,
            # which can still choose the TTL that pause called for).
            seen: dict[tuple[str, str], tuple[float | None, int]] = {}
            if consecutive is not None:
                # A conversation never seen here that has earlier turns: its previous request
                # went elsewhere (or was never seen), as for a worker of a fleet.
                for key in layers:
                    if consecutive.get(key[0], -1) > 0 and key not in last:
                        self._coverage.saw(False)
            for key, (at, gap, size) in last.items():
                since = now - at
                if not self.response_latency <= since <= self.horizon:
                    continue
                seen[key] = (gap if gap >= 0 else None, size)
                if consecutive is not None and consecutive.get(key[0], -1) > 0:
                    # Did this state see the conversation's previous request? Counted, it tells a
                    # process that watches all its traffic from a worker that sees a share of it.
                    self._coverage.saw(consecutive[key[0]] == size)
                if consecutive is not None and consecutive.get(key[0], size) != size:
                    continue
                # The gap this request closes is the content's own latest gap: a content coming
                # back for the first time has no other (a tenant back after 100 minutes among
                # tenants back within 20 is not written for an hour its next visit cannot read:
                # g004-tenants 1.200x -> 1.134x no caching), and a conversation's user keeps
                # their pace (g027-chat 1.063x -> 0.967x). A shared layer's earlier gap stays
                # its own: a document set that returns after a long pause is then asked about
                # in quick succession (rag workloads lost to hand placement with the pause).
                if gap < 0 or (consecutive is not None and key[0] in consecutive):
                    seen[key] = (since, size)
                old = stats.get(key[0]) or LayerStats()
                # The duel counts this gap now too: a fixed policy whose entry outlived it.
                duel = old.duel.after({t: since < ttl for t, ttl in DUEL_TTLS.items()}) \
                    if old.duel is not None else None
                stats[key[0]] = replace(old, gaps=(*old.gaps, since)[-self.max_gaps:], duel=duel)
            return entries, stats, seen

    def warm_positions(self, fingerprints: Iterable[str], now: float) -> dict[int, CacheEntry]:
        """Positions whose prefix is held by an unexpired, readable entry, by index (O(n))."""
        fps = list(fingerprints)
        entries = self.lookup(fps, now)[0]
        return {i: e for i, fp in enumerate(fps) if (e := entries.get(fp)) is not None
                and e.warm(now)}

    def pending_positions(self, fingerprints: Iterable[str], now: float) -> set[int]:
        """Positions whose prefix a request in flight is writing (not readable yet)."""
        fps = list(fingerprints)
        entries = self.lookup(fps, now)[0]
        return {i for i, fp in enumerate(fps) if (e := entries.get(fp)) is not None
                and e.pending(now)}

    def is_surely_cold(self, fingerprint: str, now: float) -> bool:
        """True when this state saw the prefix written and its TTL has run out since."""
        e = self.lookup([fingerprint], now)[0].get(fingerprint)
        return e is not None and not e.warm(now) and not e.pending(now)

    def record_write(self, fingerprint: str, ttl: str, tokens: int, now: float,
                     *, readable_at: float | None = None) -> None:
        """Remember a write sent at ``now``; readable from ``readable_at`` (default: after the
        response latency, i.e. the request is still in flight)."""
        self.record_request(None, (), [(fingerprint, ttl, tokens)], now, readable_at=readable_at)

    def forget(self, fingerprint: str) -> None:
        """Drop an entry from the local view (e.g. after a response showed it was not read)."""
        with self._lock:
            self._local.entries.pop(fingerprint, None)

    # -- recording a request -------------------------------------------------------------------

    def observe(self, prompt: Prompt, fingerprints: Sequence[str], now: float) -> None:
        """Record that ``prompt`` was sent at ``now``: one sighting of each of its layers."""
        self.record_request(prompt, fingerprints, (), now)

    def record_request(self, prompt: Prompt | None, fingerprints: Sequence[str],
                       writes: Iterable[tuple[str, str, int]], now: float,
                       *, readable_at: float | None = None,
                       sightings: Iterable[Sighting] = ()) -> None:
        """Record a sent request: its layers' sightings (if ``prompt``; or given as
        ``sightings``) and its ``writes`` (``(fingerprint, ttl, tokens)``). One round trip to the
        shared store."""
        sightings = list(sightings)
        classes: dict[str, tuple[str, int]] = {}
        if prompt is not None:
            prefix = prompt.prefix_tokens
            classes = {layer.name: prior_class(layer, prefix[layer.stop - 1]
                                               - (prefix[layer.start - 1] if layer.start else 0))
                       for layer in prompt.layers if layer.stop > layer.start}
            lineages = {layer.name: lineage_of(prompt, layer) for layer in prompt.layers
                        if layer.append_only and layer.stop > layer.start}
            sightings += [Sighting(layer=name, content=content, at=now, size=len(prompt.blocks),
                                   lineage=lineages.get(name, ""), prior_class=classes.get(name))
                          for name, content in layer_keys(prompt, fingerprints)]
        writes = list(writes)
        with self._lock:
            loc = self._local
            out: list[CacheEntry] = []
            for fp, ttl, tokens in writes:
                ready = (readable_at if readable_at is not None
                         else now + self.latency.readable_after(ttl))
                old = loc.entries.pop(fp, None)
                entry = (old.refreshed(ttl, tokens, now, ready) if old is not None else
                         CacheEntry(fingerprint=fp, written_at=now, refreshed_at=now, ttl=ttl,
                                    tokens=tokens, readable_at=ready))
                loc.entries[fp] = entry
                out.append(entry)
            while len(loc.entries) > self.max_entries:
                loc.entries.popitem(last=False)
            for name, cls in classes.items():
                loc.classes.pop(name, None)
                loc.classes[name] = cls
            while len(loc.classes) > self.max_layers:
                loc.classes.popitem(last=False)
            for s in sightings:
                self._sight(s)
        store = self._store()
        if store is not None and (out or sightings):
            try:
                store.push(out, sightings, now)
            except StoreError as e:
                self._failed(e)
            else:
                self._succeeded()

    def _sight(self, s: Sighting) -> None:
        loc = self._local
        key = (s.layer, s.content)
        if s.lineage:
            line = (s.layer, s.lineage)
            before = loc.lineage.pop(line, None)
            loc.lineage[line] = (s.content, before is not None and before[0] != s.content)
            while len(loc.lineage) > self.max_contents:
                loc.lineage.popitem(last=False)
        last, own, _, run = loc.contents.pop(key, (None, -1.0, 0, 0.0))
        previous_gap = own
        new = last is None or not 0 <= s.at - last <= self.horizon
        if last is not None and not new and s.at - last >= self.response_latency:
            own = s.at - last
        if last is None or new or s.at - last >= self.response_latency:
            run = s.at  # a run of sightings each sooner than the latency after the one before
        loc.contents[key] = (s.at if last is None else max(last, s.at), own, s.size, run)
        while len(loc.contents) > self.max_contents:
            loc.contents.popitem(last=False)
        old = loc.layers.pop(s.layer, None) or LayerStats()
        stats = sighted(old, new, None if last is None else s.at - last,
                        self.response_latency, self.window, self.max_gaps, at=s.at,
                        run=s.at - run)
        if s.lineage:  # a conversation: started now, or gone on (no longer in doubt)
            starts = tuple(x for x in stats.starts if x[0] != s.content)
            stats = replace(stats, starts=(*starts, (s.content, s.at))[-self.window:] if new
                            else starts)
        if last is not None and not new and s.at - last >= self.response_latency:
            self._pool(s.layer, s.at - last)
            if previous_gap >= 0:  # did this content's previous gap foretell this one?
                gap = s.at - last
                pairs = stats.own_pairs or tuple((0.0, 0.0, 0.0, 0.0) for _ in DUEL_TTLS)
                stats = replace(stats, own_pairs=tuple(
                    (n * OWN_KEEP + 1, x * OWN_KEEP + (previous_gap <= t), y * OWN_KEEP + (gap <= t),
                     xy * OWN_KEEP + (previous_gap <= t and gap <= t))
                    for (n, x, y, xy), t in zip(pairs, DUEL_TTLS.values(), strict=True)))
        # The duel: would each fixed TTL policy's entry for this content have served it? Each
        # policy's entry is read or rewritten at every sighting, so it expires a TTL after the
        # last one: no shadow entry need be kept.
        if last is None or new or s.at - last >= self.response_latency:
            served = shadow_served(None if last is None or new else s.at - last, DUEL_TTLS)
            stats = replace(stats, duel=(old.duel or Duel()).after(
                served, new=new or last is None))
        loc.layers[s.layer] = stats
        while len(loc.layers) > self.max_layers:
            loc.layers.popitem(last=False)

    def _pool(self, layer: str, gap: float) -> None:
        """Add a reuse gap of ``layer`` to its class's prior (lock held)."""
        cls = self._local.classes.get(layer)
        if cls is not None:
            priors = self._local.priors
            priors[cls] = (*priors.get(cls, ()), gap)[-PRIOR_GAPS:]

    def gap_prior(self, layer: Layer, tokens: int) -> GapPrior | None:
        """What other layers like ``layer`` (its volatility, ``tokens`` within a factor of 4;
        the next size class up or down weighs half) showed of their reuse gaps: the prior of a
        layer that has none of its own yet (None: nothing seen). With a store that keeps the
        fleet's (:class:`~promptcache.state_prior.FleetPriors`) and answers, each class is the
        fleet's as the last plan read it (this process's gaps among them), else this process's:
        a restarted process or a new worker starts from what the fleet learned."""
        volatility, size = prior_class(layer, tokens)
        store = self._store()
        fleet = store.gap_priors() if store is not None and isinstance(store, FleetPriors) else {}
        with self._lock:
            priors = {**self._local.priors, **fleet}
            samples = [(g, 0.5 ** abs(b - size)) for (v, b), gaps in priors.items()
                       if v == volatility and abs(b - size) <= 1 for g in gaps]
        return GapPrior(samples=tuple(samples)) if samples else None

    def record_read(self, prompt: Prompt, plan: Plan, read: int, now: float, *,
                    total: int | None = None) -> ReadCause:
        """Learn from what the provider actually read: ``read`` tokens (the response's
        ``cache_read_input_tokens``) of ``prompt`` sent with ``plan``; ``total`` is the
        provider's count of the whole prompt (input + read + written) when known. With a shared
        store every write and sighting is seen already and the store's view wins; what only the
        provider's answer tells (when a write became readable, an entry still in flight that was
        believed readable) goes to the store in one round trip when there is any (see
        :class:`FleetLessons`), so the whole fleet learns it as one process would. Returns what a
        short read was attributed to (:class:`~promptcache.state_evidence.ReadCause`).

        Counts are the provider's, estimates ours: ``total`` measures this request's token ratio
        (and calibrates the model's, for calls that do not pass it); without either, the model
        row's ratio band is allowed for. What was read is live now: the entries at the plan's
        breakpoints up to ``read`` are readable at once (a marker this state took for a write in
        flight was a read of an entry another worker wrote). A read clearly shorter than the plan
        counted on is attributed by evidence first (see :mod:`promptcache.state_evidence`): the
        prefix changed (a conversation seen under another prefix: a tool list that grew), a write
        still in flight, or an entry this state wrote itself and held warm teach no gap. Only an
        entry it could not watch (another worker's, or assumed from the conversation's shape) is
        taken for an expiry: it is forgotten, and its layer and content record a gap just over
        its TTL, so a worker of a fleet that sees one request of a conversation in eight learns
        the conversation's pace from its first miss.
        """
        lessons = _Lessons()
        cause = self._read(prompt, plan, read, now, total, lessons)
        store = self._store() if lessons else None
        # ``store is not None`` first: a runtime Protocol check costs ~25 µs, even of None.
        if store is not None and isinstance(store, FleetLessons):
            try:
                bounds = store.learn(lessons.entries, lessons.reads, lessons.misses, now)
            except StoreError as e:
                self._failed(e)
            else:
                self._succeeded()
                if bounds is not None:
                    self.latency.adopt(*bounds)
        return cause

    def _read(self, prompt: Prompt, plan: Plan, read: int, now: float, total: int | None,
              lessons: _Lessons) -> ReadCause:
        fps = plan.fingerprints or prompt.fingerprints
        lim = plan.limits
        expected = plan.expected.cache_read_tokens
        ratio: float | None = None
        if total is not None:
            ratio = self.calibration.observe(lim.model, prompt.total_tokens, total)
        if ratio is None:
            ratio = self.calibration.ratio(lim.model)

        def low(tokens: int) -> float:  # the fewest provider tokens ``tokens`` may be
            return tokens * ratio if ratio is not None else lim.provider_tokens(tokens)[0]

        def mid(tokens: int) -> float:
            return tokens * ratio if ratio is not None else lim.provider_tokens(tokens)[1]

        slack = max(128, read // 50, int(0.01 * mid(expected)))
        with self._lock:
            loc = self._local
            # The read ends at one breakpoint: the one whose prefix, in the provider's tokens,
            # is nearest to it; that one and every breakpoint before it were read.
            near = [p for p in plan.placements
                    if p.index < len(fps) and low(p.prefix_tokens) <= read + slack]
            top = min(near, key=lambda p: abs(mid(p.prefix_tokens) - read), default=None)
            for p in near:
                if top is None or p.index > top.index:
                    continue
                old = loc.entries.pop(fps[p.index], None)
                if old is not None and p.prefix_tokens > expected:
                    # The plan took this marker for a write, and the provider read it: what this
                    # state recorded as its write never happened, so the entry was written
                    # earlier, by another worker, at a time unknown. Kept as the write's time, it
                    # taught a later read a latency the provider never showed (a private worker's
                    # 1h probe then paid a second write of a prefix still in flight).
                    old = replace(old, written_at=-math.inf)
                if old is not None and now > old.written_at \
                        and self.latency.read_at(now - old.written_at):
                    lessons.reads.append(now - old.written_at)
                loc.entries[fps[p.index]] = (
                    replace(old, refreshed_at=now, readable_at=min(old.readable_at, now))
                    if old is not None and old.expires_at > now else
                    CacheEntry(fingerprint=fps[p.index], written_at=-math.inf, refreshed_at=now,
                               ttl=p.ttl, tokens=p.prefix_tokens, readable_at=now))
                if old is not None and old.readable_at > now and old.expires_at > now:
                    lessons.entries.append(loc.entries[fps[p.index]])  # readable sooner
            while len(loc.entries) > self.max_entries:
                loc.entries.popitem(last=False)
            if expected <= 0 or read + slack >= low(expected):
                short_in_row_units = (ratio is not None and expected > 0
                                      and read + slack < lim.provider_tokens(expected)[0])
                return ReadCause.TOKENIZER if short_in_row_units else ReadCause.FULL
            gone = _position(prompt.prefix_tokens, expected)
            if gone is None or gone >= len(fps):
                return ReadCause.EXPIRED
            try:
                layer = prompt.layer_of(gone)
            except IndexError:  # a position outside every layer: nothing to learn
                return ReadCause.EXPIRED
            key = (layer.name, content_key(layer, fps))
            entry = loc.entries.pop(fps[gone], None)
            _, own_gap, _, _ = loc.contents.get(key, (0.0, -1.0, 0, 0.0))
            line = loc.lineage.get((layer.name, lineage_of(prompt, layer))) \
                if layer.append_only else None
            evidence = ReadEvidence(
                own_warm=entry is not None and entry.written_at < now
                and entry.expires_at > now,
                in_flight=0 <= own_gap < 2 * self.response_latency,
                changed=line is not None and line[1],
                earlier_read=layer.append_only and gone > layer.start
                and read + slack >= low(prompt.prefix_tokens[layer.start]),
                unseen_alone=layer.append_only and own_gap < 0 and self._coverage.sees_all(),
                too_young=layer.append_only and entry is None
                and 2 * self.response_latency <= own_gap < min(
                    TTL_SECONDS[t] for t in (lim.ttls or ("5m",))))
            cause = attribute(read, low(expected), slack, evidence)
            if cause in (ReadCause.OWN_ENTRY, ReadCause.IN_FLIGHT) and entry is not None \
                    and entry.readable_at <= now and now - entry.written_at < IN_FLIGHT_WITHIN:
                # Believed readable, not readable yet: the provider answers later than assumed.
                if self.latency.missed_at(now - entry.written_at):
                    lessons.misses.append(now - entry.written_at)
                cause = ReadCause.IN_FLIGHT
                loc.entries[fps[gone]] = replace(
                    entry, readable_at=entry.written_at + self.latency.readable_after(entry.ttl))
                lessons.entries.append(loc.entries[fps[gone]])  # still in flight, fleet-wide
            if cause is not ReadCause.EXPIRED:
                return cause
            ttl = entry.ttl if entry is not None else (lim.ttls or ("5m",))[0]
            gap = TTL_SECONDS[ttl] + self.response_latency
            old_stats = loc.layers.pop(layer.name, None) or LayerStats()
            loc.layers[layer.name] = replace(old_stats,
                                             gaps=(*old_stats.gaps, gap)[-self.max_gaps:])
            self._pool(layer.name, gap)
            if key in loc.contents:
                seen_at, _, size, run = loc.contents[key]
                loc.contents[key] = (seen_at, gap, size, run)
            return cause

    def watches_conversations(self) -> bool:
        """False when a conversation that did not come back to this state may have gone on
        elsewhere: a shared store's other workers serve it, or this state has seen a
        conversation whose previous request it did not see (a worker of a fleet)."""
        return self.shared is None and not self._coverage.partial()

    def rebased(self, prompt: Prompt, layer: Layer, content: str) -> bool:
        """True when ``layer`` (a conversation) was last seen under a prefix other than
        ``content``'s: what comes before it changed (a tool list that grew, a new system
        prompt), so its earlier entries cannot be read, whoever wrote them."""
        if not layer.append_only or layer.stop <= layer.start:
            return False
        with self._lock:
            line = self._local.lineage.get((layer.name, lineage_of(prompt, layer)))
        return line is not None and line[0] != content

    # -- what the optimizer reads --------------------------------------------------------------

    def observed_reuse(self, layer: str, hint: Reuse) -> Reuse:
        """The layer's Reuse: the hint updated with what was observed (see LayerEstimate)."""
        _, stats, _ = self.lookup((), self.now(), [(layer, "")])
        est = LayerEstimate.from_stats(hint, stats.get(layer), seen=False)
        if est.window == 0:
            return hint
        return Reuse(uses=est.uses, interval=hint.interval, gaps=est.gaps or hint.gaps)

    def observed_duel(self, layer: str) -> Duel | None:
        """The layer's duel of fixed TTL policies: the fleet's with a shared store, else this
        process's (None: nothing sighted yet)."""
        stats = self.lookup((), self.now(), [(layer, "")])[1].get(layer)
        return stats.duel if stats is not None else None

    def snapshot(self) -> Mapping[str, CacheEntry]:
        """The local view's entries."""
        with self._lock:
            return dict(self._local.entries)

    def sizes(self) -> Mapping[str, int]:
        """How many entries, content sightings and layers the local view holds."""
        with self._lock:
            loc = self._local
            return {"entries": len(loc.entries), "contents": len(loc.contents),
                    "layers": len(loc.layers)}


def _position(prefix: Sequence[int], tokens: int) -> int | None:
    """The first position whose prefix holds exactly ``tokens`` (None: no such position)."""
    index = bisect.bisect_left(prefix, tokens)
    return index if index < len(prefix) and prefix[index] == tokens else None
