"""What a :class:`~promptcache.state.CacheState` knows, as frozen values, and the arithmetic that
updates them.

A warm-prefix entry (:class:`CacheEntry`), what has been seen of a layer (:class:`LayerStats`,
updated by :func:`sighted` and :func:`settled`), one layer of one request (:class:`Sighting`), the
first-write prior (:class:`GapPrior`, :func:`prior_class`) and the estimate the optimizer plans
with (:class:`LayerEstimate`). Pure values and pure functions: the state's locking, bounds and
fleet sharing live in :mod:`promptcache.state`, so the Redis store's Lua scripts
(:mod:`promptcache.state_redis`) can be checked against this arithmetic alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from promptcache.blocks import Layer, Reuse, Volatility
from promptcache.limits import TTL_SECONDS
from promptcache.prompt import Prompt
from promptcache.state_duel import Duel

__all__ = ["BYTES_PER_CONTENT", "BYTES_PER_ENTRY", "DECAY", "DUEL_TTLS", "OWN_KEEP", "OWN_TTLS",
           "PRIOR_GAPS", "SETTLE_AFTER", "CacheEntry", "GapPrior", "LayerEstimate", "LayerStats",
           "Sighting", "content_key", "layer_keys", "lineage_of", "prior_class", "settled",
           "sighted"]


#: Upper estimates of what one warm-prefix entry and one content sighting hold in memory
#: (key string, value object, LRU links); the memory test checks them with tracemalloc. A
#: sighting holds its (layer, content) key and (last seen, own gap, size): 240 bytes was 0.4%
#: short of what a fresh CPython 3.11 measured once the own gap and size were added.
BYTES_PER_ENTRY = 400
BYTES_PER_CONTENT = 300
#: The hint's reuse gaps count as this many observed gaps.
GAP_PRIOR_WEIGHT = 0.5
#: The hint's rate of new content counts as this many sightings: unlearned within a few requests.
RATE_PRIOR_WEIGHT = 0.5
#: A conversation's prior counts as this many sightings while its conversations may still go on
#: (see LayerEstimate.from_stats and LayerStats.young): while
#: conversations are starting, every sighting is a new one that has not had time to go on yet,
#: so early sightings overstate the share of new conversations (sub-agents started together
#: looked single-use at a weight of 3, and their 3k-token briefs went unwritten).
CONVERSATION_PRIOR_WEIGHT = 6.0
#: Sightings after which the rate of new content has mostly forgotten older ones.
DECAY = 32.0
#: Seconds after which new contents sighted together are counted as new in the layer's rate
#: (the short TTL: a conversation that has not gone on by then did not read its 5m write).
SETTLE_AFTER = 300.0
#: Sightings needed before a layer that is new on every one of them is called volatile.
VOLATILE_AFTER = 3
#: A prior learned from other layers counts as at most this many observed gaps: enough to decide
#: a first write, forgotten once the layer's own gaps come.
PRIOR_WEIGHT = 2.0
#: Reuse gaps kept per class of layers (volatility, size within a factor of 4) for that prior.
PRIOR_GAPS = 32
#: Weighted pairs of consecutive own gaps before their correlation replaces the default weight.
OWN_MIN = 4.0
#: Each own-gap test weighs this much of the next one.
OWN_KEEP = 0.9
#: Weighted pairs at which a correlation counts half against the default weight of 1. With
#: OWN_KEEP at 0.9 a correlation rests on at most ~10 weighted pairs, a noisy estimate: taken at
#: face value, a near-zero one from rotating document sets made the layer's pooled return gaps
#: outvote a set's own short gap and wrote returning sets for 1 hour (rag_rotating_docs 1.081x
#: hand placement; shrunk, 1.000x).
OWN_SHRINK = 5.0
#: The fixed TTL policies the duel runs in the shadow of every layer.
DUEL_TTLS = {ttl: float(TTL_SECONDS[ttl]) for ttl in ("5m", "1h")}
#: The TTLs of :attr:`LayerStats.own_pairs`, in its order (a shared store keeps them so).
OWN_TTLS = tuple(DUEL_TTLS)


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheEntry:
    """A prefix this state believes the provider holds."""

    fingerprint: str
    #: When the request that wrote it was sent (``-inf``: unknown, an entry known from a read
    #: alone, which teaches nothing about how soon a write is readable).
    written_at: float
    refreshed_at: float
    ttl: str
    tokens: int
    #: When the entry can first be read: the provider makes a write readable only once the
    #: response that wrote it has started, so concurrent requests each pay their own write.
    readable_at: float = 0.0

    @property
    def expires_at(self) -> float:
        return self.refreshed_at + TTL_SECONDS[self.ttl]

    def warm(self, now: float) -> bool:
        """Readable now: written, its response started, and not expired."""
        return self.readable_at <= now < self.expires_at

    def pending(self, now: float) -> bool:
        """Being written by a request whose response has not started yet."""
        return now < self.readable_at

    def refreshed(self, ttl: str, tokens: int, now: float, readable_at: float) -> CacheEntry:
        """This entry after a request marked its prefix again at ``now``.

        A live entry is read, and a read keeps the entry's own TTL (a 5m entry read through a 1h
        marker stays 5m; a 1h entry needs a 1h write); an expired one is written anew.
        """
        if self.warm(now) or self.pending(now):
            return CacheEntry(fingerprint=self.fingerprint, written_at=self.written_at,
                              refreshed_at=now, ttl=self.ttl, tokens=tokens,
                              readable_at=min(self.readable_at, readable_at))
        return CacheEntry(fingerprint=self.fingerprint, written_at=now, refreshed_at=now, ttl=ttl,
                          tokens=tokens, readable_at=readable_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerStats:
    """What has been seen of one layer across requests (bounded)."""

    sightings: int = 0
    #: The last sightings (at most the state's ``window``), newest last: True when the content was
    #: new (not seen within the horizon).
    recent: tuple[bool, ...] = ()
    #: Sightings and new contents counted with a decay (each older by one sighting weighs
    #: ``1 - 1/DECAY`` less): the layer's current rate of new content.
    weight: float = 0.0
    new_weight: float = 0.0
    #: Gaps in seconds between requests that reused the same content, newest last.
    gaps: tuple[float, ...] = ()
    #: When the layer was last sighted (None: unknown, e.g. a store that does not keep it).
    last_at: float | None = None
    #: What the fixed TTL policies would have served of its recent reuses (the fleet's with a
    #: shared store; see :mod:`promptcache.state_duel`).
    duel: Duel | None = None
    #: Whether a content's own last gap foretold its next one (decayed, local): per TTL of the
    #: duel, over the reuses of a content that had a gap before, the weighted count ``n``, how
    #: many had the previous gap within the TTL (``x``), this one (``y``), and both (``xy``).
    own_pairs: tuple[tuple[float, float, float, float], ...] = ()
    #: A conversation layer's latest new conversations not seen again yet, with when they
    #: started (local, at most the state's ``window``): each is single-use evidence only once
    #: it had time to go on (see :meth:`young`).
    starts: tuple[tuple[str, float], ...] = ()

    def young(self, now: float, within: float) -> int:
        """How many of the latest new conversations started less than ``within`` seconds ago
        and were not seen again: too young to tell whether they go on."""
        return sum(1 for _, at in self.starts if 0 <= now - at < within)
    #: New contents sighted concurrently (see :func:`sighted`), not yet counted in the rate, and
    #: when the first of them was sighted: counted once :data:`SETTLE_AFTER` has passed.
    deferred: int = 0
    deferred_at: float | None = None

    @property
    def own_weight(self) -> float:
        """How much a content's own last gap counts against the layer's (1: as much as all of
        them together): the correlation between consecutive gaps of the same content, per TTL
        where they vary. Tenants that each keep their own pace correlate (about 1); one stream of
        gaps drawn alike does not (about 0), and its last gap is then one more sample, not a
        verdict. 1 until there is evidence either way, and shrunk toward 1 by how little there is
        (:data:`OWN_SHRINK`)."""
        weights = []
        for n, x, y, xy in self.own_pairs:
            spread = x * (n - x) * y * (n - y)
            if n >= OWN_MIN and spread > 1e-9 * n ** 4:
                phi = min(1.0, max(0.0, (n * xy - x * y) / math.sqrt(spread)))
                weights.append(1.0 - (1.0 - phi) * n / (n + OWN_SHRINK))
        if not weights:
            return 1.0
        return sum(weights) / len(weights)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sighting:
    """One layer of one request: the layer, its content's key, and when it was sent."""

    layer: str
    content: str
    at: float
    #: How many positions the request had (tells a later request whether it saw the one just
    #: before it in a conversation).
    size: int = 0
    #: A conversation's identity apart from its prefix (the digest of its first block): the same
    #: lineage under a new content key means the prefix before it changed (empty: not tracked).
    lineage: str = ""
    #: The layer's :func:`prior_class` (None: unknown), so a shared store can add the reuse gap
    #: this sighting closes to the fleet's prior of that class (see :mod:`promptcache.state_prior`).
    prior_class: tuple[str, int] | None = None


