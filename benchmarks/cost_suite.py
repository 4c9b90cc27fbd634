"""The cost benchmark suite: every workload under every placement strategy, clairvoyant and fleets included.

Run from the repository root::

    python benchmarks/cost_suite.py

It prints a table per workload and a verdict per goal, and rewrites two sections of
``docs/benchmarks.md`` (``## Demo`` and ``## Cost by strategy``; other sections are left alone)
and the plot ``docs/img/cost_suite.png``. Everything is simulated offline and deterministic, so
the page only changes when the code does; the Redis-shared fleet needs ``redis-server`` on the
PATH (the script starts and stops its own). Takes a minute or two.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import anthropic
from redis_server import optional_redis
from rich.console import Console

from promptcache.anthropic import prompt_from_request
from promptcache.bedrock_converse import plan_converse, render_bedrock_converse, usage_from_converse
from promptcache.clock import ManualClock
from promptcache.dropin import handle_of, wrap
from promptcache.providers.anthropic.simulator import AnthropicCacheSimulator
from promptcache.providers.usage import parse_usage
from promptcache.replay.compare import ReplayedCall, ReplayResult, compare, replay
from promptcache.replay.fleet import Fleet
from promptcache.replay.report import markdown_table, results_table
from promptcache.replay.scenarios import SCENARIOS
from promptcache.replay.strategies import BENCHMARK_STRATEGIES, DEMO_STRATEGIES, PromptCache
from promptcache.replay.workloads import DEFAULT_MODEL, WORKLOADS, Trace
from promptcache.simulator import ConverseCacheSimulator
from promptcache.state import CacheState, SharedStore
from promptcache.state_redis import RedisStateStore
from promptcache.testing import AnthropicServer
from promptcache.usage import Ledger, Usage

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python benchmarks/cost_suite.py"
WORKERS = 8
PRIVATE = f"fleet-{WORKERS}-private"
SHARED = f"fleet-{WORKERS}-redis"
#: Steady traffic: the issue asks for <= 1.02x the clairvoyant bound on these.
STEADY = frozenset({"chat_with_tools", "rag_rotating_docs", "agent_tool_loop"})
#: promptcache's optimizer on Amazon Bedrock's Converse API (issue 23 item 2): the same trace,
#: rendered with cachePoint blocks and replayed against the offline Converse simulator.
CONVERSE = "promptcache-converse"
#: The same traffic as unmodified SDK code: each trace request as written (documents as system
#: blocks, no PromptBuilder, no hints) through ``wrap(anthropic.Anthropic(...))`` against a
#: loopback server holding the simulator; one process, and the two fleets (issue 19 item 7).
DROPIN = "drop-in"
DROPIN_PRIVATE = f"drop-in-{PRIVATE}"
DROPIN_SHARED = f"drop-in-{SHARED}"
#: Why a drop-in run misses its goal on a trace, when it does; shown next to the verdict.
DROPIN_WHY: Mapping[tuple[str, str], str] = {}
#: Each drop-in strategy and the builder-path strategy it is held to (goal <= 1.02x).
DROPIN_VS: Mapping[str, str] = {DROPIN: "promptcache", DROPIN_PRIVATE: PRIVATE,
                                DROPIN_SHARED: SHARED}

#: RAG as unmodified code may lay it out (issue 19 item 7): rag_rotating_docs with the documents
#: as ``document`` blocks in the first user message, each layout's drop-in held to the builder's
#: ``add_documents(as_="document_blocks")`` path on the same content.
LAYOUTS: Mapping[str, str] = {
    "own message": "document blocks in a user message of their own, then the question (as the "
                   "builder renders them)",
    "with the question": "document blocks, then the question, in one user message",
    "text, with the question": "each document as a text block, then the question, in one user "
                               "message",
}
#: Why a layout's drop-in misses its goal, when it does.
LAYOUT_WHY: Mapping[str, str] = {}

#: Why promptcache misses a goal on a trace, when it does; shown on the page next to the numbers.
WHY: Mapping[str, str] = {
    "rag_rotating_docs": (
        "A third of the topics come back to an earlier document set 10-30 minutes later. The "
        "clairvoyant bound knows which ones and writes exactly those with a 1h TTL; without "
        "foresight, a 1h write on every set costs more (0.75x extra on each write against a "
        "1.15x saving on one set in three), so 5m is right in expectation: the gap is the "
        "value of knowing the future, not a misjudgement."
    ),
    "sparse_users": (
        "Users come back after 8-25 minutes, so only 1h entries survive. The first three users' "
        "first turns (6k tokens of account context each) are written for 5 minutes before any "
        "return has been seen; from the first return on, every write is 1h, chosen by the "
        "request that ends the pause. Each conversation's last turn is written for a visit that "
        "never comes. The clairvoyant writes 1h from the first turn and never writes a last "
        "turn. Private fleet: a worker sees about one request in eight, so it rarely sees a "
        "user's own gap; it learns the pace from its own first miss (the provider's answer), "
        "but 30 requests over 8 workers leave most workers one or two; with the Redis store the "
        "fleet learns as one process does."
    ),
    "bursts": (
        "Burst 1 comes 308.8 s after burst 0, 0.8 s after burst 0's 5-minute entry expired: the "
        "8k-token prefix is written again and the other requests of that burst, started before "
        "any response, pay it in full (a write in flight cannot be read). That gap is seen when "
        "burst 1 is planned, so the prefix is written for 1 hour there and every later burst "
        "reads it. The clairvoyant writes 1h in burst 0. Private fleet: a worker cannot see "
        "another worker's write in flight, so in bursts 0 and 1 each writes the prefix itself "
        "where one process writes it once and leaves the rest unmarked (1x): in burst 0 four "
        "5m writes (1.25x) for one, in burst 1 three 1h writes (2x: the three workers that saw "
        "burst 0 see the 308 s gap) and three 5m writes for one 1h write: 3.5 times the "
        "8k-token prefix's input price more ($0.084, the whole gap). Neither burst gives a private worker "
        "evidence of the others: the first (a marker taken for a write that the provider read) "
        "comes in burst 2, and nothing is cold after it. The Redis store shares pending writes "
        "too."
    ),
    "tenants": (
        "The cost of learning, per tenant: each tenant's first visit is written for 5 minutes "
        "(no gap of its own yet); a slow tenant's second visit sees its own gap when it is "
        "planned and writes 1h. The 70-minute tenant's visits are written although its next "
        "one comes after the entry expired. The clairvoyant writes each tenant with the right "
        "TTL from its first request. Near-minimum prefixes (4.2k-4.6k on a 4,096 model) are all "
        "placed; issue 12 measured the old rule, which refused them, at 2x the naive placement."
    ),
    "long_document": (
        "The 25k-token document is written once for 5 minutes; the first long pause is seen "
        "when its question is planned, which writes 1h, and from then on that entry serves "
        "every question. The clairvoyant writes 1h at once: one 5-minute write of one large "
        "prefix is the whole gap."
    ),
    "volatile_system": (
        "Detected within five requests and never written after (one warning names the layer); "
        "the tools before it keep caching, so promptcache is below the clairvoyant bound here "
        "(the bound is greedy, see below). Private fleet: each of the 8 workers detects the "
        "changing layer on its own, four writes each instead of four in all; the Redis store "
        "detects it once."
    ),
    "subagent_waves": (
        "Waves are 3-8 minutes apart. The shared tools and system are written for 5 minutes in "
        "wave 0 (no gap seen yet); wave 1 comes after 7.5 minutes, finds them cold, sees the gap "
        "and writes them for 1 hour, which every later wave reads. That first rewrite, paid by "
        "wave 1's first sub-agents at once, is the whole gap: the clairvoyant writes 1h in wave "
        "0."
    ),
}


def replay_converse(trace: Trace, *, response_start_delay: float = 0.5) -> ReplayResult:
    """``trace`` through Bedrock's Converse API: planned with the model's Converse row and a
    CacheState on the trace's clock, rendered with ``cachePoint`` blocks, billed at Bedrock's
    prices (Claude's on Bedrock are the Claude API's)."""
    clock = ManualClock()
    sim = ConverseCacheSimulator(clock=clock, response_start_delay=response_start_delay)
    state = CacheState()
    ledger = Ledger()
    calls: list[ReplayedCall] = []
    for item in trace.requests:
        if item.t > clock.now():
            clock.set(item.t)
        now = clock.now()
        source = item.prompt if item.prompt is not None else prompt_from_request(item.request)
        prompt, plan = plan_converse(source, state=state, now=now)
        request = render_bedrock_converse(prompt, plan)
        writes = [(plan.fingerprints[p.index], p.ttl, p.prefix_tokens) for p in plan.placements
                  if p.prefix_tokens >= plan.limits.estimated_minimum]
        state.record_request(prompt, plan.fingerprints, writes, now)
        result = sim.converse(request, now=now)
        usage = usage_from_converse(result.usage, model=prompt.model)
        state.record_read(prompt, plan, usage.cache_read_tokens, now)
        cost = ledger.add(usage)
        calls.append(ReplayedCall(t=item.t, session=item.session, usage=usage, billed=cost.billed,
                                uncached=cost.uncached))
    return ReplayResult(trace=trace.name, strategy=CONVERSE, calls=tuple(calls),
                        totals=ledger.totals())


class _Simulator(AnthropicCacheSimulator):
    """The replay's simulator behind the loopback server: an entry is readable
    ``response_start_delay`` after its request, as in :func:`replay` (the server would mark it
    readable at once, as a serial loop of calls allows, and no burst would be concurrent)."""

    def mark_started(self, message_id: str, *, now: float | None = None) -> None:
        return None


def replay_dropin(trace: Trace, *, workers: int = 1, name: str = DROPIN,
                  store: Callable[[], SharedStore] | None = None,
                  response_start_delay: float = 0.5) -> ReplayResult:
    """``trace`` as unmodified code sends it: ``item.request`` (what the builder's Prompt renders
    to, without markers) through ``wrap(anthropic.Anthropic(base_url=server.url))``, one wrapped
    client per worker (each with its own CacheState, over ``store`` when given), requests dealt
    to workers as :class:`Fleet` deals them, billed from the usage the server returned.

    Concurrency is modelled as :func:`replay` models it for the builder path: a call's writes
    become readable (in the simulator and in the wrapper's state, whose ``started`` bookkeeping
    runs then) ``response_start_delay`` after it is sent, and what the provider read is learned
    at once.
    """
    clock = ManualClock()
    sim = _Simulator(clock=clock, response_start_delay=response_start_delay)
    ledger = Ledger()
    rng = random.Random(0)  # as Fleet(seed=0) deals requests
    due: list[tuple[float, int, Callable[[], None]]] = []
    order = itertools.count()
    calls: list[ReplayedCall] = []
    with AnthropicServer(clock=clock, simulator=sim) as server:
        clients = [wrap(anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0),
                        state=CacheState(clock=clock,
                                         shared=store() if store is not None else None))
                   for _ in range(workers)]
        for client in clients:
            handle = handle_of(client)

            def started(prepared: Any, _started: Any = handle.started) -> None:
                at = clock.now() + response_start_delay
                heapq.heappush(due, (at, next(order), lambda: _started(prepared)))

            handle.started = started  # type: ignore[method-assign]

        def run_due(until: float) -> None:
            while due and due[0][0] <= until:
                at, _, event = heapq.heappop(due)
                clock.set(max(at, clock.now()))
                event()

        for item in trace.requests:
            run_due(item.t)
            if item.t > clock.now():
                clock.set(item.t)
            client = rng.choice(clients)
            response = client.messages.create(**item.request)
            parsed = parse_usage(response, provider="anthropic", model=str(item.request["model"]))
            usage = Usage(provider=parsed.provider, model=parsed.model,
                          input_tokens=parsed.input_tokens,
                          cache_read_tokens=parsed.cache_read_tokens,
                          cache_writes=parsed.cache_writes)
            cost = ledger.add(usage)
            calls.append(ReplayedCall(t=item.t, session=item.session, usage=usage,
                                      billed=cost.billed, uncached=cost.uncached))
        run_due(float("inf"))
        unplanned = sum(handle_of(c).unplanned for c in clients)
        if unplanned:
            raise RuntimeError(f"{trace.name}: {unplanned} drop-in calls went out unplanned.")
    return ReplayResult(trace=trace.name, strategy=name, calls=tuple(calls),
                        totals=ledger.totals())


def _laid_out(request: Mapping[str, Any], layout: str) -> dict[str, Any]:
    """``request`` (documents in a user message of their own, then the question) in ``layout``;
    the content is the same."""
    out = dict(request)
    if layout == "own message":
        return out
    documents, question = (m["content"] for m in request["messages"])
    if layout == "text, with the question":
        documents = [{"type": "text", "text": d["source"]["data"]} for d in documents]
    out["messages"] = [{"role": "user", "content": [*documents, *question]}]
    return out


def run_layouts(console: Console) -> list[tuple[str, ReplayResult, ReplayResult, ReplayResult,
                                                ReplayResult]]:
    """Each of :data:`LAYOUTS`: the builder's path (one process, private fleet), then the
    drop-in's."""
    trace = WORKLOADS["rag_rotating_docs"](documents_as="document_blocks")
    builder = replay(trace, PromptCache())
    fleet = replay(trace, Fleet(WORKERS, name=PRIVATE))
    rows = []
    for layout in LAYOUTS:
        laid = Trace(name=trace.name, description=trace.description,
                     requests=tuple(replace(r, request=_laid_out(r.request, layout))
                                    for r in trace.requests))
        rows.append((layout, builder, fleet, replay_dropin(laid),
                     replay_dropin(laid, workers=WORKERS, name=DROPIN_PRIVATE)))
    return rows


