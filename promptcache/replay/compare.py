"""Replay a trace under a placement strategy against the in-process Anthropic cache simulator.

The simulator's clock is the trace's clock: each request is sent at its ``t``, so TTLs expire and
concurrent requests miss exactly as they would have. Usage is parsed by :mod:`promptcache.usage`
and priced from :mod:`promptcache.limits`; only input is billed here, since output costs the same
under every strategy. Only the Anthropic Messages API is replayed for now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from promptcache._deprecated import renamed
from promptcache.clock import ManualClock
from promptcache.providers.anthropic.simulator import AnthropicCacheSimulator
from promptcache.providers.usage import parse_usage
from promptcache.replay.strategies import DEMO_STRATEGIES, Strategy, strategy_for
from promptcache.replay.workloads import Trace
from promptcache.usage import Ledger, Usage, UsageTotals

__all__ = ["Progress", "ReplayResult", "ReplayedCall", "compare", "replay", "result_row"]

#: Called after each request with (requests done, requests in total).
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayedCall:
    """One replayed request: when, what the provider reported, and its input cost."""

    t: float
    session: str
    usage: Usage
    billed: float
    uncached: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayResult:
    """A whole trace under one strategy."""

    trace: str
    strategy: str
    calls: tuple[ReplayedCall, ...]
    totals: UsageTotals

    @property
    def billed(self) -> float:
        """Input dollars billed."""
        return self.totals.billed

    @property
    def uncached(self) -> float:
        """Input dollars the same tokens cost with no caching."""
        return self.totals.uncached

    def cumulative(self) -> list[float]:
        """Dollars billed after each call, for plots."""
        out, running = [], 0.0
        for call in self.calls:
            running += call.billed
            out.append(running)
        return out


def replay(trace: Trace, strategy: Strategy, *, response_start_delay: float = 0.5,
           progress: Progress | None = None) -> ReplayResult:
    """Send every request of ``trace`` (in time order) as ``strategy`` places its breakpoints.

    A fresh simulator per replay, so strategies never share a cache. ``response_start_delay`` is
    the time before a response starts, during which what it wrote cannot be read yet.
    """
    clock = ManualClock()
    sim = AnthropicCacheSimulator(clock=clock, response_start_delay=response_start_delay)
    ledger = Ledger()
    calls: list[ReplayedCall] = []
    total = len(trace.requests)
    for n, item in enumerate(trace.requests, 1):
        if item.t > clock.now():
            clock.set(item.t)
        now = clock.now()
        request = strategy.prepare(item, now)
        result = sim.create(request, now=now)
        strategy.sent(item, request, result, now)
        usage = parse_usage(result.usage, provider="anthropic", model=str(request["model"]))
        usage = Usage(provider=usage.provider, model=usage.model, input_tokens=usage.input_tokens,
                      cache_read_tokens=usage.cache_read_tokens, cache_writes=usage.cache_writes)
        cost = ledger.add(usage)
        calls.append(ReplayedCall(t=item.t, session=item.session, usage=usage, billed=cost.billed,
                                uncached=cost.uncached))
        if progress is not None:
            progress(n, total)
    return ReplayResult(trace=trace.name, strategy=strategy.name, calls=tuple(calls),
                        totals=ledger.totals())


def compare(trace: Trace, strategies: Iterable[str] = DEMO_STRATEGIES, *,
            progress: Progress | None = None) -> Mapping[str, ReplayResult]:
    """Replay ``trace`` once per named strategy; results keyed by strategy name, in order.

    ``progress`` counts requests over all the replays together.
    """
    names = list(strategies)
    done = 0
    total = len(trace.requests) * len(names)

    def step(_n: int, _of: int) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    return {name: replay(trace, strategy_for(name, trace), progress=step) for name in names}


def result_row(result: ReplayResult, baseline: ReplayResult | None = None) -> dict[str, Any]:
    """The figures a report shows for one replay (tokens by class, dollars, saving vs baseline)."""
    t = result.totals
    saving = (1 - t.billed / baseline.billed) if baseline is not None and baseline.billed else 0.0
    return {
        "strategy": result.strategy,
        "calls": t.calls,
        "input": t.uncached_input_tokens,
        "cache_read": t.cache_read_tokens,
        "write_5m": t.cache_writes.get("5m", 0),
        "write_1h": t.cache_writes.get("1h", 0),
        "billed_usd": t.billed,
        "saving_vs_none": saving,
        "hit_rate": t.hit_rate,
    }

#: Old names, renamed to say what they are (docs/architecture.md, "Renamed names").
__getattr__ = renamed(__name__, {"CallRecord": "ReplayedCall"}, globals())
