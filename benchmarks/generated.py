"""Generated workloads: promptcache against every fixed policy and the clairvoyant bound (issue 20).

Run from the repository root::

    python benchmarks/generated.py            # 306 workloads, rewrites "## Generated workloads"
    python benchmarks/generated.py --quick    # 45 workloads, prints only

Each workload is drawn from the parametric family of :mod:`workload_family` with a fixed seed
and replayed against the offline Anthropic simulator under promptcache, the fixed baselines and
the clairvoyant oracle of :mod:`promptcache.replay.strategies`; every tenth workload is also
replayed on 8-worker fleets (private states, and one Redis store shared by all when
``redis-server`` is on the PATH). The report is cost / clairvoyant per strategy (median, p95,
max) and every workload where a fixed baseline is cheaper than promptcache.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload_family import FAMILIES, Spec, build, spec, static_volatility

from promptcache.providers.registry import view_of
from promptcache.replay.compare import replay
from promptcache.replay.fleet import Fleet
from promptcache.replay.strategies import Strategy, mark_request, strategy_for
from promptcache.replay.workloads import Trace, TraceRequest

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python benchmarks/generated.py"
FULL = 306  # 34 of each of the 9 families
QUICK = 45
WORKERS = 8
#: promptcache's own replay strategies reused as they are.
REUSED = ("promptcache", "automatic", "hand", "none", "clairvoyant")
#: The fixed policies promptcache must not lose to.
BASELINES = ("none", "automatic", "hand", "layers-5m", "static-1h")
PRIVATE = f"fleet-{WORKERS}-private"
SHARED = f"fleet-{WORKERS}-redis"


def _markable(item: TraceRequest) -> list[bool]:
    return [b.markable for b in view_of(item.request, provider="anthropic").blocks]


def _last_markable(markable: Sequence[bool], stop: int, start: int = 0) -> int | None:
    for i in range(stop - 1, start - 1, -1):
        if markable[i]:
            return i
    return None


class LayerBoundaries(Strategy):
    """A 5m marker at the end of every layer of the builder's Prompt (the last four when more):
    what a careful user marking each section would do."""

    name = "layers-5m"

    def prepare(self, item: TraceRequest, now: float) -> dict[str, Any]:
        assert item.prompt is not None
        markable = _markable(item)
        ends = [_last_markable(markable, layer.stop, layer.start) for layer in item.prompt.layers]
        marks = sorted({e for e in ends if e is not None})[-4:]
        return mark_request(item.request, dict.fromkeys(marks, "5m"))


class StaticHour(Strategy):
    """1h markers at the end of the static (and daily) layers, a 5m marker on the tail."""

    name = "static-1h"

    def prepare(self, item: TraceRequest, now: float) -> dict[str, Any]:
        assert item.prompt is not None
        markable = _markable(item)
        static = sorted({e for layer in item.prompt.layers if static_volatility(layer.volatility)
                         if (e := _last_markable(markable, layer.stop, layer.start)) is not None})
        marks = dict.fromkeys(static[-3:], "1h")
        tail = _last_markable(markable, len(markable))
        if tail is not None and tail not in marks:
            marks[tail] = "5m"
        return mark_request(item.request, marks)


def strategies(trace: Trace) -> dict[str, Strategy]:
    """A fresh instance of every single-process strategy for one replay of ``trace``."""
    out = {name: strategy_for(name, trace) for name in REUSED}
    out["layers-5m"] = LayerBoundaries()
    out["static-1h"] = StaticHour()
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One workload's input dollars per strategy."""

    spec: Spec
    requests: int
    billed: Mapping[str, float]

    def ratio(self, name: str, to: str = "clairvoyant") -> float:
        return self.billed[name] / self.billed[to] if self.billed[to] else 1.0

    @property
    def best_baseline(self) -> str:
        return min(BASELINES, key=lambda b: self.billed[b])

    @property
    def loss(self) -> float:
        """promptcache / the cheapest fixed baseline."""
        b = self.billed[self.best_baseline]
        return self.billed["promptcache"] / b if b else 1.0


def run_one(index: int, redis_url: str | None = None) -> Row:
    s = spec(index)
    trace = build(s)
    billed = {name: replay(trace, strat).billed for name, strat in strategies(trace).items()}
    if s.fleet:
        billed[PRIVATE] = replay(trace, Fleet(WORKERS, name=PRIVATE, seed=index)).billed
        if redis_url is not None:
            from promptcache.state_redis import RedisStateStore

            space = f"generated:{s.name}:{uuid.uuid4().hex[:8]}"
            billed[SHARED] = replay(trace, Fleet(
                WORKERS, name=SHARED, seed=index,
                store=lambda: RedisStateStore(redis_url, namespace=space, timeout=1.0))).billed
    return Row(spec=s, requests=len(trace.requests), billed=billed)


