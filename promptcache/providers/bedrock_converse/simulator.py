"""Amazon Bedrock's Converse prompt cache, offline: what a request reads, writes and reports.

The rules (sources in ``docs/bedrock.md`` and the ``limits.py`` rows):

* Positions, tokens and prefix fingerprints come from
  :func:`promptcache.providers.registry.view_of` (``providers/bedrock_converse/view.py``): tools,
  system, messages; a ``cachePoint`` marks the block before it.
* At most ``max_breakpoints`` (4) checkpoints per request; a ``cachePoint`` in
  ``toolConfig.tools`` on Amazon Nova, a ``ttl: "1h"`` on a model without the 1-hour TTL, or a
  1-hour checkpoint after a 5-minute one is a ``ValidationException`` (HTTP 400).
* A checkpoint writes only when its prefix reaches the model's minimum (counted at the row's
  expected token ratio); below it nothing is cached and nothing fails.
* A checkpoint reads the longest live entry among the ``lookback_blocks`` positions ending at it:
  about 20 for Claude ("simplified cache management"), only the checkpoint itself for Nova.
* An entry is readable once the response that wrote it has started (:meth:`mark_started`).
* Usage as Converse reports it: ``cacheReadInputTokens`` up to the entry read,
  ``cacheWriteInputTokens`` from there to the last checkpoint written, ``inputTokens`` the rest.

Token counts are the offline estimates of :mod:`promptcache.tokens`: results are deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptcache.clock import Clock, WallClock
from promptcache.errors import UnknownModelError
from promptcache.limits import ModelLimits, limits_for
from promptcache.providers._breakpoint_store import BreakpointStore
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.providers.registry import view_of

__all__ = ["ConverseCacheResult", "ConverseCacheSimulator", "ConversePosition"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversePosition:
    """One block of the request as the cache sees it."""

    path: str
    tokens: int
    #: Tokens of the prefix up to and including this block.
    end: int
    fingerprint: str
    #: The TTL of the checkpoint after this block, if any.
    ttl: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConverseCacheResult:
    """What one simulated request did to the cache, and its ``usage`` as Converse reports it."""

    request_id: str
    usage: dict[str, Any]
    positions: tuple[ConversePosition, ...]
    #: Index of the position whose entry was read, if any.
    hit: int | None
    #: Indices of the checkpoints that wrote an entry.
    written: tuple[int, ...]
    #: How many checkpoints the request carried.
    checkpoints: int


#: What the simulator assumes for a model with no caching row: nothing is ever written.
_UNCACHED = ModelLimits(provider="bedrock_converse", model="", min_cacheable_tokens=1 << 62,
                        platform="bedrock")


def _invalid(message: str, path: str | None = None) -> SimulatedAPIError:
    return SimulatedAPIError(message, rule="ValidationException", path=path)


class ConverseCacheSimulator:
    """An in-memory model of one AWS account's (and Region's) Converse prompt cache; thread-safe.

    ``limits`` overrides the per-model row; ``response_start_delay`` is the simulated time before
    a response starts, before which nothing it wrote can be read.
    """

    def __init__(self, *, clock: Clock | None = None, response_start_delay: float = 0.5,
                 limits: ModelLimits | None = None) -> None:
        self.clock: Clock = clock if clock is not None else WallClock()
        self.response_start_delay = response_start_delay
        self._limits = limits
        self._store = BreakpointStore()
        self._counter = 0

    def limits(self, model: str) -> ModelLimits:
        """The row used for ``model``: the override if one was given, else the table's."""
        return self._limits if self._limits is not None else limits_for(
            model, provider="bedrock_converse", platform="bedrock")

    def _limits_or_none(self, model: str) -> ModelLimits | None:
        try:
            return self.limits(model)
        except UnknownModelError:  # a model without prompt caching: served, nothing cached
            return None

    def positions(self, request: Mapping[str, Any]) -> tuple[ConversePosition, ...]:
        """The cache's view of ``request`` (``modelId`` and the body); raises
        :class:`SimulatedAPIError` where Bedrock answers ``ValidationException``."""
        model = request.get("modelId")
        if not isinstance(model, str) or not model:
            raise _invalid("modelId is required.", "modelId")
        view = view_of(request, provider="bedrock_converse")
        lim = self._limits_or_none(model)
        marked = [b for b in view.blocks if b.ttl is not None]
        if lim is None:
            if marked:
                raise _invalid(f"{model} does not support prompt caching (cachePoint at "
                               f"{marked[0].path}).", marked[0].path)
            lim = _UNCACHED
        if len(marked) > lim.max_breakpoints:
            raise _invalid(f"The request has {len(marked)} cachePoint blocks; at most "
                           f"{lim.max_breakpoints} are allowed.", marked[-1].path)
        seen_5m = False
        for b in marked:
            if b.unmarkable:
                raise _invalid(f"{b.path}: {b.unmarkable}.", b.path)
            if b.ttl not in lim.cache_write_multipliers:
                raise _invalid(f"{b.path}: cachePoint ttl {b.ttl!r} is not supported by "
                               f"{model}.", b.path)
            if b.ttl == "1h" and seen_5m:
                raise _invalid(f"{b.path}: a 1h cachePoint cannot follow a 5m one (longer TTLs "
                               "first).", b.path)
            seen_5m = seen_5m or b.ttl == "5m"
        out, end = [], 0
        for b, fingerprint in zip(view.blocks, view.fingerprints(), strict=True):
            end += b.tokens
            out.append(ConversePosition(path=b.path, tokens=b.tokens, end=end,
                                        fingerprint=fingerprint, ttl=b.ttl))
        return tuple(out)

    def converse(self, request: Mapping[str, Any], *, now: float | None = None,
                 output_tokens: int = 0) -> ConverseCacheResult:
        """Simulate ``converse(**request)`` at ``now`` (default: the clock's)."""
        when = self.clock.now() if now is None else now
        positions = self.positions(request)
        lim = self._limits_or_none(str(request["modelId"])) or _UNCACHED
        with self._store.lock:
            self._counter += 1
            request_id = f"sim-{self._counter:012d}"
            hit = self._store.lookup(positions, when, lim.lookback_blocks or len(positions))
            written = self._store.write(positions, hit, when, request_id,
                                        minimum=lim.estimated_minimum,
                                        start_delay=self.response_start_delay)
        return ConverseCacheResult(
            request_id=request_id, usage=_usage(positions, hit, written, output_tokens),
            positions=positions, hit=hit, written=written,
            checkpoints=sum(p.ttl is not None for p in positions))

    def mark_started(self, request_id: str, *, now: float | None = None) -> None:
        """The response of ``request_id`` has started: what it wrote is readable from now."""
        when = self.clock.now() if now is None else now
        with self._store.lock:
            self._store.mark_started(request_id, when)

    def live_entries(self, *, now: float | None = None) -> int:
        """How many unexpired entries the cache holds (readable or not yet)."""
        when = self.clock.now() if now is None else now
        with self._store.lock:
            return self._store.live_entries(when)

    def clear(self) -> None:
        """Forget every entry."""
        with self._store.lock:
            self._store.clear()


def _usage(positions: Sequence[ConversePosition], hit: int | None, written: Sequence[int],
           output_tokens: int) -> dict[str, Any]:
    total = positions[-1].end if positions else 0
    read = positions[hit].end if hit is not None else 0
    last = positions[written[-1]].end if written else read
    one_hour = [b for b in written if positions[b].ttl == "1h"]
    one_hour_end = positions[one_hour[-1]].end if one_hour else read
    write = last - read
    usage: dict[str, Any] = {
        "inputTokens": total - last, "outputTokens": output_tokens,
        "totalTokens": total + output_tokens,
        "cacheReadInputTokens": read, "cacheWriteInputTokens": write,
    }
    details = [{"ttl": ttl, "inputTokens": n} for ttl, n in
               (("1h", one_hour_end - read), ("5m", last - one_hour_end)) if n > 0]
    if details:
        usage["cacheDetails"] = details
    return usage
