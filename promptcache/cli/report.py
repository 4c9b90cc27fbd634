"""``promptcache report LEDGER.jsonl``: what a run's calls cost and saved, as a table or a plot.

Reads the JSON lines ``Ledger.export_jsonl`` writes (``client.promptcache.ledger`` under
``wrap``, ``session.core.ledger`` for a chat session) and prints a summary per model and the last
calls one by one. ``--plot FILE.png`` draws cumulative billed dollars, what the same calls would
have cost uncached, and the saving, over time, with the same line styles as ``demo --plot``.
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from promptcache.cli._io import read_text
from promptcache.cli._render import line_style, pyplot
from promptcache.usage import CallRecord, parse_ledger

__all__ = ["SERIES", "add_arguments", "plot_ledger", "run", "series", "time_unit"]

HELP = "Table (and --plot) the cost and savings of calls recorded by a Ledger's JSONL export."

#: The lines ``--plot`` draws, in order (their colours are ``line_style(i, 3, n)``).
SERIES = ("billed", "uncached", "saved")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ledger", metavar="LEDGER.jsonl", help="a Ledger.export_jsonl file, or - for stdin")
    parser.add_argument("--last", type=int, default=20, metavar="N",
                        help="list the last N calls one by one (default 20; 0: none)")
    parser.add_argument("--plot", metavar="FILE.png",
                        help='also draw cost and savings over time (needs "promptcache[plot]")')


def _when(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _usd(value: float, priced: bool) -> str:
    return f"${value:.4f}" if priced else "unpriced"


def summary_table(records: Sequence[CallRecord]) -> Table:
    """One row per model, and a total: calls, tokens by class, dollars billed and saved."""
    table = Table(title=f"{len(records)} calls")
    for name in ("model", "calls", "uncached in", "cache read", "cache write", "output", "billed",
                 "uncached", "saved", "misses"):
        table.add_column(name, justify="left" if name == "model" else "right")
    groups: dict[str, list[CallRecord]] = {}
    for r in records:
        groups.setdefault(f"{r.usage.provider}/{r.usage.model}", []).append(r)
    rows = [*groups.items(), ("total", list(records))] if len(groups) > 1 else list(groups.items())
    for name, rs in rows:
        priced = all(r.cost.priced for r in rs)
        table.add_row(
            name, f"{len(rs):,}", f"{sum(r.usage.input_tokens for r in rs):,}",
            f"{sum(r.usage.cache_read_tokens for r in rs):,}",
            f"{sum(r.usage.cache_write_tokens for r in rs):,}",
            f"{sum(r.usage.output_tokens for r in rs):,}",
            _usd(sum(r.cost.billed for r in rs), priced),
            _usd(sum(r.cost.uncached for r in rs), priced),
            _usd(sum(r.saving for r in rs), priced),
            f"{sum(r.miss_reason is not None for r in rs):,}",
            style="bold" if name == "total" else None)
    return table


def calls_table(records: Sequence[CallRecord]) -> Table:
    """The given calls one by one: when, model, tokens, dollars, breakpoints and any miss."""
    table = Table(title=f"last {len(records)} calls")
    for name in ("time (UTC)", "model", "uncached in", "read", "write", "billed", "saved",
                 "breakpoints", "miss"):
        table.add_column(name, justify="right" if name in ("uncached in", "read", "write", "billed",
                                                            "saved") else "left")
    for r in records:
        marks = ", ".join(f"{p}@{t}" for p, t in zip(r.breakpoints, r.ttls, strict=False))
        table.add_row(_when(r.at), r.usage.model, f"{r.usage.input_tokens:,}",
                      f"{r.usage.cache_read_tokens:,}", f"{r.usage.cache_write_tokens:,}",
                      _usd(r.cost.billed, r.cost.priced), _usd(r.saving, r.cost.priced),
                      marks or ("unplanned" if r.planned is False else "-"), r.miss_reason or "")
    return table


def time_unit(records: Sequence[CallRecord]) -> tuple[str, float]:
    """The unit the time axis reads best in for the ledger's span: seconds, minutes or hours."""
    span = max((r.at for r in records), default=0.0) - min((r.at for r in records), default=0.0)
    return ("seconds", 1.0) if span < 120 else ("minutes", 60.0) if span < 3 * 3600 else \
        ("hours", 3600.0)


def series(records: Sequence[CallRecord]) -> tuple[list[float], dict[str, list[float]]]:
    """Time since the first call (in :func:`time_unit`), and the cumulative dollars of each of
    :data:`SERIES`."""
    ordered = sorted(records, key=lambda r: r.at)
    start = ordered[0].at if ordered else 0.0
    _, per = time_unit(ordered)
    xs: list[float] = []
    out: dict[str, list[float]] = {name: [] for name in SERIES}
    billed = uncached = 0.0
    for r in ordered:
        billed += r.cost.billed
        uncached += r.cost.uncached
        xs.append((r.at - start) / per)
        out["billed"].append(billed)
        out["uncached"].append(uncached)
        out["saved"].append(uncached - billed)
    return xs, out


def plot_ledger(records: Sequence[CallRecord], path: str | Path, *,
                title: str = "Cost and savings over time") -> Path:
    """Draw cumulative billed, uncached and saved dollars against time into a PNG file."""
    plt = pyplot()
    xs, ys = series(records)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, name in enumerate(SERIES):
        ax.plot(xs, ys[name], label=name, **line_style(i, len(SERIES), len(xs)))
    ax.axhline(0.0, color="#888888", linewidth=0.6, zorder=1)
    ax.set_xlabel(f"{time_unit(records)[0]} since the first call")
    ax.set_ylabel("cumulative $")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def run(args: argparse.Namespace) -> int:
    records = parse_ledger(read_text(args.ledger), source=args.ledger)
    console = Console()
    console.print(summary_table(records))
    if args.last > 0 and records:
        console.print(calls_table(records[-args.last:]))
    if args.plot:
        console.print(f"Plot written to {plot_ledger(records, args.plot)}")
    return 0