def layouts_table(rows: Sequence[tuple[str, ReplayResult, ReplayResult, ReplayResult,
                                       ReplayResult]]) -> str:
    """The drop-in's input dollars per RAG layout, and its ratio to the builder's path."""
    lines = [f"| layout | `{DROPIN}` $ | ÷ `promptcache` | `{DROPIN_PRIVATE}` $ | ÷ `{PRIVATE}` |",
             "|---|---:|---:|---:|---:|"]
    for layout, builder, fleet, one, private in rows:
        cells = []
        for d, b in ((one, builder), (private, fleet)):
            ratio = d.billed / b.billed if b.billed else 1.0
            cells += [f"${d.billed:.4f}", f"{ratio:.3f}" + ("" if ratio <= 1.02 + 1e-9
                                                          else " **missed**")]
        lines.append(f"| {layout}: {LAYOUTS[layout]} | " + " | ".join(cells) + " |")
    missed = [layout for layout, builder, fleet, one, private in rows
              if one.billed > 1.02 * builder.billed + 1e-9
              or private.billed > 1.02 * fleet.billed + 1e-9]
    lines += [f"\n*Why* ({layout}): {LAYOUT_WHY[layout]}" for layout in missed
              if layout in LAYOUT_WHY]
    return "\n".join(lines)


