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

**Documents in the first message.** Anthropic's RAG layout puts the documents in the first
user message, before the question (in the same message, or the question in a message of its
own, as the builder's ``add_documents(as_="document_blocks")`` does). Those blocks (all of the
first message but its last block; all of it when a user message follows) are a layer of the
messages section, ``documents``, from the family's first request on, with the builder's hint for
documents; the conversation starts at the question. That is structure, not a guess about
volatility: whatever they hold (documents, as ``document`` or text blocks; a chat's pasted
file or image), they are what the next question over them, or the chat's next turn, shares,
and the marker slot a boundary there offers is the optimizer's to use or not (a request's
tokens are billed once, however many markers it carries). Waiting for evidence cost each worker of a
fleet its first question or two written whole (1.07x the builder's in one process, 1.19x on 8
private workers, with text blocks). The region's blocks are compared too, and so is the block
after them, the question, to cut within them as in the system section. A first message of one
block is never in the region: it is the conversation's own.

What is never done: the request itself is not touched (only the Prompt's layer boundaries move,
which decide where markers may go), and nothing is learned from one request: until a family has
shown a change, its system section is planned exactly as before. Evidence
is per process (kept with the CacheState it plans with, so every client sharing a state shares
it) and bounded: at most ``max_families`` families, least recently seen out first, and
``max_positions`` positions each.

**What the family showed before it was learned.** Until the first change, the whole system
section was one layer, so the state filed the sightings of what becomes the documents under the
static layer's name. The builder's documents layer has them from its first request; a learned
one would start empty, and on a fleet of private workers, each of which sees a few requests of
each document set, those first sightings are most of the evidence (the 1-hour write of a
returning set hangs on them: rag_rotating_docs on 8 private workers was 1.042x the builder's
for this alone). So a family keeps its last :data:`REPLAY` requests' times and the
fingerprints of its compared positions until it is first cut, and the cut hands them to the
state as sightings of the learned layers, in order, as the builder's state saw them.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

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
    #: The prefix fingerprints of its compared positions (at most MAX_POSITIONS).
    fingerprints: tuple[str, ...]
    #: The prefix fingerprint at the end of its region (which may hold more positions).
    end: str
    #: How many blocks the whole request had (the state's :attr:`Sighting.size`).
    size: int


@dataclass(slots=True)
class _Family:
    """What the requests of one family showed, per compared position."""

    #: The digests of the last request's compared positions (at most MAX_POSITIONS).
    last: list[bytes]
    #: Per position: how many comparisons included it, and on how many its prefix had changed.
    compared: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    #: The requests seen before the family was first cut (None once it has been).
    sent: list[_Sent] | None = field(default_factory=list)

    def observe(self, digests: Sequence[bytes]) -> None:
        """Compare this request's compared positions with the previous request's."""
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
    """Per-family evidence of which positions change, turned into layer boundaries.

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
        region = _region(prompt)
        if region is None:
            return prompt
        system, conversation, stop = region
        start = system.start
        key = prompt.fingerprints[start]  # model, settings, tools and the first system block
        # With documents in the first message, the block after them (the question) is compared
        # too: its change on every request is what sets the documents apart from it.
        seen = stop + 1 if conversation is not None else stop
        digests = [b.digest for b in prompt.blocks[start:min(seen, start + self.max_positions)]]
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
            # Not with a store shared by the fleet: there the first worker to learn the layer
            # feeds the fleet's view live sightings, and a later worker's hand-over would add
            # its own older ones after them, out of order (measured: RAG with rotating
            # documents on 8 workers sharing Redis wrote a document set for 1 hour, 1.017x the
            # builder's fleet; without it 1.000x). A private state, which sees only its own
            # traffic, is what the hand-over is for (1.042x -> 1.000x).
            if family.sent is not None and state is not None and state.shared is None:
                # The first cut of the system section: what the family showed before is handed
                # over, once (the first message's layer was filed as such from the start).
                if any(cut.start < system.stop - start for cut in cuts):
                    earlier, family.sent = family.sent, None
                else:
                    family.sent.append(_sent(prompt, start, stop, self.max_positions,
                                             state.now()))
                    del family.sent[:-REPLAY]
        if cuts and cuts[-1].start >= stop - start:
            cuts = cuts[:-1]  # the question changed: the region ends before it, as it does
        # The first message's blocks before the question are a layer from the first request on.
        if not cuts and conversation is None:
            return prompt
        # What the planner asks of every Prompt, computed on this one (the memo's, which the
        # next turn extends) before the copy: the next turn then costs its new blocks only.
        prompt.user_markers  # noqa: B018 - computed and kept by the Prompt
        prompt.message_dicts()
        head, learned, tail = _pieces(prompt, system, conversation, stop, cuts)
        if earlier and state is not None:
            _hand_over(state, earlier, start, stop,
                       [la for la in learned if la.section == "system"])
        out: list[Layer] = []
        for layer in prompt.layers:
            if layer is system:
                out.extend((*head, *(la for la in learned if la.section == "system")))
            elif layer is conversation:
                out.extend((*(la for la in learned if la.section == "messages"), *tail))
            else:
                out.append(layer)
        return prompt.with_layers(out)


def _sent(prompt: Prompt, start: int, stop: int, positions: int, now: float) -> _Sent:
    """What :func:`_hand_over` needs of a request: its time and its region's fingerprints."""
    fps = prompt.fingerprints
    return _Sent(at=now, fingerprints=fps[start:min(stop, start + positions)],
                 end=fps[stop - 1], size=len(prompt.blocks))


