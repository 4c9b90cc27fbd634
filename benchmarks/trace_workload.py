"""One generated workload request by request: what promptcache wrote, read and paid against a baseline.

Run from the repository root::

    python benchmarks/trace_workload.py g037                   # promptcache against static-1h
    python benchmarks/trace_workload.py 15 --against clairvoyant
    python benchmarks/trace_workload.py g020 --fleet           # 8 private workers against one

For each request of workload ``gNNN`` of :mod:`generated` (the same traces, the same strategies):
its time, session and the gap since the session's previous request, then per strategy the tokens
read, written for 5m and for 1h, sent uncached and the input dollars; the difference; and the
breakpoints each sent (``position:ttl``; with ``--fleet``, the worker too). A loss to a fixed
policy is then a line: the request whose write expired, or the write nobody read. The totals at
the end split the difference into its requests.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generated import WORKERS, strategies
from workload_family import build, spec

from promptcache.providers.registry import view_of
from promptcache.replay.compare import ReplayResult, replay
from promptcache.replay.fleet import Fleet
from promptcache.replay.strategies import Strategy
from promptcache.replay.workloads import TraceRequest


class _Recorded(Strategy):
    """Any strategy, keeping the breakpoints (``position:ttl``) of each request it sends."""

    def __init__(self, inner: Strategy, log: list[str] | None = None, tag: str = "",
                 *, record: bool = True) -> None:
        self.inner, self.name, self.tag, self.record = inner, inner.name, tag, record
        self.log = log if log is not None else []

    def prepare(self, item: TraceRequest, now: float) -> dict[str, Any]:
        request = self.inner.prepare(item, now)
        if not self.record:  # a fleet: its workers record
            return request
        blocks = view_of(request, provider="anthropic").blocks
        self.log.append(self.tag + " ".join(f"{i}:{b.ttl}" for i, b in enumerate(blocks)
                                            if b.ttl is not None))
        return request

    def sent(self, item: TraceRequest, request: Mapping[str, Any], result: Any,
             now: float) -> None:
        self.inner.sent(item, request, result, now)


def _fleet(index: int) -> _Recorded:
    """The generated set's private fleet, each worker tagged (``w3``) in the shared log."""
    fleet = Fleet(WORKERS, seed=index)
    log: list[str] = []
    # The fleet only calls prepare and sent on the worker it picks.
    fleet.workers = [_Recorded(w, log, f"w{k} ")  # type: ignore[misc]
                     for k, w in enumerate(fleet.workers)]
    return _Recorded(fleet, log, record=False)


def _index(name: str) -> int:
    match = re.fullmatch(r"g?(\d+)(?:-\w+)?", name)
    if match is None:
        raise SystemExit(f"not a generated workload: {name!r} (expected g037, 37 or g037-agent)")
    return int(match[1])


def _cell(result: ReplayResult, k: int) -> str:
    call = result.calls[k]
    u = call.usage
    return (f"{u.cache_read_tokens:>7,} {u.cache_writes.get('5m', 0):>7,} "
            f"{u.cache_writes.get('1h', 0):>7,} {u.input_tokens:>6,} {call.billed:>8.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", help="g037, 37 or g037-agent")
    parser.add_argument("--against", default="static-1h",
                        help="the strategy to compare with (default static-1h)")
    parser.add_argument("--fleet", action="store_true",
                        help=f"promptcache on {WORKERS} private workers against one process")
    args = parser.parse_args(argv)
    index = _index(args.workload)
    s = spec(index)
    trace = build(s)
    named = strategies(trace)
    if args.fleet:
        ours, other = _fleet(index), _Recorded(named["promptcache"])
    else:
        ours, other = _Recorded(named["promptcache"]), _Recorded(named[args.against])
    mine, theirs = replay(trace, ours), replay(trace, other)
    print(f"{s.name}: {s.describe()}, {len(trace.requests)} requests")
    head = "   read    w_5m    w_1h  input        $"
    print(f"{'#':>3} {'t':>7} {'session':<10} {'gap':>6} | {ours.name:<38} | "
          f"{other.name:<38} |   diff $ | breakpoints: {ours.name} / {other.name}")
    print(f"{'':>3} {'':>7} {'':<10} {'':>6} |{head} |{head} |")
    last: dict[str, float] = {}
    for k, item in enumerate(trace.requests):
        gap = item.t - last[item.session] if item.session in last else 0.0
        last[item.session] = item.t
        diff = mine.calls[k].billed - theirs.calls[k].billed
        print(f"{k:>3} {item.t:>7.0f} {item.session:<10} {gap:>6.0f} | {_cell(mine, k)} | "
              f"{_cell(theirs, k)} | {diff:>+8.4f} | {ours.log[k]} / {other.log[k]}")
    total = mine.billed - theirs.billed
    worst = sorted(range(len(trace.requests)),
                   key=lambda k: -(mine.calls[k].billed - theirs.calls[k].billed))[:3]
    print(f"\n{ours.name} ${mine.billed:.4f}, {other.name} ${theirs.billed:.4f}: "
          f"{mine.billed / theirs.billed:.3f}x, {total:+.4f} $; the dearest requests: "
          + ", ".join(f"#{k} {mine.calls[k].billed - theirs.calls[k].billed:+.4f}"
                      for k in worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
