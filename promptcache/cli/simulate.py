"""``promptcache simulate TRACE.jsonl``: replay a recorded trace and report cost per strategy.

Each line of the trace is ``{"t": seconds, "request": {...messages.create kwargs...}}``; any
``cache_control`` in it is dropped, and each strategy places its own before the request is sent to
the in-process Anthropic simulator at time ``t``. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from rich.console import Console

from promptcache.cli._io import fail, print_json
from promptcache.cli._render import plot_cumulative, progress_bar, results_table
from promptcache.errors import PromptCacheError
from promptcache.replay.compare import ReplayResult, compare, result_row
from promptcache.replay.strategies import BENCHMARK_STRATEGIES, DEMO_STRATEGIES
from promptcache.replay.workloads import load_replay_trace

HELP = "Replay a recorded trace (JSONL) under each caching strategy and report its cost."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", metavar="TRACE.jsonl",
                        help='one {"t": seconds, "request": {...}} object per line')
    parser.add_argument("--strategy", action="append", choices=BENCHMARK_STRATEGIES,
                        help="strategy to run (repeatable; default: "
                             f"{', '.join(DEMO_STRATEGIES)})")
    parser.add_argument("--plot", metavar="FILE.png", help="draw cumulative cost per strategy")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    console = Console()
    strategies = tuple(dict.fromkeys(args.strategy)) if args.strategy else DEMO_STRATEGIES
    try:
        trace = load_replay_trace(args.trace)
        total = len(trace.requests) * len(strategies)
        with progress_bar(console, total, "replaying",
                          enabled=not args.no_progress and not args.json
                          and console.is_terminal) as advance:
            results = compare(trace, strategies, progress=advance)
        if args.json:
            print_json({"trace": trace.name, "requests": len(trace.requests),
                        "results": json_rows(results)})
        else:
            console.print(results_table(
                f"{trace.name}: {len(trace.requests)} requests over "
                f"{trace.duration / 60:.1f} min", results))
        if args.plot:
            path = plot_cumulative({trace.name: results}, args.plot)
            if not args.json:
                console.print(f"Plot written to {path}")
    except PromptCacheError as e:
        return fail(e)
    return 0


def json_rows(results: Mapping[str, ReplayResult]) -> list[dict[str, Any]]:
    """One row per strategy; ``saving_vs_none`` is null when ``none`` was not run.

    0.0 would read as "saves nothing", which is a claim; without the baseline there is no figure.
    """
    baseline = results.get("none")
    return [{**row, "saving_vs_none": row["saving_vs_none"] if baseline is not None else None}
            for row in (result_row(r, baseline) for r in results.values())]