def _hand_over(state: CacheState, earlier: Sequence[_Sent], start: int, stop: int,
               learned: Sequence[Layer]) -> None:
    """Record ``earlier`` requests in ``state`` as sightings of the ``learned`` layers: each
    layer's content is keyed as the state keys it (the prefix fingerprint at its last block)."""
    sightings = []
    for sent in earlier:
        for layer in learned:
            if layer.start - start >= len(sent.fingerprints):
                break  # that request's region ended before this layer
            last = layer.stop - start - 1
            if layer.stop == stop:  # the region's last layer: where that request's region ended
                content = sent.end
            elif last < len(sent.fingerprints):
                content = sent.fingerprints[last]
            else:
                break
            sightings.append(Sighting(layer=layer.name, content=content, at=sent.at,
                                      size=sent.size))
    if sightings:  # one round trip, as any request's sightings
        state.record_request(None, (), (), state.now(), sightings=sightings)


def _region(prompt: Prompt) -> tuple[Layer, Layer | None, int] | None:
    """Where a request's layers are learned: its one static system layer and, when the
    conversation opens with a user message of several blocks (documents, then the question),
    that message's blocks before its last (all of them, when the question is a user message of
    its own). Returns the system layer, the conversation layer the region reaches into (None:
    it does not) and one past the region's last position; None when there is nothing to learn
    (a builder's layers, no system prompt, a region of one block).

    A chat's first message of one block is not in the region: it is the conversation's own
    (the same on each of its turns, another in the next chat), and the builder's too.
    """
    found = [layer for layer in prompt.layers if layer.section == "system"]
    if len(found) != 1 or found[0].volatility is not Volatility.STATIC:
        return None
    system = found[0]
    conversation = next((layer for layer in prompt.layers if layer.start == system.stop
                         and layer.section == "messages" and layer.append_only), None)
    stop = system.stop
    turns = prompt.turns
    if conversation is not None and turns and turns[0].start == conversation.start \
            and turns[0].role == "user":
        opens = len(turns) > 1 and turns[1].role == "user"
        stop = min(turns[0].stop if opens else turns[0].stop - 1, conversation.stop - 1)
        stop = max(stop, system.stop)
    if stop - system.start < 2:
        return None
    return system, (conversation if stop > system.stop else None), stop


def _cuts(family: _Family, n: int) -> list[_Cut]:
    """Where learned layers start (positions from the system start), from the family's evidence."""
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


def _pieces(prompt: Prompt, system: Layer, conversation: Layer | None, stop: int,
            cuts: Sequence[_Cut]) -> tuple[list[Layer], list[Layer], list[Layer]]:
    """The region cut at ``cuts``: what stays of the system layer, the learned layers (in
    order; split where the system section ends, since a layer is of one section; names unique
    in ``prompt``, as the builder's), and what stays of the conversation."""
    taken = {layer.name for layer in prompt.layers}
    starts = [system.start + cut.start for cut in cuts]
    bounds = sorted({*starts, *([system.stop] if conversation is not None else [])})
    head = [replace(system, stop=min([*starts, system.stop]))]
    learned = []
    for k, begin in enumerate(bounds):
        if begin < head[0].stop:
            continue
        end = bounds[k + 1] if k + 1 < len(bounds) else stop
        if begin < system.stop:
            end = min(end, system.stop)
        covering = [cut for cut, at in zip(cuts, starts, strict=True) if at <= begin]
        # Documents before the first change are documents still: the builder's hint for them.
        volatility = covering[-1].volatility if covering else Volatility.SESSION
        name = LEARNED
        serial = 2
        while name in taken:
            name, serial = f"{LEARNED}:{serial}", serial + 1
        taken.add(name)
        learned.append(Layer(name=name, section="system" if begin < system.stop else "messages",
                             volatility=volatility, reuse=volatility.default_reuse, start=begin,
                             stop=end))
    tail = []
    if conversation is not None:
        tail = [replace(conversation, start=stop)]
    return head, learned, tail


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
