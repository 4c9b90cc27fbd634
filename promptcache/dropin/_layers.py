"""Layers learned from traffic: where a request's stable part ends, from what changes between
requests of the same family.

A request written without :class:`~promptcache.PromptBuilder` says nothing about volatility: its
system blocks are read as one static layer, although a RAG service puts its instructions first
(the same on every request) and the documents it retrieved after them (new every few
questions). Planned as static, the documents are priced as if they would be read a thousand
times, so every new set is written for an hour, and the instructions before them are never a
candidate of their own. The builder knows better because its user said so (``add_documents``).

The wrapper learns the same from the traffic. Requests of one *family* (the same model, tools
and first system block: one prefix fingerprint) are compared position by position: for each
system block, how often the prefix ending there changed from one request of the family to the
next. Blocks whose prefix never changed stay in the static layer; from the first one that did,
the rest of the system section becomes a layer of its own, ``documents``, with the builder's
hint for documents (:attr:`Volatility.SESSION`), or :attr:`Volatility.TURN` when it changed on
every request; a later block whose prefix changes clearly more often than the one before it
opens a further layer. The reuse of each learned layer is then measured by the
:class:`~promptcache.CacheState` from its sightings, as for any layer the builder makes.

What is never done: the request itself is not touched (only the Prompt's layer boundaries move,
which decide where markers may go), and nothing is learned from one request: until a family has
shown a change, its Prompt is planned exactly as before. Evidence is per process (kept with the
CacheState it plans with, so every client sharing a state shares it) and bounded: at most
``max_families`` families, least recently seen out first, and ``max_positions`` system blocks
each.

**What the family showed before it was learned.** Until the first change, the whole system
section was one layer, so the state filed the sightings of what becomes the documents under the
static layer's name. The builder's documents layer has them from its first request; a learned
one would start empty, and on a fleet of private workers, each of which sees a few requests of
each document set, those first sightings are most of the evidence (the 1-hour write of a
returning set hangs on them: rag_rotating_docs on 8 private workers was 1.042x the builder's
for this alone). So a family keeps its last :data:`REPLAY` requests' times and system
fingerprints until it is first cut, and the cut hands them to the state as sightings of the
learned layers, in order, as the builder's state saw them.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from promptcache.blocks import Layer, Volatility
from promptcache.prompt import Prompt
from promptcache.state import CacheState, Sighting

__all__ = ["LayerLearner", "learner_for"]

#: Families kept (least recently seen out first); each holds at most MAX_POSITIONS positions.
MAX_FAMILIES = 1_024
MAX_POSITIONS = 64
#: The name of a learned layer (as the builder names its documents: the state's statistics are
#: keyed by layer name).
LEARNED = "documents"
#: A learned layer whose prefix changed on at least this share of the family's requests, with
#: at least TURN_AFTER comparisons, is volatile on every request (TURN).
TURN_SHARE = 0.9
TURN_AFTER = 3
#: A later block opens a layer of its own when its prefix changed this many times as often as
#: the first block of the current learned layer.
SPLIT_RATIO = 2.0
#: Requests of a family kept, until its first cut, to file under the learned layers (see the
#: module docstring); each holds references to its system fingerprints, not copies.
REPLAY = 8


@dataclass(frozen=True, slots=True)
class _Sent:
    """One earlier request of a family, as the state saw it."""

    at: float
    #: The prefix fingerprints of its system positions (at most MAX_POSITIONS).
    fingerprints: tuple[str, ...]
    #: The prefix fingerprint at its last system block (the section may hold more positions).
    end: str
    #: How many blocks the whole request had (the state's :attr:`Sighting.size`).
    size: int


@dataclass(slots=True)
class _Family:
    """What the requests of one family showed, per system position."""

    #: The digests of the last request's system blocks (at most MAX_POSITIONS).
    last: list[bytes]
    #: Per position: how many comparisons included it, and on how many its prefix had changed.
    compared: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    #: The requests seen before the family was first cut (None once it has been).
    sent: list[_Sent] | None = field(default_factory=list)

    def observe(self, digests: Sequence[bytes]) -> None:
        """Compare this request's system blocks with the previous request's."""
        n = len(digests)
        while len(self.compared) < n:
            self.compared.append(0)
            self.changed.append(0)
        moved = False
        for k in range(n):
            if not moved and (k >= len(self.last) or digests[k] != self.last[k]):
                moved = True  # the prefix changed here, and so at every later position
            self.compared[k] += 1
            self.changed[k] += moved
        self.last = list(digests)

    def rate(self, k: int) -> float:
        if k >= len(self.compared) or not self.compared[k]:
            return 0.0
        return self.changed[k] / self.compared[k]


@dataclass(frozen=True, slots=True)
class _Cut:
    """One learned layer: its first system position and its volatility."""

    start: int
    volatility: Volatility


class LayerLearner:
    """Per-family evidence of which system blocks change, turned into layer boundaries.

    Thread-safe and bounded (see the module docstring). :meth:`relayer` both records the request
    and returns its Prompt with the layers learned so far.
    """

    def __init__(self, *, max_families: int = MAX_FAMILIES,
                 max_positions: int = MAX_POSITIONS) -> None:
        self.max_families = max_families
        self.max_positions = max_positions
        self._families: OrderedDict[str, _Family] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many families are held."""
        return len(self._families)

    def relayer(self, prompt: Prompt, state: CacheState | None = None) -> Prompt:
        """Record ``prompt`` in its family and return it with the learned layers (or as it is,
        when there is nothing to learn from yet or nothing to split).

        ``state``: the CacheState the request is planned with. On the family's first cut, its
        earlier requests are recorded there as sightings of the learned layers (see the module
        docstring); the time of each request is read from its clock.
        """
        system = _static_system(prompt)
        if system is None:
            return prompt
        start, stop = system.start, system.stop
        key = prompt.fingerprints[start]  # model, settings, tools and the first system block
        digests = [b.digest for b in prompt.blocks[start:min(stop, start + self.max_positions)]]
        earlier: list[_Sent] = []
        with self._lock:
            family = self._families.pop(key, None)
            if family is None:
                family = _Family(last=digests)
            else:
                family.observe(digests)
            self._families[key] = family
            while len(self._families) > self.max_families:
                self._families.popitem(last=False)
            cuts = _cuts(family, len(digests))
            if family.sent is not None and state is not None:
                if cuts:  # the first cut: what the family showed before is handed over once
                    earlier, family.sent = family.sent, None
                else:
                    family.sent.append(_sent(prompt, system, self.max_positions, state.now()))
                    del family.sent[:-REPLAY]
        if not cuts:
            return prompt
        # What the planner asks of every Prompt, computed on this one (the memo's, which the
        # next turn extends) before the copy: the next turn then costs its new blocks only.
        prompt.user_markers  # noqa: B018 - computed and kept by the Prompt
        prompt.message_dicts()
        pieces = _pieces(prompt, system, cuts)
        if earlier and state is not None:
            _hand_over(state, earlier, system, pieces[1:])
        out: list[Layer] = []
        for layer in prompt.layers:
            out.extend(pieces if layer is system else (layer,))
        return prompt.with_layers(out)