def prior_class(layer: Layer, tokens: int) -> tuple[str, int]:
    """The class of layers whose reuse gaps inform ``layer``'s first write: its volatility and its
    size (``tokens``) within a factor of 4."""
    return layer.volatility.value, int(math.log(max(tokens, 1), 4))


@dataclass(frozen=True, slots=True, kw_only=True)
class GapPrior:
    """Reuse gaps seen on other layers of a similar class, weighted by how similar: what a layer
    with no gap of its own is expected to do.

    A new system prompt of 40k tokens in a service whose other 40k-token layers come back every
    20 minutes will too, most likely; the volatility hint (a static layer reused every minute)
    says otherwise, and choosing the first write's TTL from the hint alone pays a full rewrite
    of the largest prefix for each such lesson.
    """

    #: ``(gap seconds, weight)`` samples, each weight at most 1 (1: same class).
    samples: tuple[tuple[float, float], ...] = ()

    @property
    def weight(self) -> float:
        """How many observed gaps the prior counts as (at most :data:`PRIOR_WEIGHT`)."""
        return min(PRIOR_WEIGHT, sum(w for _, w in self.samples))

    def q(self, ttl_seconds: float) -> float:
        """The weighted share of the samples within ``ttl_seconds``."""
        total = sum(w for _, w in self.samples)
        if total <= 0:
            return 0.0
        return sum(w for g, w in self.samples if g <= ttl_seconds) / total


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerEstimate:
    """A layer's reuse as the optimizer uses it: the hint, updated with what was observed.

    ``uses`` comes from the share of recent sightings whose content was new (``1 / rate``, the
    hint's rate counting as half a sighting, older sightings decaying); content not seen yet is
    expected to be used at most as often as the hint says (except a conversation, whose first
    turn is filed as TURN), and content seen before (``seen``) has shown its reuse, so at least
    as often. The chance that the next reuse comes within a TTL
    mixes the hint's (weighted as half a gap), the layer's observed gaps, and this content's own
    last gap (weighted like all the layer's together): a tenant's system prompt that comes back
    every 15 minutes goes to 1 hour even while other tenants' come back every minute.
    """

    hint: Reuse
    uses: float
    gaps: tuple[float, ...] = ()
    seen: bool = False
    #: This content's last reuse gap, when it has one (the gap this request closes, for a
    #: content coming back for the first time and for a conversation), and the size of the
    #: request that last carried it (0: not seen).
    own_gap: float | None = None
    last_size: int = 0
    #: Of the last ``window`` sightings, how many had new content, and how many there were.
    new: int = 0
    window: int = 0
    #: A conversation last seen under another prefix (see :meth:`CacheState.rebased`): nothing
    #: it wrote before can be read now.
    rebased: bool = False
    #: The layer's duel of fixed TTL policies (see :mod:`promptcache.state_duel`).
    duel: Duel | None = None
    #: Gaps of other layers of its class: used only while the layer has no gap of its own.
    prior: GapPrior | None = None
    #: How much ``own_gap`` counts against the layer's gaps (see :attr:`LayerStats.own_weight`).
    own_weight: float = 1.0

    @property
    def volatile(self) -> bool:
        """New content on each of at least three sightings after the first, never a repeat."""
        return self.window >= VOLATILE_AFTER and self.new == self.window and not self.seen

    def hit_probability(self, ttl_seconds: float) -> float:
        """Chance the next reuse finds a ``ttl_seconds`` entry warm.

        The hint mixed with the observed gaps (and this content's own last gap). When the layer's
        duel has a verdict (one fixed TTL policy paid clearly less on the traffic just
        seen, writes included), a longer TTL is priced as no more likely to be warm than the
        winner's, and the winner no less than it measured: the optimizer's choice then follows
        the cheaper fixed policy (the bound is in docs/optimizer.md). Unless this content has no
        gap of its own or its own last gap outlived the winner's TTL: a tenant
        that comes back every 15 minutes among tenants that come once is the exception the
        family's verdict does not cover.
        """
        q = self._hit(ttl_seconds)
        win = self.duel.winner() if self.duel is not None else None
        if win is not None and self.seen and (self.own_gap is None
                                              or self.own_gap > DUEL_TTLS[win]):
            win = None  # this content's own reuse is its own evidence: the family's is not
        if win is not None:
            if ttl_seconds > DUEL_TTLS[win]:
                q = min(q, self._hit(DUEL_TTLS[win]))
            elif ttl_seconds == DUEL_TTLS[win] and self.duel is not None:
                q = max(q, self.duel.q(win) or 0.0)
        return q

    def _hit(self, ttl_seconds: float) -> float:
        q = self.hint.hit_probability(ttl_seconds)
        if not self.gaps and self.own_gap is None and self.prior is not None \
                and self.prior.weight > 0:
            # No gap of its own yet: the first write's TTL. Layers like it are the evidence.
            w = self.prior.weight
            q = (GAP_PRIOR_WEIGHT * q + w * self.prior.q(ttl_seconds)) / (GAP_PRIOR_WEIGHT + w)
        if self.gaps:
            within = sum(1 for g in self.gaps if g <= ttl_seconds)
            q = (GAP_PRIOR_WEIGHT * q + within) / (GAP_PRIOR_WEIGHT + len(self.gaps))
        if self.own_gap is not None:
            w = self.own_weight
            q = (q + w * (1.0 if self.own_gap <= ttl_seconds else 0.0)) / (1.0 + w)
        return q

    @classmethod
    def from_hint(cls, hint: Reuse) -> LayerEstimate:
        return cls(hint=hint, uses=hint.uses, gaps=hint.gaps)

    @classmethod
    def from_stats(cls, hint: Reuse, stats: LayerStats | None, seen: bool,
                   own_gap: float | None = None, *, grows: bool = False,
                   last_size: int = 0, prior: GapPrior | None = None,
                   now: float | None = None, longest_ttl: float = 3600.0) -> LayerEstimate:
        prior_uses, weight = hint.uses, RATE_PRIOR_WEIGHT
        if grows:
            # A conversation's first turn is filed as TURN (1 use), and while conversations are
            # in progress the share of new ones looks high: start from a session's hint, firmly.
            prior_uses = max(prior_uses, Volatility.SESSION.default_reuse.uses)
            weight = CONVERSATION_PRIOR_WEIGHT
            if stats is not None and stats.starts and now is not None:
                # Firmly only while they may still go on: a conversation that did not come back
                # within the longest TTL cannot read anything written for it now; for the cache
                # it ended. Tenants' one-question conversations 20 minutes apart had their
                # question written for 5 minutes on every request (g004-tenants).
                weight = min(weight, RATE_PRIOR_WEIGHT + stats.young(now, longest_ttl))
        if stats is None or not stats.recent:
            gaps = stats.gaps if stats is not None else ()
            return cls(hint=hint, uses=max(prior_uses, 2.0) if seen else prior_uses, gaps=gaps,
                       seen=seen, own_gap=own_gap, last_size=last_size,
                       duel=stats.duel if stats is not None else None, prior=prior,
                       own_weight=stats.own_weight if stats is not None else 1.0)
        new = sum(stats.recent)
        window = len(stats.recent)
        rate = (stats.new_weight + weight / prior_uses) / (stats.weight + weight)
        uses = min(1e6, max(1.0, 1.0 / rate))
        if seen:
            uses = max(uses, hint.uses, 2.0)
        elif not grows:
            uses = min(uses, hint.uses)
        return cls(hint=hint, uses=uses, gaps=stats.gaps, seen=seen, own_gap=own_gap, new=new,
                   window=window, last_size=last_size, duel=stats.duel, prior=prior,
                   own_weight=stats.own_weight)



