"""Why a cache read came back short: the evidence a CacheState checks before it learns a lesson.

A read shorter than the plan counted on has four causes, and each teaches something different:

- ``tokenizer``: nothing was lost; the provider counts tokens differently from our estimate (its
  totals say by how much, so the comparison is made in the provider's units, calibrated online);
- ``changed``: the prefix changed (a tool list that grew mid-conversation, an edited system
  prompt): the next request writes anew, whatever the TTL, so no gap is learned;
- ``not-written``: the read reached an earlier entry of the same conversation, so the later one
  counted on (assumed from the conversation's shape) was never written: had it been, it would
  have outlived the older one;
  likewise a conversation this state never saw (a compacted or edited history) while it sees
  nearly every request of the ones it knows: no other worker is there to have written it; and an
  entry assumed from the conversation's shape when this state saw the conversation less than the
  shortest TTL ago: whoever wrote it extended what this state saw, so it is younger than any TTL
  and cannot have expired (a history with turns nobody sent, or another worker's write that
  never happened);
- ``in-flight``: the entry counted on is still being written by a request whose response has not
  started; the next request reads it, so neither the entry nor a gap is touched;
- ``expired``: only when none of the above holds and the state could not have seen the entry's
  life itself (another worker wrote it, or it was assumed from the conversation's shape) is the
  short read taken for an expiry, and a gap just over the entry's TTL learned.

An entry this state wrote itself and believed warm is never taken for an expiry: the state knows
when it was written, and a gap it did not see cannot be inferred from it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

__all__ = ["IN_FLIGHT_WITHIN", "RATIO_WEIGHT", "Coverage", "LatencyBounds", "ReadCause", "ReadEvidence",
           "TokenCalibration", "attribute"]

#: A short read of an entry this state wrote less than this many seconds before (and believed
#: readable) is a write still in flight: responses start within seconds, entries live minutes.
IN_FLIGHT_WITHIN = 30.0
#: How much one request's measured ratio moves the model's calibrated ratio.
RATIO_WEIGHT = 0.25


class ReadCause(StrEnum):
    """What a read shorter than planned is attributed to (see the module docstring)."""

    FULL = "full"
    TOKENIZER = "tokenizer"
    CHANGED = "changed"
    NOT_WRITTEN = "not-written"
    IN_FLIGHT = "in-flight"
    OWN_ENTRY = "own-entry"
    EXPIRED = "expired"


class TokenCalibration:
    """Each model's token ratio (provider tokens / our estimate), learned from usage totals.

    The model row's ``token_ratio`` is a guess per family of models; the provider's usage gives
    the real count of every prompt it answered, so the ratio is measured, not assumed. Thread-safe.
    """

    def __init__(self) -> None:
        self._ratios: dict[str, float] = {}
        self._lock = threading.Lock()

    def observe(self, model: str, estimate: int, reported: int) -> float | None:
        """Fold in one request (``estimate`` by us, ``reported`` by the provider); its ratio."""
        if estimate <= 0 or reported <= 0:
            return None
        ratio = reported / estimate
        with self._lock:
            old = self._ratios.get(model)
            self._ratios[model] = ratio if old is None else old + RATIO_WEIGHT * (ratio - old)
        return ratio

    def ratio(self, model: str) -> float | None:
        """The calibrated ratio of ``model`` (None: no usage seen yet)."""
        with self._lock:
            return self._ratios.get(model)


class LatencyBounds:
    """When a write becomes readable, learned from the provider's answers.

    A write is readable only once its response starts, and how long that takes is the provider's,
    not ours: ``response_latency`` is a guess. Each read of an entry ``d`` seconds after it was
    sent shows the provider was at most ``d`` late (``high``); each short read of an entry this
    state believed readable ``d`` seconds after it was sent shows it was later than ``d``
    (``low``). Between the bounds the chance it is readable grows linearly, and a request marks
    the prefix once that chance pays for the risk: a marker on a prefix still being written pays
    a second write (``w`` instead of 1x unmarked) and one on a readable prefix a read (``r``), so
    it pays from ``(w - 1) / (w - r)``: 22% for a 5m write, 53% for a 1h one (Anthropic's
    multipliers; the TTL of the write decides, since the requests that follow mark the same
    layer). Until the first answer the bounds are ``(0, response_latency)``: the state asks the
    question early rather than never, and each probe narrows the interval.
    """

    #: By the TTL of the write: the chance of being readable from which a marker pays.
    THRESHOLDS: ClassVar[Mapping[str, float]] = {"5m": (1.25 - 1.0) / (1.25 - 0.1),
                                                 "1h": (2.0 - 1.0) / (2.0 - 0.1)}

    def __init__(self, latency: float) -> None:
        self.low, self.high = 0.0, latency
        self._lock = threading.Lock()

    def readable_after(self, ttl: str = "5m") -> float:
        """Seconds after sending from which a ``ttl`` write is treated as readable."""
        with self._lock:
            return self.low + self.THRESHOLDS.get(ttl, 0.5) * (self.high - self.low)

    def read_at(self, d: float) -> bool:
        """An entry was read ``d`` seconds after the request that wrote it was sent (True: that
        narrowed the bounds)."""
        with self._lock:
            if d < self.high:
                self.high = max(d, 1e-3)
                self.low = min(self.low, 0.9 * self.high)
                return True
            return False

    def missed_at(self, d: float) -> bool:
        """An entry believed readable ``d`` seconds after it was sent was still being written
        (True: that moved the bounds)."""
        with self._lock:
            if d > self.low:
                self.low = d
                self.high = max(self.high, 1.25 * d)
                return True
            return False

    def adopt(self, low: float, high: float) -> None:
        """Take a fleet's bounds, learned by every worker's answers with the same rules."""
        if 0.0 <= low <= high:
            with self._lock:
                self.low, self.high = low, max(high, 1e-3)


class Coverage:
    """Whether this state sees all of its traffic or a worker's share of it, from evidence.

    Each time a conversation it knows comes back, the state either saw its previous request or
    not. A process that serves all its traffic (or a fleet sharing one store) sees nearly every
    one; a worker of a fleet with private states sees about one in N. Only the first may take a
    conversation it never saw for one that nobody wrote.
    """

    #: Continuations needed before the state trusts that it sees everything.
    AFTER = 4
    #: The share of them it must have seen the previous request of.
    SHARE = 0.8

    def __init__(self) -> None:
        self.seen, self.missed = 0, 0
        self._lock = threading.Lock()

    def saw(self, previous: bool) -> None:
        """One continuation of a conversation: its previous request seen or not (a conversation
        never seen that arrives with earlier turns counts as not)."""
        with self._lock:
            if previous:
                self.seen = min(self.seen + 1, 10_000)
            else:
                self.missed = min(self.missed + 1, 10_000)

    def sees_all(self) -> bool:
        with self._lock:
            total = self.seen + self.missed
            return total >= self.AFTER and self.seen >= self.SHARE * total

    def partial(self) -> bool:
        """True once a conversation came back whose previous request this state did not see,
        unless enough others show it sees nearly all of them."""
        return self.missed > 0 and not self.sees_all()


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadEvidence:
    """What the state knows about the entry a short read did not reach."""

    #: The state wrote this exact prefix itself and it was warm by its own clock when sent.
    own_warm: bool = False
    #: A request with this prefix was sent less than a response latency before (in flight).
    in_flight: bool = False
    #: The layer's content was last seen under a different prefix (the prefix changed).
    changed: bool = False
    #: The read reached into the same conversation, short of the entry counted on.
    earlier_read: bool = False
    #: A conversation this state never saw, assumed cached by a request it did not see, while
    #: this state sees (nearly) every request of the conversations it knows: nobody else sent it.
    unseen_alone: bool = False
    #: An entry assumed from the conversation's shape (this state holds none) while this state
    #: saw the conversation itself sooner than the shortest TTL before: too young to expire.
    too_young: bool = False


def attribute(read: int, expected: float, slack: int, evidence: ReadEvidence) -> ReadCause:
    """The cause of a read of ``read`` tokens where ``expected`` (provider units) was planned."""
    if expected <= 0 or read + slack >= expected:
        return ReadCause.FULL
    if evidence.changed:
        return ReadCause.CHANGED
    if evidence.earlier_read or evidence.unseen_alone or evidence.too_young:
        return ReadCause.NOT_WRITTEN
    if evidence.in_flight:
        return ReadCause.IN_FLIGHT
    if evidence.own_warm:
        return ReadCause.OWN_ENTRY
    return ReadCause.EXPIRED
