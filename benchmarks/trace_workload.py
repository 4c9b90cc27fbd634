"""One generated workload request by request: what promptcache wrote, read and paid against a baseline.

Run from the repository root::

    python benchmarks/trace_workload.py g037                   # promptcache against static-1h
    python benchmarks/trace_workload.py 15 --against clairvoyant
    python benchmarks/trace_workload.py g020 --fleet           # 8 private workers against one
    python benchmarks/trace_workload.py g003 --restart         # the second pass of restart.py

For each request of workload ``gNNN`` of :mod:`generated` (the same traces, the same strategies):
its time, session and the gap since the session's previous request, then per strategy the tokens
read, written for 5m and for 1h, sent uncached and the input dollars; the difference; and the
breakpoints each sent (``position:ttl``; with ``--fleet``, the worker too). A loss to a fixed
policy is then a line: the request whose write expired, or the write nobody read. The totals at
the end split the difference into its requests. With ``--restart`` (``--rename``, ``--cross``) the
traced pass is the second one of :mod:`restart`: a fresh process on a Redis store that a first
pass taught a day earlier.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generated import FAMILIES, WORKERS, strategies
from workload_family import build, spec

from promptcache.providers.registry import view_of
from promptcache.replay.compare import ReplayResult, replay
from promptcache.replay.fleet import Fleet
from promptcache.replay.strategies import Strategy
from promptcache.replay.workloads import Trace, TraceRequest


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
    parser.add_argument("--restart", action="store_true",
                        help="trace restart.py's second pass (a fresh process on a taught store)")
    parser.add_argument("--rename", action="store_true", help="with --restart: restart.py's")
    parser.add_argument("--cross", action="store_true", help="with --restart: restart.py's")
    args = parser.parse_args(argv)
    index = _index(args.workload)
    s = spec(index)
    trace = build(s)
    named = strategies(trace)
    if args.restart:
        return _restarted(index, trace, named[args.against], rename=args.rename, cross=args.cross)
    if args.fleet:
        ours, other = _fleet(index), _Recorded(named["promptcache"])
    else:
        ours, other = _Recorded(named["promptcache"]), _Recorded(named[args.against])
    return _report(s.describe(), s.name, trace, ours, other)


def _restarted(index: int, trace: Trace, against: Strategy, *, rename: bool, cross: bool) -> int:
    """restart.py's second pass of workload ``index``, request by request, against ``against``
    (replayed on the same shifted trace)."""
    from redis_server import redis_server
    from restart import LATER, shifted

    from promptcache.replay.strategies import PromptCache
    from promptcache.state import CacheState
    from promptcache.state_redis import RedisStateStore

    s = spec(index)
    teacher = build(spec(index + len(FAMILIES))) if cross else trace
    later = max((r.t for r in teacher.requests), default=0.0) + LATER
    second = shifted(trace, later, rename="b-" if rename else "")
    with redis_server() as server:
        def process() -> PromptCache:
            return PromptCache(CacheState(shared=RedisStateStore(server.url, timeout=1.0)))

        if cross:  # as restart.py: the first pass (reported as "first") comes before the teacher
            replay(trace, process())
        replay(teacher, process())
        return _report(f"{s.describe()} (restart's second pass)", s.name, second,
                       _Recorded(process()), _Recorded(against))


def _report(describe: str, name: str, trace: Trace, ours: _Recorded, other: _Recorded) -> int:
    """Replay ``trace`` with both and print it request by request."""
    mine, theirs = replay(trace, ours), replay(trace, other)
    print(f"{name}: {describe}, {len(trace.requests)} requests")
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
