"""Replay results as tables: one row of figures per strategy, as rich or Markdown tables.

One implementation for every report, so the docs, the CLI (``demo``, ``simulate``) and the
benchmark suite (``benchmarks/cost_suite.py``) show the same columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from promptcache.replay.compare import ReplayResult, result_row

__all__ = ["COLUMNS", "markdown_table", "results_table", "rows"]

COLUMNS = ("strategy", "input", "cache read", "write 5m", "write 1h", "input $", "vs none")


def rows(results: Mapping[str, ReplayResult]) -> list[dict[str, Any]]:
    """One row of figures per strategy, savings relative to ``none`` when it was run."""
    baseline = results.get("none")
    return [result_row(r, baseline) for r in results.values()]


def _cells(row: Mapping[str, Any], has_baseline: bool) -> list[str]:
    saving = f"{-row['saving_vs_none']:+.1%}"
    return [
        row["strategy"], f"{row['input']:,}", f"{row['cache_read']:,}", f"{row['write_5m']:,}",
        f"{row['write_1h']:,}", f"${row['billed_usd']:.4f}",
        (saving if row["strategy"] != "none" else "") if has_baseline else "",
    ]


def results_table(title: str, results: Mapping[str, ReplayResult]) -> Table:
    """A rich table of tokens by class and input dollars per strategy; the cheapest in bold."""
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(COLUMNS):
        table.add_column(name, justify="left" if i == 0 else "right")
    figures = rows(results)
    cheapest = min((r["billed_usd"] for r in figures), default=0.0)
    for row in figures:
        style = "bold green" if row["billed_usd"] == cheapest else None
        table.add_row(*_cells(row, "none" in results), style=style)
    return table


def markdown_table(results_by_trace: Mapping[str, Mapping[str, ReplayResult]]) -> str:
    """The same figures as a Markdown table, one row per trace and strategy."""
    lines = ["| trace | " + " | ".join(COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for trace, results in results_by_trace.items():
        figures = rows(results)
        cheapest = min(r["billed_usd"] for r in figures)
        for row in figures:
            cells = _cells(row, "none" in results)
            if row["billed_usd"] == cheapest:
                cells = [f"**{c}**" if c else c for c in cells]
            lines.append(f"| {trace} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