def run_suite(console: Console, redis_url: str | None,
              only: Sequence[str] = ()) -> dict[str, Mapping[str, ReplayResult]]:
    results: dict[str, Mapping[str, ReplayResult]] = {}
    for name, factory in {**WORKLOADS, **SCENARIOS}.items():
        if only and name not in only:
            continue
        trace: Trace = factory()
        by = dict(compare(trace, BENCHMARK_STRATEGIES))
        by[PRIVATE] = replay(trace, Fleet(WORKERS, name=PRIVATE))
        by[CONVERSE] = replay_converse(trace)
        by[DROPIN] = replay_dropin(trace)
        by[DROPIN_PRIVATE] = replay_dropin(trace, workers=WORKERS, name=DROPIN_PRIVATE)
        if redis_url is not None:
            space = f"cost-suite:{trace.name}:{uuid.uuid4().hex[:8]}"
            by[SHARED] = replay(trace, Fleet(WORKERS, name=SHARED, store=lambda space=space:
                                             RedisStateStore(redis_url, namespace=space,
                                                             timeout=1.0)))
            space = f"cost-suite:{trace.name}:{uuid.uuid4().hex[:8]}"
            by[DROPIN_SHARED] = replay_dropin(
                trace, workers=WORKERS, name=DROPIN_SHARED,
                store=lambda space=space: RedisStateStore(redis_url, namespace=space,
                                                          timeout=1.0))
        results[trace.name] = by
        console.print(results_table(
            f"{trace.name}: {trace.description} ({len(trace.requests)} requests, "
            f"{trace.duration / 60:.0f} min)", by))
    return results