def _sent(prompt: Prompt, system: Layer, positions: int, now: float) -> _Sent:
    """What :func:`_hand_over` needs of a request: its time and system fingerprints."""
    fps = prompt.fingerprints
    return _Sent(at=now, fingerprints=fps[system.start:min(system.stop, system.start + positions)],
                 end=fps[system.stop - 1], size=len(prompt.blocks))


def _hand_over(state: CacheState, earlier: Sequence[_Sent], system: Layer,
               learned: Sequence[Layer]) -> None:
    """Record ``earlier`` requests in ``state`` as sightings of the ``learned`` layers: each
    layer's content is keyed as the state keys it (the prefix fingerprint at its last block)."""
    sightings = []
    for sent in earlier:
        for i, layer in enumerate(learned):
            first = layer.start - system.start
            last = layer.stop - system.start - 1
            if first >= len(sent.fingerprints):
                break  # that request's system section ended before this layer
            content = (sent.end if i == len(learned) - 1
                       else sent.fingerprints[min(last, len(sent.fingerprints) - 1)])
            sightings.append(Sighting(layer=layer.name, content=content, at=sent.at,
                                      size=sent.size))
    if sightings:  # one round trip to a shared store, as any request's sightings
        state.record_request(None, (), (), state.now(), sightings=sightings)


def _static_system(prompt: Prompt) -> Layer | None:
    """The one static system layer a request's Prompt has (None: nothing to learn there)."""
    found = [layer for layer in prompt.layers if layer.section == "system"]
    if len(found) != 1 or found[0].volatility is not Volatility.STATIC:
        return None
    layer = found[0]
    return layer if layer.stop - layer.start > 1 else None


def _cuts(family: _Family, n: int) -> list[_Cut]:
    """Where learned layers start (system positions), from the family's evidence."""
    cuts: list[_Cut] = []
    base = 0.0
    for k in range(1, n):
        rate = family.rate(k)
        if rate <= 0.0 or (cuts and rate < SPLIT_RATIO * base):
            continue
        turn = rate >= TURN_SHARE and family.compared[k] >= TURN_AFTER  # (rate > 0: compared)
        vol = Volatility.TURN if turn else Volatility.SESSION
        if cuts and vol is cuts[-1].volatility and vol is Volatility.TURN:
            continue
        cuts.append(_Cut(k, vol))
        base = rate
    return cuts


def _pieces(prompt: Prompt, system: Layer, cuts: Sequence[_Cut]) -> list[Layer]:
    """``system`` cut at ``cuts``: the static part first, then the learned layers (names unique
    in ``prompt``, as the builder's)."""
    taken = {layer.name for layer in prompt.layers}
    pieces = [Layer(name=system.name, section="system", volatility=system.volatility,
                    reuse=system.reuse, start=system.start, stop=system.start + cuts[0].start)]
    for i, cut in enumerate(cuts):
        name = LEARNED
        serial = 2
        while name in taken:
            name, serial = f"{LEARNED}:{serial}", serial + 1
        taken.add(name)
        stop = system.start + cuts[i + 1].start if i + 1 < len(cuts) else system.stop
        pieces.append(Layer(name=name, section="system", volatility=cut.volatility,
                            reuse=cut.volatility.default_reuse, start=system.start + cut.start,
                            stop=stop))
    return pieces


_LEARNERS: weakref.WeakKeyDictionary[CacheState, LayerLearner] = weakref.WeakKeyDictionary()
_LEARNERS_LOCK = threading.Lock()


def learner_for(state: CacheState) -> LayerLearner:
    """The learner of the clients planning with ``state`` (one per state: a process's clients
    share what they learn, as they share the state; a fleet's workers each learn their own)."""
    with _LEARNERS_LOCK:
        learner = _LEARNERS.get(state)
        if learner is None:
            learner = _LEARNERS[state] = LayerLearner()
        return learner