def sighted(old: LayerStats, new: bool, gap: float | None, latency: float, window: int,
            max_gaps: int, *, at: float | None = None, run: float = 0.0) -> LayerStats:
    """``old`` after one more sighting (``new`` content or not, ``gap`` since its last one) at
    ``at``, ``run`` seconds after the first of the run of sightings it ends (each sooner than
    the latency after the one before).

    The layer's first sighting says nothing about its rate (every content is new once), and a
    sighting sooner than the response latency after the layer's previous one is concurrency, not
    reuse or volatility: a repeat that soon could not read the entry in flight, and new contents
    that soon are conversations starting together (eight users opening their own documents at
    once), each of which has had no time yet to come back. Neither enters the window at once;
    the new contents are counted once they have had time to go on (:func:`settled`). Unless the
    repeat ends a run longer than the latency: a burst of one content (20 requests in 3 s, each
    0.1 s after the last) reads the first one's write from a latency on, so it is reuse. Counted
    as concurrency, a burst left the layer with no rate at all, and the first sighting after a
    pause past the horizon (new, as every content is then) made it look single-use: a restarted
    process wrote nothing after its first request (g003 2.3x the cheapest fixed policy).
    """
    if at is not None:
        old = settled(old, at, window)
    concurrent = not new and gap is not None and gap < latency and run < latency
    deferred, deferred_at = old.deferred, old.deferred_at
    if new and at is not None and old.last_at is not None and 0 <= at - old.last_at < latency:
        concurrent = True
        if old.sightings > 0:  # counted once it has had time to go on (see settled)
            deferred, deferred_at = deferred + 1, at if deferred_at is None else deferred_at
    recent, weight, new_weight = old.recent, old.weight, old.new_weight
    if old.sightings > 0 and not concurrent:
        recent = (*recent, new)[-window:]
        keep = 1 - 1 / DECAY
        weight, new_weight = weight * keep + 1, new_weight * keep + new
    gaps = old.gaps
    if not new and gap is not None and gap >= latency:
        gaps = (*gaps, gap)[-max_gaps:]
    last_at = at if old.last_at is None or at is None else max(at, old.last_at)
    return LayerStats(sightings=old.sightings + 1, recent=recent, gaps=gaps, weight=weight,
                      new_weight=new_weight, last_at=last_at, duel=old.duel,
                      own_pairs=old.own_pairs, starts=old.starts, deferred=deferred,
                      deferred_at=deferred_at)