def _ratio(by: Mapping[str, ReplayResult], a: str, b: str) -> float:
    return by[a].billed / by[b].billed if by[b].billed else 1.0


def verdicts(results: Mapping[str, Mapping[str, ReplayResult]]) -> list[str]:
    """One line per trace: every goal of issue 12, met or missed, with the figures."""
    lines = []
    for trace, by in results.items():
        bound_goal = 1.02 if trace in STEADY else 1.03
        checks = [(f"<= hand ({_ratio(by, 'promptcache', 'hand'):.3f}x)",
                   by["promptcache"].billed <= by["hand"].billed + 1e-9),
                  (f"<= automatic ({_ratio(by, 'promptcache', 'automatic'):.3f}x)",
                   by["promptcache"].billed <= by["automatic"].billed + 1e-9),
                  (f"<= none ({_ratio(by, 'promptcache', 'none'):.3f}x)",
                   by["promptcache"].billed <= by["none"].billed + 1e-9),
                  (f"{_ratio(by, 'promptcache', 'clairvoyant'):.3f}x clairvoyant "
                   f"(goal <= {bound_goal})",
                   _ratio(by, "promptcache", "clairvoyant") <= bound_goal + 1e-9),
                  (f"private fleet {_ratio(by, PRIVATE, 'promptcache'):.3f}x one process "
                   "(goal <= 1.10)", _ratio(by, PRIVATE, "promptcache") <= 1.10 + 1e-9)]
        if SHARED in by:
            checks.append((f"Redis fleet {_ratio(by, SHARED, 'promptcache'):.3f}x one process "
                           "(goal <= 1.02)", _ratio(by, SHARED, "promptcache") <= 1.02 + 1e-9))
        met = "; ".join(f"{text} {'met' if ok else '**missed**'}" for text, ok in checks)
        lines.append(f"- `{trace}`: {met}.")
        if not all(ok for _, ok in checks) and trace in WHY:
            lines.append(f"  *Why:* {WHY[trace]}")
    return lines


