"""Anthropic's prompt cache, offline: what a Messages API request reads, writes and pays.

The model follows the prompt-caching documentation (and ``shared/PROVIDER_FACTS.md``):

* Positions, tokens and prefix fingerprints come from :func:`promptcache.providers.registry.view_of`, the
  one model of what the cache sees, so the simulator, the optimizer and ``diff`` cannot disagree
  about whether two requests share a prefix. That view folds in what invalidates a level: a tool
  change invalidates everything after it; web search and citations toggles invalidate system and
  messages; ``tool_choice``, thinking settings and images invalidate messages.
* Thinking blocks the API strips (thinking on, and the last user turn is not only tool results)
  are not in the prompt: they add no tokens and no key, so the blocks after them no longer match
  the prefix a tool-use loop cached with them in it.
* Entries are written only at breakpoints (blocks with ``cache_control``) whose prefix reaches the
  model's minimum, counted as the provider would at the row's expected token ratio
  (``ModelLimits.estimated_minimum``: Claude 4.7 and later count about 30% more); below it nothing
  is cached and nothing fails. Each breakpoint looks back over
  the 20 positions ending at it for the longest live entry; a hit refreshes that entry for its
  own TTL. Whether reading a 5m entry through a 1h marker lengthens it to 1h is undocumented, so
  by default it does not (``extend_ttl_on_read=True`` for users who confirm otherwise).
* An entry becomes readable only once the response that wrote it has started, so concurrent
  requests each pay for a write.
* Billing uses the documented positions: A (highest hit), B (highest 1h breakpoint after A) and
  C (last breakpoint): read A, 1h write B-A, 5m write C-B, plain input for the rest.

Token counts are the offline estimates of :mod:`promptcache.tokens`, so results are deterministic.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptcache.clock import Clock, WallClock
from promptcache.limits import ModelLimits, limits_for
from promptcache.positions import CacheView, Level
from promptcache.providers._breakpoint_store import BreakpointStore
from promptcache.providers.anthropic.simulator_rules import breakpoint_ttls, check_prewarm, read_view

__all__ = ["AnthropicCacheResult", "AnthropicCacheSimulator", "SimulatedBlock"]

#: Positions checked per breakpoint, the breakpoint itself included.
LOOKBACK_BLOCKS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedBlock:
    """One block of the flattened request, as the cache sees it."""

    #: Where the block is in the request, e.g. ``messages[3].content[1]``.
    path: str
    level: Level
    #: The block's ``type`` (``"tool"`` for a tool definition).
    kind: str
    tokens: int
    #: Tokens of the whole prefix up to and including this block.
    end: int
    fingerprint: str
    #: The TTL of the breakpoint on this block, after request-level ``cache_control`` is applied.
    ttl: str | None
    #: True for an earlier thinking block the API strips from the context (it counts nothing).
    stripped: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AnthropicCacheResult:
    """What one simulated request did to the cache, and the usage the API would report."""

    message_id: str
    #: The ``usage`` object exactly as the Messages API returns it.
    usage: dict[str, Any]
    #: The response's ``diagnostics`` (``None`` unless a divergence was diagnosed).
    diagnostics: dict[str, Any] | None
    positions: tuple[SimulatedBlock, ...]
    #: Index in ``positions`` of the entry that was read (position A), if any.
    hit: int | None
    #: Indices of the breakpoints that wrote (or rewrote) an entry.
    written: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Fingerprints:
    """What the cache-diagnosis feature compares between a request and its predecessor."""

    model: str
    tools: str
    system: str
    messages: tuple[str, ...]
    settings: str
    cached_tokens: int


class AnthropicCacheSimulator:
    """An in-memory model of one organisation's Anthropic prompt cache.

    Thread-safe. ``limits`` overrides the per-model table (``min_cacheable_tokens`` and
    ``max_breakpoints`` are used); ``response_start_delay`` is the simulated time between a
    request and the start of its response, before which nothing it wrote can be read.
    ``extend_ttl_on_read=True`` lets a read through a longer-TTL marker lengthen the entry it
    reads (a 5m entry read through a 1h marker lives 1h): the docs are silent on it, so the
    default keeps each entry's own TTL, the reading that never promises a saving.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        response_start_delay: float = 0.5,
        limits: ModelLimits | None = None,
        extend_ttl_on_read: bool = False,
    ) -> None:
        self.clock: Clock = clock if clock is not None else WallClock()
        self.response_start_delay = response_start_delay
        self.extend_ttl_on_read = extend_ttl_on_read
        self._limits = limits
        self._store = BreakpointStore()
        self._history: dict[str, _Fingerprints] = {}
        self._counter = 0

    def limits(self, model: str) -> ModelLimits:
        """The limits used for ``model``: the override if one was given, else the table's row."""
        return self._limits if self._limits is not None else limits_for(model, provider="anthropic")

    def positions(self, request: Mapping[str, Any]) -> tuple[SimulatedBlock, ...]:
        """The cache's view of ``request`` with breakpoints resolved; raises
        :class:`SimulatedAPIError` where the API would answer 400."""
        return self._positions(request)[1]

    def _positions(self, request: Mapping[str, Any]) -> tuple[CacheView, tuple[SimulatedBlock, ...]]:
        view = read_view(request)
        ttls = breakpoint_ttls(request, view, self.limits(view.model).max_breakpoints)
        out: list[SimulatedBlock] = []
        end = 0
        for b, fingerprint, ttl in zip(view.blocks, view.fingerprints(), ttls, strict=True):
            tokens = 0 if b.stripped else b.tokens
            end += tokens
            out.append(SimulatedBlock(path=b.path, level=b.level, kind=b.kind, tokens=tokens, end=end,
                                fingerprint=fingerprint, ttl=ttl, stripped=b.stripped))
        return view, tuple(out)

    def count_tokens(self, request: Mapping[str, Any]) -> int:
        """What ``POST /v1/messages/count_tokens`` returns as ``input_tokens``."""
        positions = self.positions(request)
        return positions[-1].end if positions else 0

    def create(
        self, request: Mapping[str, Any], *, now: float | None = None, output_tokens: int = 0,
        batch: bool = False,
    ) -> AnthropicCacheResult:
        """Simulate ``messages.create(**request)`` at time ``now`` (default: the clock's).

        ``batch``: the request is one item of a Message Batch (where pre-warming is refused).
        """
        when = self.clock.now() if now is None else now
        check_prewarm(request, batch=batch)
        view, positions = self._positions(request)
        minimum = self.limits(view.model).estimated_minimum
        with self._store.lock:
            self._counter += 1
            message_id = f"msg_sim{self._counter:020d}"
            hit = self._store.lookup(positions, when, LOOKBACK_BLOCKS)
            written = self._store.write(
                positions, hit, when, message_id, minimum=minimum,
                start_delay=self.response_start_delay, extend_ttl_on_read=self.extend_ttl_on_read,
            )
        usage = self._usage(positions, hit, written, output_tokens)
        fingerprints = _fingerprints(view, usage)
        diagnostics = self._diagnose(request, fingerprints, usage)
        with self._store.lock:
            self._history[message_id] = fingerprints
        return AnthropicCacheResult(
            message_id=message_id,
            usage=usage,
            diagnostics=diagnostics,
            positions=positions,
            hit=hit,
            written=written,
        )

    def mark_started(self, message_id: str, *, now: float | None = None) -> None:
        """Report that ``message_id``'s response has started: its entries become readable now.

        The loopback servers call this once the response headers are sent, so sequential requests
        through them hit even when the clock does not move.
        """
        when = self.clock.now() if now is None else now
        with self._store.lock:
            self._store.mark_started(message_id, when)

    def live_entries(self, *, now: float | None = None) -> int:
        """How many unexpired entries the cache holds (readable or not yet)."""
        when = self.clock.now() if now is None else now
        with self._store.lock:
            return self._store.live_entries(when)

    def clear(self) -> None:
        """Forget every entry and every recorded request."""
        with self._store.lock:
            self._store.clear()
            self._history.clear()

    def _usage(
        self,
        positions: Sequence[SimulatedBlock],
        hit: int | None,
        written: Sequence[int],
        output_tokens: int,
    ) -> dict[str, Any]:
        total = positions[-1].end if positions else 0
        a = positions[hit].end if hit is not None else 0
        c = positions[written[-1]].end if written else a
        one_hour = [b for b in written if positions[b].ttl == "1h"]
        b_ = positions[one_hour[-1]].end if one_hour else a
        write_1h, write_5m = b_ - a, c - b_
        return {
            "input_tokens": total - c,
            "cache_creation_input_tokens": write_1h + write_5m,
            "cache_read_input_tokens": a,
            "cache_creation": {
                "ephemeral_5m_input_tokens": write_5m,
                "ephemeral_1h_input_tokens": write_1h,
            },
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }

    def _diagnose(
        self, request: Mapping[str, Any], current: _Fingerprints, usage: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        diagnostics = request.get("diagnostics")
        if not isinstance(diagnostics, Mapping):
            return None
        previous_id = diagnostics.get("previous_message_id")
        if previous_id is None:
            return None
        with self._store.lock:
            previous = self._history.get(str(previous_id))
        if previous is None:
            return {"cache_miss_reason": {"type": "previous_message_not_found"}}
        reason: str | None = None
        if previous.model != current.model:
            reason = "model_changed"
        elif previous.tools != current.tools:
            reason = "tools_changed"
        elif previous.system != current.system:
            reason = "system_changed"
        elif current.messages[: len(previous.messages)] != previous.messages:
            reason = "messages_changed"
        elif previous.settings != current.settings:
            return {"cache_miss_reason": {"type": "unavailable"}}
        if reason is None:
            return None
        missed = max(0, previous.cached_tokens - int(usage["cache_read_input_tokens"]))
        return {"cache_miss_reason": {"type": reason, "cache_missed_input_tokens": missed}}


_MESSAGE = re.compile(r"^messages\[(\d+)\]")


def _hash(parts: Sequence[bytes]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part)
        h.update(b"\x00")
    return h.hexdigest()


def _fingerprints(view: CacheView, usage: Mapping[str, Any]) -> _Fingerprints:
    """Per-level hashes of the view's keys, for the cache-diagnosis comparison."""
    salt = view.salt
    # The web-search tool is compared through the system salt (toggling it changes the system).
    tools = [b.digest for b in view.blocks if b.level == "tools" and not b.system_salted]
    system = [salt.system or b""] + [b.digest for b in view.blocks if b.level == "system"]
    per_message: dict[int, list[bytes]] = {}
    for b in view.blocks:
        key = b.key()
        match = _MESSAGE.match(b.path)
        if b.level == "messages" and match is not None:
            per_message.setdefault(int(match[1]), []).append(key if key is not None else b"")
    cached = int(usage["cache_read_input_tokens"]) + int(usage["cache_creation_input_tokens"])
    return _Fingerprints(
        model=view.model,
        tools=_hash(tools),
        system=_hash(system),
        messages=tuple(_hash(per_message[m]) for m in sorted(per_message)),
        settings=_hash([salt.messages or b""]),
        cached_tokens=cached,
    )
