"""`promptcache demo`, run in-process through the CLI entry point."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptcache.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:matplotlib.*")


def dollars(output: str, workload: str, strategy: str) -> float:
    section = output[output.index(workload):]
    match = re.search(rf"{strategy}\s*[│|][^\n]*?\$(\d+\.\d+)", section)
    assert match, f"no {strategy} row for {workload}"
    return float(match.group(1))


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    png = tmp_path_factory.mktemp("demo") / "cost.png"
    capture = pytest.MonkeyPatch()
    import io

    from rich.console import Console

    buffer = io.StringIO()
    capture.setattr("promptcache.cli.demo.Console", lambda: Console(file=buffer, width=150))
    try:
        assert main(["demo", "--no-progress", "--plot", str(png)]) == 0
    finally:
        capture.undo()
    return buffer.getvalue(), png


@pytest.mark.parametrize("workload", ["chat_with_tools", "rag_rotating_docs", "agent_tool_loop"])
def test_the_demo_shows_every_strategy_per_workload(demo_output: tuple[str, Path],
                                                    workload: str) -> None:
    output, _ = demo_output
    for strategy in ("promptcache", "automatic", "hand", "none"):
        dollars(output, workload, strategy)


@pytest.mark.parametrize("workload", ["chat_with_tools", "rag_rotating_docs", "agent_tool_loop"])
def test_promptcache_costs_less_than_no_caching(demo_output: tuple[str, Path], workload: str) -> None:
    output, _ = demo_output
    assert dollars(output, workload, "promptcache") < dollars(output, workload, "none")


def test_promptcache_beats_automatic_and_hand_on_the_agent_loop(
        demo_output: tuple[str, Path]) -> None:
    output, _ = demo_output
    pc = dollars(output, "agent_tool_loop", "promptcache")
    assert pc < dollars(output, "agent_tool_loop", "hand")
    assert pc < dollars(output, "agent_tool_loop", "automatic")


def test_plot_writes_a_png(demo_output: tuple[str, Path]) -> None:
    _, png = demo_output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_strategy_line_stays_visible_in_every_panel(demo_output: tuple[str, Path]) -> None:
    """On chat_with_tools promptcache and hand placement cost the same: both lines must show.

    Pixels of each strategy's colour are counted per panel (the three panels side by side); the
    legend's sample accounts for about 60 pixels, a visible line for several hundred.
    """
    import numpy as np
    from matplotlib import image

    from promptcache.cli._render import line_style
    from promptcache.replay.strategies import DEMO_STRATEGIES

    _, png = demo_output
    pixels = (image.imread(png)[:, :, :3] * 255).round().astype(int)
    width = pixels.shape[1]
    for i, name in enumerate(DEMO_STRATEGIES):
        colour = line_style(i, len(DEMO_STRATEGIES), 10)["color"]
        rgb = np.array([int(colour[k:k + 2], 16) for k in (1, 3, 5)])
        close = np.abs(pixels - rgb).sum(axis=2) <= 30
        for panel in range(3):
            seen = int(close[:, panel * width // 3:(panel + 1) * width // 3].sum())
            assert seen >= 200, f"{name} shows only {seen} pixels in panel {panel}"


def test_live_without_a_key_exits_2(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["demo", "--live"]) == 2
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    from promptcache.cli._render import plot_cumulative
    from promptcache.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "promptcache\[plot\]"'):
        plot_cumulative({}, tmp_path / "x.png")
