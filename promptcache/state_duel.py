"""Set-dueling for TTLs: what each fixed TTL policy would have paid on the traffic a layer saw.

A hardware cache picks its insertion policy by running a few sets under each candidate policy
and following whichever misses less; this is the same idea for a prefix family (a layer, across
all its contents). For every layer the state counts, on each sighting, what each fixed policy
("write this layer for 5 minutes every time", "for 1 hour every time") would have paid: a write
for new content or a cold entry, a read for a warm one. Each policy's entry is read or rewritten
at every sighting, so it is warm exactly when the gap since the content's last sighting is
shorter than its TTL: the content's last-seen time, which the state keeps anyway, is the whole
shadow cache. The counters decay
(each reuse weighs :data:`DUEL_KEEP` of the next), so when the traffic changes pace the duel
follows within a few requests instead of averaging over its whole history.

The optimizer prices each TTL with its own cost model from the hit probability; once a layer
has :data:`DUEL_MIN` weighted sightings and one policy paid clearly less (:data:`MARGIN`), the
duel has a verdict: a longer TTL than the winner's is priced as no likelier to be warm, and the
winner's no less than it measured, so the optimizer's choice between TTLs follows the cheaper of
the two fixed policies on the traffic just observed (docs/optimizer.md states the resulting
bound). Cheap arithmetic: two floats per TTL per layer, nothing per content.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DUEL_KEEP", "DUEL_MIN", "MARGIN", "READ", "WRITE", "Duel", "shadow_served"]

#: Each reuse weighs this much of the next one: the duel remembers about four.
DUEL_KEEP = 0.75
#: Weighted reuses after which the duel's hit rates replace the gap-based estimate.
DUEL_MIN = 2.5


#: What each fixed policy pays per token (Anthropic's 5m and 1h write and read multipliers; the
#: verdict turns on their ratios, which every priced row shares).
READ = 0.1
WRITE: Mapping[str, float] = {"5m": 1.25, "1h": 2.0}
#: The cheaper policy wins the duel only when the other paid this much more (relative).
MARGIN = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class Duel:
    """Decayed shadow counters of one layer: per fixed TTL policy, the reuses its entry served
    and what it paid on every sighting (a write for new content or a cold entry, a read else)."""

    #: ``(ttl, weighted hits)`` per TTL, over reuses.
    hits: tuple[tuple[str, float], ...] = ()
    #: Weighted reuses counted.
    samples: float = 0.0
    #: ``(ttl, weighted cost per token)`` per TTL, over every sighting.
    paid: tuple[tuple[str, float], ...] = ()
    #: Weighted sightings counted.
    sightings: float = 0.0

    def q(self, ttl: str) -> float | None:
        """The share of recent reuses a fixed ``ttl`` policy would have read (None: too few)."""
        if self.samples < DUEL_MIN:
            return None
        return dict(self.hits).get(ttl, 0.0) / self.samples

    def cost(self, ttl: str) -> float | None:
        """Per token of the layer per request, what the fixed ``ttl`` policy paid recently."""
        if self.sightings < DUEL_MIN:
            return None
        return dict(self.paid).get(ttl, 0.0) / self.sightings

    def winner(self) -> str | None:
        """The fixed TTL policy that paid clearly less recently (None: no verdict yet)."""
        costs = {t: c for t in WRITE if (c := self.cost(t)) is not None}
        if len(costs) < len(WRITE):
            return None
        best = min(costs, key=lambda t: costs[t])
        others = [c for t, c in costs.items() if t != best]
        return best if all(c > costs[best] * (1 + MARGIN) for c in others) else None

    def after(self, served: Mapping[str, bool], *, new: bool = False) -> Duel:
        """This duel after one more sighting: new content (every policy writes), or a reuse that
        ``served[ttl]`` when that TTL's entry was warm."""
        hits, samples = self.hits, self.samples
        if not new:
            old = dict(self.hits)
            hits = tuple(sorted((t, old.get(t, 0.0) * DUEL_KEEP + (1.0 if ok else 0.0))
                                for t, ok in served.items()))
            samples = self.samples * DUEL_KEEP + 1.0
        spent = dict(self.paid)
        paid = tuple(sorted(
            (t, spent.get(t, 0.0) * DUEL_KEEP
             + (READ if served.get(t) and not new else WRITE.get(t, 1.0))) for t in WRITE))
        return Duel(hits=hits, samples=samples, paid=paid,
                    sightings=self.sightings * DUEL_KEEP + 1.0)


def shadow_served(gap: float | None, ttl_seconds: Mapping[str, float]) -> dict[str, bool]:
    """Which fixed policies' entries served a reuse ``gap`` seconds after the content's previous
    sighting (None: new content, nobody's). Every policy reads or rewrites its entry at each
    sighting, so its entry expires one TTL after the last: the gap alone decides."""
    return {t: gap is not None and gap < s for t, s in ttl_seconds.items()}