def settled(stats: LayerStats, now: float, window: int) -> LayerStats:
    """``stats`` with the new contents sighted concurrently counted as new sightings, once
    :data:`SETTLE_AFTER` has passed since the first of them.

    Contents starting together are left out of the rate at first: none has had time to come back,
    and counted at once they would make sub-agents started together look single-use. Left out
    for good, though, a burst of one-shot requests (each its own conversation, a few tenths of a
    second apart) never teaches anything: the conversation kept its session prior of 8 uses, so
    its tail breakpoint looked worth writing the whole prefix for, for every request of the next
    burst, and the static layers were left unmarked (g237-burst 2.37x hand placement). Their
    returns, if any, are counted as reuses when they come; each start counts once as new, as a
    start that was not concurrent does at once.
    """
    if stats.deferred <= 0 or stats.deferred_at is None or now - stats.deferred_at < SETTLE_AFTER:
        return stats
    keep = 1 - 1 / DECAY
    weight, new_weight = stats.weight, stats.new_weight
    for _ in range(stats.deferred):
        weight, new_weight = weight * keep + 1, new_weight * keep + 1
    recent = (*stats.recent, *([True] * stats.deferred))[-window:]
    return replace(stats, recent=recent, weight=weight, new_weight=new_weight, deferred=0,
                   deferred_at=None)


def layer_keys(prompt: Prompt, fingerprints: Sequence[str]) -> list[tuple[str, str]]:
    """``(layer, content key)`` for each non-empty layer of ``prompt``.

    A layer's content is keyed by the prefix fingerprint at its end (everything it depends on),
    a conversation's by the one at its first block (it grows, and stays the same conversation).
    """
    return [(layer.name, content_key(layer, fingerprints))
            for layer in prompt.layers if layer.stop > layer.start]


def lineage_of(prompt: Prompt, layer: Layer) -> str:
    """A conversation's identity apart from what precedes it: the digest of its first block."""
    return prompt.blocks[layer.start].digest.hex()


def content_key(layer: Layer, fingerprints: Sequence[str]) -> str:
    """The key of a non-empty ``layer``'s content (see :func:`layer_keys`)."""
    return fingerprints[layer.start if layer.append_only else layer.stop - 1]
