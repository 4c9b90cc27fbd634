"""``promptcache demo``: what each caching strategy costs on realistic workloads, offline.

Builds three workloads (a chat with tools, RAG with rotating documents, an agent tool loop),
replays each under promptcache's placement, Anthropic's automatic mode, the docs' hand placement
and no caching against the in-process simulator, and prints tokens by class and input dollars.
``--live`` replays a small chat against the real API instead (it needs ``ANTHROPIC_API_KEY`` and
spends real money, a few tens of cents).
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Mapping
from typing import Any

from rich.console import Console

from promptcache.cli._io import fail
from promptcache.cli._render import plot_cumulative, progress_bar, results_table
from promptcache.errors import PromptCacheError, ProviderError
from promptcache.providers.usage import parse_usage
from promptcache.replay.compare import ReplayResult, compare
from promptcache.replay.strategies import DEMO_STRATEGIES, strategy_for
from promptcache.replay.workloads import DEFAULT_MODEL, Trace, TraceRequest, chat_with_tools, workload
from promptcache.usage import Ledger, Usage

HELP = "Show what promptcache saves on realistic workloads (offline, simulated)."

#: The workloads the demo runs, in order.
DEMO_WORKLOADS = ("chat_with_tools", "rag_rotating_docs", "agent_tool_loop")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plot", metavar="FILE.png",
                        help='also draw cumulative cost per strategy (needs "promptcache[plot]")')
    parser.add_argument("--workload", action="append", choices=DEMO_WORKLOADS,
                        help="run only this workload (repeatable; default: all three)")
    parser.add_argument("--live", action="store_true",
                        help="replay a small chat against the real Anthropic API "
                             "(needs ANTHROPIC_API_KEY; costs real money)")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"Anthropic model for --live (default {DEFAULT_MODEL})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_demo(names: tuple[str, ...] = DEMO_WORKLOADS, *, console: Console | None = None,
             show_progress: bool = True) -> dict[str, Mapping[str, ReplayResult]]:
    """Replay each named workload under every demo strategy; results by workload, then strategy."""
    console = console if console is not None else Console()
    traces = [workload(n) for n in names]
    total = sum(len(t.requests) for t in traces) * len(DEMO_STRATEGIES)
    out: dict[str, Mapping[str, ReplayResult]] = {}
    done = 0
    with progress_bar(console, total, "simulating", enabled=show_progress) as advance:
        for trace in traces:
            base = done

            def step(n: int, _of: int, base: int = base) -> None:
                advance(base + n, total)

            out[trace.name] = compare(trace, DEMO_STRATEGIES, progress=step)
            done += len(trace.requests) * len(DEMO_STRATEGIES)
    return out


def run(args: argparse.Namespace) -> int:
    console = Console()
    if args.live:
        return _live(args, console)
    names = tuple(args.workload) if args.workload else DEMO_WORKLOADS
    try:
        results = run_demo(names, console=console,
                           show_progress=not args.no_progress and console.is_terminal)
        for name, by_strategy in results.items():
            trace = workload(name)
            console.print(results_table(
                f"{name}: {trace.description} ({len(trace.requests)} requests, "
                f"{trace.duration / 60:.0f} min, {DEFAULT_MODEL})", by_strategy))
        console.print("Input tokens and input dollars (output costs the same under every "
                      "strategy); simulated Anthropic cache, no API calls.")
        if args.plot:
            path = plot_cumulative(results, args.plot, title="promptcache demo: cumulative input $")
            console.print(f"Plot written to {path}")
    except PromptCacheError as e:
        return fail(e)
    return 0


# -- live mode ------------------------------------------------------------------------------------


def _salted(item: TraceRequest, salt: str, model: str) -> TraceRequest:
    """The request with a per-run salt in its system prompt, so runs never share a cache."""
    request: dict[str, Any] = dict(item.request)
    system = list(request.get("system") or ())
    request["system"] = [{"type": "text", "text": f"[run {salt}]"}, *system]
    request["model"] = model
    request["max_tokens"] = 16
    return TraceRequest(t=item.t, request=request, session=item.session)


def _live(args: argparse.Namespace, console: Console) -> int:
    if not os.environ.get("ANTHROPIC_API_KEY"):
        return fail("--live needs ANTHROPIC_API_KEY in the environment; it sends real requests "
                    "and costs money. Without it, run `promptcache demo` (offline).")
    try:
        import anthropic
    except ImportError:  # pragma: no cover - anthropic is a hard dependency
        return fail('--live needs the anthropic SDK: pip install "promptcache"')
    client = anthropic.Anthropic()
    base = chat_with_tools(sessions=2, turns=3)
    console.print(f"Live: {len(base.requests)} requests per strategy against {args.model}, "
                  "sent back to back (real time between turns is not reproduced).")
    results: dict[str, Ledger] = {}
    try:
        for name in DEMO_STRATEGIES:
            salt = uuid.uuid4().hex[:12]
            trace = Trace(name=base.name, description=base.description,
                          requests=tuple(_salted(r, salt, args.model) for r in base.requests))
            strategy = strategy_for(name, trace)
            ledger = Ledger()
            for item in trace.requests:
                request = strategy.prepare(item, item.t)
                try:
                    response = client.messages.create(**request)
                except anthropic.APIError as e:
                    raise ProviderError(f"The Anthropic API refused a {name} request: {e}") from e
                usage = parse_usage(response, provider="anthropic", model=args.model)
                ledger.add(Usage(provider="anthropic", model=usage.model,
                                 input_tokens=usage.input_tokens,
                                 cache_read_tokens=usage.cache_read_tokens,
                                 cache_writes=usage.cache_writes))
            results[name] = ledger
    except PromptCacheError as e:
        return fail(e)
    from rich.table import Table

    table = Table(title=f"live: {base.description}", title_justify="left")
    for col in ("strategy", "input", "cache read", "write 5m", "write 1h", "input $"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for name, ledger in results.items():
        t = ledger.totals()
        table.add_row(name, f"{t.uncached_input_tokens:,}", f"{t.cache_read_tokens:,}",
                      f"{t.cache_writes.get('5m', 0):,}", f"{t.cache_writes.get('1h', 0):,}",
                      f"${t.billed:.4f}")
    console.print(table)
    return 0