def _star(args: tuple[int, str | None]) -> Row:
    return run_one(*args)


def run(count: int, redis_url: str | None, processes: int) -> list[Row]:
    jobs = [(i, redis_url) for i in range(count)]
    if processes <= 1:
        return [_star(j) for j in jobs]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return list(pool.imap(_star, jobs, chunksize=2))


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def distribution(rows: Sequence[Row]) -> list[str]:
    names = ["promptcache", *BASELINES]
    lines = ["| strategy | median | p95 | max | workloads |", "|---|---:|---:|---:|---:|"]
    for name in names:
        ratios = [r.ratio(name) for r in rows]
        lines.append(f"| {name} | {statistics.median(ratios):.3f} | {_pct(ratios, 0.95):.3f} | "
                     f"{max(ratios):.3f} | {len(ratios)} |")
    for fleet in (PRIVATE, SHARED):
        ratios = [r.ratio(fleet, "promptcache") for r in rows if fleet in r.billed]
        if ratios:
            lines.append(f"| {fleet} ÷ promptcache | {statistics.median(ratios):.3f} | "
                         f"{_pct(ratios, 0.95):.3f} | {max(ratios):.3f} | {len(ratios)} |")
    return lines


def losses(rows: Sequence[Row]) -> list[Row]:
    """Workloads where some fixed baseline is cheaper than promptcache, worst first."""
    return sorted((r for r in rows if r.loss > 1 + 1e-9), key=lambda r: -r.loss)


def loss_table(rows: Sequence[Row]) -> list[str]:
    lines = ["| workload | requests | description | cheapest baseline | promptcache ÷ it | "
             "promptcache ÷ clairvoyant |", "|---|---:|---|---|---:|---:|"]
    for r in rows:
        lines.append(f"| `{r.spec.name}` | {r.requests} | {r.spec.describe()} | "
                     f"{r.best_baseline} | {r.loss:.3f} | {r.ratio('promptcache'):.3f} |")
    return lines


#: Issue 20's fleet goals, as the largest ratio to promptcache in one process.
FLEET_GOALS = {PRIVATE: 1.10, SHARED: 1.00}