def dropin_table(results: Mapping[str, Mapping[str, ReplayResult]]) -> str:
    """The drop-in column: each drop-in run's input dollars and its ratio to the builder path."""
    pairs = [(d, b) for d, b in DROPIN_VS.items()
             if all(d in by and b in by for by in results.values())]
    head = "| trace | " + " | ".join(f"`{d}` $ | ÷ `{b}`" for d, b in pairs) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(pairs)]
    for trace, by in results.items():
        cells = []
        for d, b in pairs:
            ratio = _ratio(by, d, b)
            mark = "" if ratio <= 1.02 + 1e-9 else " **missed**"
            cells += [f"${by[d].billed:.4f}", f"{ratio:.3f}{mark}"]
        lines.append(f"| {trace} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def dropin_verdicts(results: Mapping[str, Mapping[str, ReplayResult]]) -> list[str]:
    """One line per drop-in run: the worst ratio to the builder path over the traces."""
    lines = []
    for d, b in DROPIN_VS.items():
        ratios = {t: _ratio(by, d, b) for t, by in results.items() if d in by and b in by}
        if not ratios:
            continue
        worst = max(ratios, key=ratios.__getitem__)
        missed = [f"`{t}` {r:.3f}x" for t, r in ratios.items() if r > 1.02 + 1e-9]
        lines.append(f"- `{d}` vs `{b}`: worst {ratios[worst]:.3f}x (`{worst}`), goal <= 1.02 "
                     + (f"**missed** on {', '.join(missed)}." if missed else "met on every trace."))
        lines += [f"  *Why* (`{t}`): {DROPIN_WHY[d, t]}" for t, r in ratios.items()
                  if r > 1.02 + 1e-9 and (d, t) in DROPIN_WHY]
    return lines


def plot_ratios(results: Mapping[str, Mapping[str, ReplayResult]], path: Path) -> None:
    """Each strategy's input cost as a multiple of the clairvoyant bound, per workload."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s for s in next(iter(results.values()))
             if s != "clairvoyant" and s not in (DROPIN_PRIVATE, DROPIN_SHARED)]
    traces = list(results)
    fig, ax = plt.subplots(figsize=(13, 4.8))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        ys = [min(4.0, _ratio(results[t], name, "clairvoyant")) if name in results[t] else 0
              for t in traces]
        ax.bar([i + k * width for i in range(len(traces))], ys, width, label=name)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(traces))], traces, rotation=20,
                  fontsize=8)
    ax.set_ylabel("input $ / clairvoyant (capped at 4)")
    ax.set_ylim(0, 4.7)
    ax.legend(fontsize=8, ncol=len(names), loc="upper center")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Input cost per strategy, as a multiple of the clairvoyant bound (simulated)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def replace_section(text: str, heading: str, body: str) -> str:
    """Replace the body of ``## heading`` (up to the next ``## ``), or append the section."""
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    section = f"## {heading}\n\n{body.strip()}\n\n"
    if pattern.search(text):
        return pattern.sub(lambda _m: section, text, count=1)
    return text.rstrip() + "\n\n" + section


def write_docs(results: Mapping[str, Mapping[str, ReplayResult]], seconds: float,
               layouts: str = "") -> Path:
    page = ROOT / "docs" / "benchmarks.md"
    text = page.read_text(encoding="utf-8") if page.exists() else "# Benchmarks\n"
    demo = {t: {s: by[s] for s in DEMO_STRATEGIES}
            for t, by in results.items() if t in ("chat_with_tools", "rag_rotating_docs",
                                                   "agent_tool_loop")}
    demo_body = f"""
What `promptcache demo` prints: three workloads replayed against the offline Anthropic simulator
({DEFAULT_MODEL}, $3 per million input tokens) under promptcache's placement, Anthropic's
request-level automatic `cache_control`, the docs' hand placement (last tool, last system block,
last message) and no caching. Input tokens by class and input dollars; output costs the same
under every strategy and is left out. Deterministic: the same numbers on every machine.

```
promptcache demo --plot demo.png
```

{markdown_table(demo)}

"vs none" is the change in input dollars against no caching. The cheapest strategy of each
workload is in bold. Automatic caching marks only the last block, which the next RAG question or
agent step no longer contains (or holds beyond the 20-block lookback), so it pays 1.25x for
nothing there; the hand placement loses the agent loop to the same lookback.
"""
    requests = sum(len(next(iter(b.values())).calls) for b in results.values())
    suite_body = f"""
Every workload of `promptcache.replay.workloads` and `promptcache.replay.scenarios` (the
issue-12 scenarios: tenants on a 4,096-minimum model, a long document with mixed pauses, a
"static" layer that changes every call, sub-agent waves, regenerated answers; returning users
are `sparse_users`) under every strategy of `promptcache.replay.strategies`, the clairvoyant
oracle included, plus promptcache on a fleet of {WORKERS} workers that get each request at random:
with private in-process states (`{PRIVATE}`) and with one Redis store shared by all
(`{SHARED}`, a real `redis-server` started by the script). Replayed against the offline
simulator with its clock at trace time: {len(results)} traces, {requests} requests per strategy.

```
{COMMAND}
```

{markdown_table(results)}

![Input cost per strategy as a multiple of the clairvoyant bound](img/cost_suite.png)

**Clairvoyant** knows every later request of the trace and mirrors the provider's cache: it
writes only what a later request will read, picks 5m or 1h from the actual next use, never
rewrites a prefix a live or pending entry already covers (one write per burst), and reads the
longest live prefix through the 20-block lookback. It is greedy request by request and adds
savings per segment, so it is a near-lower bound, not a proof of optimality (details in the
`Clairvoyant` docstring); on `volatile_system` promptcache beats it.

**Goals** (issue 12), checked per trace: promptcache no dearer than hand placement, automatic
caching and no caching; within 1.03x the clairvoyant bound (1.02x on the steady chat, RAG and
agent loops); the Redis-shared fleet within 1.02x one process, the private fleet within 1.10x.
Where a goal is missed, the reason follows.

**What the misses share: the first write.** Apart from `rag_rotating_docs` (which document set
comes back), every gap to the clairvoyant bound is the first write of a prefix whose first reuse
comes more than five minutes later: the planner has to pick a TTL before it has seen any gap,
and from the request that closes the first long gap on, it writes 1h. Writing static layers for
1 hour at first sight instead was measured (static hint interval 60 s -> 600 s): bursts go to
1.42x and sub-agent waves to 1.00x the bound, but the steady traces pay the 1h premium on
tools and system for nothing (chat 1.046x, agent loop 1.069x, regenerated chat 1.051x) and
two of them end up dearer than hand placement, which the goals forbid. So promptcache waits for
the first gap; when you know the pace, say so (`reuse=Reuse(uses=..., gaps=(...))` on the
layer) and the first write takes it.

**Converse** (`{CONVERSE}`) is the same planner on Amazon Bedrock's Converse API: each request
rendered with `cachePoint` blocks (at most 4, none below the model's Bedrock minimum) and replayed
against the offline Converse simulator (`promptcache.providers.bedrock_converse`, rules and
sources in [bedrock.md](bedrock.md)), billed at the Converse row's prices. It tracks
`promptcache` on the Messages API; where it differs, the Bedrock row differs (minimum, TTLs).

{chr(10).join(verdicts(results))}

**Drop-in** (`{DROPIN}`, issue 19 item 7): the same traffic as unmodified SDK code sends it,
each trace request as written (tools, system blocks with the documents among them, messages; no
PromptBuilder, no hints) through `wrap(anthropic.Anthropic(base_url=...))` against a loopback
server that holds the simulator, billed from the usage the server returned; one wrapped client
per worker for the fleets (`{DROPIN_PRIVATE}`, `{DROPIN_SHARED}`), requests dealt as to the
builder-path fleets. Concurrency is modelled as for the builder path: a call's writes become
readable 0.5 s after it is sent, in the simulator and in the wrapper's state. The wrapper learns
the layers a builder user would declare from the traffic itself (see
[drop-in.md](drop-in.md#layers-learned-from-traffic)). Goal: <= 1.02x the builder path on every
workload.

{dropin_table(results)}

{chr(10).join(dropin_verdicts(results))}

RAG as unmodified code may lay it out instead: `rag_rotating_docs` with the documents in the
first user message (the builder's `add_documents(as_="document_blocks")` is the reference, on
the same content).

{layouts}
"""
    text = replace_section(text, "Demo", demo_body)
    text = replace_section(text, "Cost by strategy", suite_body)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")
    return page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-docs", action="store_true",
                        help="print the tables only; do not touch docs/")
    parser.add_argument("--only", action="append", default=[], metavar="TRACE",
                        help="run only this workload (repeatable; implies --no-docs)")
    args = parser.parse_args(argv)
    console = Console()
    start = time.perf_counter()
    with optional_redis() as url:
        if url is None:
            console.print("redis-server not found: the Redis-shared fleet is left out.")
        results = run_suite(console, url, args.only)
        layouts = (layouts_table(run_layouts(console))
                   if not args.only or "rag_rotating_docs" in args.only else "")
    seconds = time.perf_counter() - start
    for line in verdicts(results) + dropin_verdicts(results):
        console.print(line)
    console.print(dropin_table(results), soft_wrap=True)
    if layouts:
        console.print(layouts, soft_wrap=True)
    if not args.no_docs and not args.only:
        img = ROOT / "docs" / "img" / "cost_suite.png"
        img.parent.mkdir(parents=True, exist_ok=True)
        plot_ratios(results, img)
        page = write_docs(results, seconds, layouts)
        console.print(f"Wrote {page.relative_to(ROOT)} and {img.relative_to(ROOT)} "
                      f"({seconds:.1f} s of replay).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
