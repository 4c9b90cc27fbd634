"""A restarted process on a fleet's Redis store: does its first write use what the store learned?

Run from the repository root::

    python benchmarks/restart.py                 # the quick set (45 generated workloads)
    python benchmarks/restart.py g037 g015 g000  # some of them
    python benchmarks/restart.py --cross         # the store learned from another workload
    python benchmarks/restart.py --rename        # the second pass is another app's layers

Each generated workload of :mod:`generated` is replayed twice by one promptcache process on the
same Redis store (a fresh namespace per workload): the first pass teaches the store, the second is
a fresh :class:`~promptcache.CacheState` (a deploy restarted the process), a day later on the
trace's clock, so every entry and content sighting of the first pass has expired and only what
the store learned about the traffic (layer statistics by name, the gap prior by class) carries
over. With ``--cross`` the first pass replays another workload of the same family (the next one
of its family in the generated set, same layer names, other sizes and paces). With ``--rename``
the second pass's layers have other names (another app on the same fleet): the store's statistics
by name do not apply, and only the gap prior of layers like them (:mod:`promptcache.state_prior`)
carries over. The report is promptcache ÷ the cheapest fixed baseline, first pass (fresh store)
and second pass, per workload and overall.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generated import BASELINES, FAMILIES, QUICK, strategies
from redis_server import redis_server
from trace_workload import _index
from workload_family import build, spec

from promptcache.replay.compare import replay
from promptcache.replay.strategies import PromptCache
from promptcache.replay.workloads import Trace, TraceRequest
from promptcache.state import CacheState
from promptcache.state_redis import RedisStateStore

#: The second pass starts this long after the first ended (beyond every TTL and the horizon).
LATER = 86_400.0


def shifted(trace: Trace, by: float, *, rename: str = "") -> Trace:
    """``trace`` with every request ``by`` seconds later (and its layers' names prefixed with
    ``rename``: another app, whose layers the store knows nothing of by name)."""
    def moved(r: TraceRequest) -> TraceRequest:
        prompt = r.prompt
        if rename and prompt is not None:
            prompt = replace(prompt, layers=tuple(replace(layer, name=rename + layer.name)
                                                  for layer in prompt.layers))
        return replace(r, t=r.t + by, prompt=prompt)

    return replace(trace, requests=tuple(moved(r) for r in trace.requests))


def run_one(index: int, url: str, *, cross: bool, rename: bool
            ) -> tuple[str, float, float, float]:
    """``(name, cheapest baseline $, first pass ÷ it, second pass ÷ it)`` of workload ``index``."""
    s = spec(index)
    trace = build(s)
    named = strategies(trace)
    best = min(replay(trace, named[b]).billed for b in BASELINES)
    space = f"restart:{s.name}:{uuid.uuid4().hex[:8]}"

    def process() -> PromptCache:
        return PromptCache(CacheState(shared=RedisStateStore(url, namespace=space, timeout=1.0)))

    teacher = build(spec(index + len(FAMILIES))) if cross else trace
    first = replay(trace, process()).billed if cross else None
    taught = replay(teacher, process())
    if first is None:
        first = taught.billed
    later = max((r.t for r in teacher.requests), default=0.0) + LATER
    second = replay(shifted(trace, later, rename="b-" if rename else ""), process()).billed
    return s.name, best, first / best if best else 1.0, second / best if best else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", help="g037, 37 or g037-agent (default: quick set)")
    parser.add_argument("--count", type=int, default=QUICK)
    parser.add_argument("--cross", action="store_true",
                        help="the first pass replays another workload of the same family")
    parser.add_argument("--rename", action="store_true",
                        help="the second pass's layers have other names (another app): only "
                             "the prior of layers like them carries over")
    args = parser.parse_args(argv)
    indices = [_index(w) for w in args.workloads] or list(range(args.count))
    rows = []
    with redis_server() as server:
        for i in indices:
            rows.append(run_one(i, server.url, cross=args.cross, rename=args.rename))
            name, best, first, second = rows[-1]
            print(f"{name:<24} baseline ${best:9.4f}  first {first:.3f}x  second {second:.3f}x",
                  flush=True)
    firsts, seconds = [r[2] for r in rows], [r[3] for r in rows]
    mode = ("cross" if args.cross else "restart") + (", renamed" if args.rename else "")
    print(f"\n{len(rows)} workloads ({mode}): median first "
          f"{statistics.median(firsts):.3f}x, second {statistics.median(seconds):.3f}x; "
          f"max first {max(firsts):.3f}x, second {max(seconds):.3f}x; a baseline cheaper "
          f"(>1.000x): first {sum(f > 1.0005 for f in firsts)}, "
          f"second {sum(x > 1.0005 for x in seconds)}; total ÷ baseline: first "
          f"{sum(r[1] * r[2] for r in rows) / sum(r[1] for r in rows):.4f}, second "
          f"{sum(r[1] * r[3] for r in rows) / sum(r[1] for r in rows):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