def fleet_table(rows: Sequence[Row]) -> list[str]:
    """Every fleet workload over a fleet goal, worst first, with what one process paid."""
    over = [(r, fleet) for r in rows for fleet, goal in FLEET_GOALS.items()
            if fleet in r.billed and r.ratio(fleet, "promptcache") > goal + 1e-9]
    over.sort(key=lambda x: -x[0].ratio(x[1], "promptcache"))
    lines = ["| workload | description | fleet | ÷ one process | goal | one process $ | fleet $ |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r, fleet in over:
        lines.append(f"| `{r.spec.name}` | {r.spec.describe()} | {fleet} | "
                     f"{r.ratio(fleet, 'promptcache'):.3f} | {FLEET_GOALS[fleet]:.2f} | "
                     f"{r.billed['promptcache']:.4f} | {r.billed[fleet]:.4f} |")
    return lines if over else []


def by_family(rows: Sequence[Row], lost: Sequence[Row]) -> list[str]:
    lines = ["| family | workloads | baseline cheaper | promptcache ÷ clairvoyant median | max |",
             "|---|---:|---:|---:|---:|"]
    for family in FAMILIES:
        mine = [r for r in rows if r.spec.family == family]
        if not mine:
            continue
        ratios = [r.ratio("promptcache") for r in mine]
        n = sum(1 for r in lost if r.spec.family == family)
        lines.append(f"| {family} | {len(mine)} | {n} | {statistics.median(ratios):.3f} | "
                     f"{max(ratios):.3f} |")
    return lines


#: The same run before issue 20's learning work (main at ff07519, the same 306 workloads): what
#: the report compares against. Per family: (workloads a baseline beat, median, max ÷ clairvoyant).
BEFORE = {"losses": 157, "median": 1.133, "p95": 2.417, "max": 5.351,
          "families": {"chat": (15, 1.063, 3.886), "agent": (6, 1.028, 1.364),
                       "rag": (9, 1.058, 1.566), "burst": (28, 1.686, 5.351),
                       "tenants": (14, 1.144, 1.576), "subagent_waves": (27, 1.545, 2.874),
                       "compaction": (17, 1.014, 1.496), "tool_change": (25, 1.103, 1.437),
                       "thinking": (16, 1.347, 2.624)}}


def before_after(rows: Sequence[Row], lost: Sequence[Row]) -> list[str]:
    """promptcache before issue 20's learning work and now, on the full set."""
    if len(rows) != FULL:
        return []
    ratios = [r.ratio("promptcache") for r in rows]
    lines = ["| | baseline cheaper | median ÷ clairvoyant | p95 | max |",
             "|---|---:|---:|---:|---:|",
             f"| before (main at ff07519) | {BEFORE['losses']} | {BEFORE['median']:.3f} | "
             f"{BEFORE['p95']:.3f} | {BEFORE['max']:.3f} |",
             f"| now | {len(lost)} | {statistics.median(ratios):.3f} | {_pct(ratios, 0.95):.3f} | "
             f"{max(ratios):.3f} |", "",
             "| family | baseline cheaper before | now | median before | now | max before | now |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    families: dict[str, tuple[int, float, float]] = BEFORE["families"]  # type: ignore[assignment]
    for family, (n0, med0, max0) in families.items():
        mine = [r.ratio("promptcache") for r in rows if r.spec.family == family]
        n = sum(1 for r in lost if r.spec.family == family)
        lines.append(f"| {family} | {n0} | {n} | {med0:.3f} | {statistics.median(mine):.3f} | "
                     f"{max0:.3f} | {max(mine):.3f} |")
    return lines


def report(rows: Sequence[Row], seconds: float, processes: int, redis: bool) -> str:
    lost = losses(rows)
    requests = sum(r.requests for r in rows)
    fleets = sum(1 for r in rows if PRIVATE in r.billed)
    return f"""
{len(rows)} workloads ({requests:,} requests) drawn with fixed seeds from the parametric family
of `benchmarks/workload_family.py`: {", ".join(f"`{f}`" for f in FAMILIES)} (one family in
turn), on {len({r.spec.model for r in rows})} models (minimums 512-4,096 tokens, both Claude
tokenizer ratios), shared prefixes from 40% of the model's minimum to 150k tokens, paces from
seconds to hours, agent fan-outs of 1-30 tool calls, thinking on models that keep and that strip
earlier thinking blocks. Each is replayed against the offline Anthropic simulator under
promptcache, the fixed baselines and the clairvoyant bound; {fleets} of them (every tenth) also
on {WORKERS}-worker fleets, private states{" and one shared Redis store" if redis else ""}.

```
{COMMAND}
```

{seconds:.0f} s on {processes} processes. Baselines: `none` (no caching), `automatic` (the
provider's request-level automatic mode), `hand` (naive: last tool, last system block, last
message, 5m), `layers-5m` (5m at the end of every layer, the last four), `static-1h` (1h at the
end of each static layer, 5m on the tail). Input cost ÷ the clairvoyant bound (fleets: ÷
promptcache in one process):

{chr(10).join(distribution(rows))}

Before and after issue 20's learning work (evidence-based attribution of short reads, learned
write latency, the TTL duel; `promptcache/state*.py`):

{chr(10).join(before_after(rows, lost)) or "(full set only)"}

**A fixed baseline is cheaper than promptcache on {len(lost)} of {len(rows)} workloads**, by family:

{chr(10).join(by_family(rows, lost))}

Every such workload, worst first:

{chr(10).join(loss_table(lost)) if lost else "None."}

Fleet workloads over the fleet goals (private states <= 1.10x, a shared Redis store <= 1.00x
one process), worst first:

{chr(10).join(fleet_table(rows)) or "None."}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} workloads, print only")
    parser.add_argument("--count", type=int, default=None, help="how many workloads")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/")
    parser.add_argument("--no-redis", action="store_true", help="leave out the Redis fleet")
    args = parser.parse_args(argv)
    count = args.count or (QUICK if args.quick else FULL)
    from cost_suite import replace_section
    from redis_server import optional_redis

    start = time.perf_counter()
    with optional_redis(enabled=not args.no_redis) as url:
        rows = run(count, url, args.processes)
    seconds = time.perf_counter() - start
    body = report(rows, seconds, args.processes, url is not None)
    print(body)
    if not (args.quick or args.no_docs or args.count):
        page = ROOT / "docs" / "benchmarks.md"
        page.write_text(replace_section(page.read_text(encoding="utf-8"), "Generated workloads",
                                        body), encoding="utf-8")
        print(f"Wrote {page.relative_to(ROOT)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
