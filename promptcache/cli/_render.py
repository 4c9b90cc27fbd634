"""Shared output of the replay commands (demo, simulate) and the benchmark suite: tables, plots.

One implementation for every report, so the docs, the CLI and the benchmark show the same columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from promptcache.errors import MissingDependencyError
from promptcache.replay.compare import ReplayResult, result_row

__all__ = ["line_style", "markdown_table", "plot_cumulative", "progress_bar", "pyplot",
           "results_table", "rows"]

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


@contextmanager
def progress_bar(console: Console, total: int, label: str,
                 enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A transient rich progress bar; yields the callback the replay calls after each request."""
    if not enabled:
        yield lambda _done, _total: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)

        def advance(done: int, _total: int) -> None:
            progress.update(task, completed=done)

        yield advance


#: (colour, line style, marker) per strategy, in the order the strategies are drawn.
_STYLES = (("#1f77b4", "-", "o"), ("#ff7f0e", "-", "s"), ("#2ca02c", "-.", "^"),
           ("#d62728", "--", "x"), ("#9467bd", ":", "D"), ("#8c564b", "-", "v"),
           ("#e377c2", "--", "P"), ("#7f7f7f", "-.", "*"))


def line_style(index: int, count: int, points: int) -> dict[str, Any]:
    """Keyword arguments for the ``index``-th of ``count`` lines, so that no line hides another.

    Two strategies often cost exactly the same (promptcache and hand placement on a plain chat):
    drawn alike, the later line covers the earlier. Here each line is thinner than the one drawn
    before it and on top of it, so a covered line still shows as a border around the next, and
    each carries its own marker at positions staggered between lines.
    """
    colour, linestyle, marker = _STYLES[index % len(_STYLES)]
    step = max(1, points // 8)
    return {"color": colour, "linestyle": linestyle, "marker": marker,
            "linewidth": 1.2 + 2.4 * (count - 1 - index) / max(1, count - 1),
            "markersize": 5.0, "markevery": (index * step // max(1, count) % step, step),
            "zorder": 2 + index}


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed), or the error naming the extra.

    matplotlib is an optional extra, imported here only, by every command that plots.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise MissingDependencyError(
            'Plotting needs matplotlib: pip install "promptcache[plot]".') from e
    return plt


def plot_cumulative(results_by_trace: Mapping[str, Mapping[str, ReplayResult]],
                    path: str | Path, *, title: str = "Cumulative input cost") -> Path:
    """Draw cumulative input dollars per strategy (one panel per trace) into a PNG file."""
    plt = pyplot()
    traces: Sequence[str] = list(results_by_trace)
    fig, axes = plt.subplots(1, len(traces), figsize=(4.2 * len(traces), 3.6), squeeze=False)
    for ax, trace in zip(axes[0], traces, strict=True):
        results = results_by_trace[trace]
        for i, (name, result) in enumerate(results.items()):
            xs = [c.t / 60 for c in result.calls]
            ax.plot(xs, result.cumulative(), label=name, **line_style(i, len(results), len(xs)))
        ax.set_title(trace, fontsize=10)
        ax.set_xlabel("minutes")
        ax.set_ylabel("input $")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
