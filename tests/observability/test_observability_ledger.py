"""A ledger you can keep: per-call records with a bound, JSON-lines export, and
``promptcache report`` (a table, and ``--plot`` whose every line is visible in the PNG)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import anthropic
import pytest

from promptcache import CacheState
from promptcache.cli import main
from promptcache.clock import ManualClock
from promptcache.dropin import handle_of, wrap
from promptcache.errors import TraceError
from promptcache.session import ChatSession
from promptcache.testing import AnthropicServer
from promptcache.usage import CallRecord, Ledger, Usage, read_ledger

MODEL = "claude-sonnet-4-5"
SYSTEM = "You are a meticulous support agent. " + " ".join(f"rule{i}" for i in range(1_500))


def wrapped_chat(server: AnthropicServer, turns: int, ledger: Ledger | None = None) -> Ledger:
    """A wrapped quick-start conversation; returns the client's ledger."""
    client = wrap(anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0),
                  state=CacheState(clock=ManualClock()), ledger=ledger)
    messages: list[dict[str, object]] = []
    for i in range(turns):
        messages.append({"role": "user", "content": f"Question {i}: where is order {i}?"})
        reply = client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM, messages=messages)
        messages.append({"role": "assistant", "content": reply.content})
    return handle_of(client).ledger


@pytest.fixture
def server() -> AnthropicServer:
    with AnthropicServer(clock=ManualClock()) as s:
        yield s  # type: ignore[misc]


def test_each_call_is_a_record_with_tokens_cost_and_plan(server: AnthropicServer) -> None:
    ledger = wrapped_chat(server, 3)
    first, second, third = ledger.records
    assert first.at <= second.at <= third.at
    assert first.usage.model == MODEL and first.planned is True
    assert first.breakpoints and first.breakpoints[0] == "system[0]"
    assert len(first.ttls) == len(first.breakpoints)
    assert first.expected_write and first.usage.cache_write_tokens > 0
    assert second.usage.cache_read_tokens > 0 and second.saving > 0
    assert sum(r.cost.billed for r in ledger.records) == pytest.approx(ledger.totals().billed)


def test_the_ledger_keeps_at_most_maxlen_records_but_counts_every_call() -> None:
    ledger = Ledger(maxlen=3)
    for n in range(5):
        ledger.add(Usage(provider="anthropic", model=MODEL, input_tokens=100 + n), at=float(n))
    assert [r.at for r in ledger.records] == [2.0, 3.0, 4.0]
    assert ledger.totals().calls == 5 and ledger.totals().uncached_input_tokens == 510
    assert len(ledger.calls) == 3


def test_export_jsonl_round_trips(server: AnthropicServer, tmp_path: Path) -> None:
    ledger = wrapped_chat(server, 3)
    path = ledger.export_jsonl(tmp_path / "ledger.jsonl")
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["model"] == MODEL
    assert tuple(read_ledger(path)) == ledger.records


def test_a_malformed_ledger_line_is_named(tmp_path: Path) -> None:
    good = CallRecord.to_json(Ledger().record(Usage(provider="anthropic", model=MODEL), at=1.0))
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "input_tokens": -3}) + "\n")
    with pytest.raises(TraceError, match=r"bad.jsonl, line 2: .*input_tokens"):
        read_ledger(path)


def test_a_chat_session_keeps_records_too() -> None:
    clock = ManualClock()
    with AnthropicServer(clock=clock) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)
        chat = ChatSession(client, model=MODEL, system=SYSTEM, clock=clock)
        chat.send("Hello")
        chat.send("And then?")
    first, second = chat.core.ledger.records
    assert first.planned and first.breakpoints and second.usage.cache_read_tokens > 0
    assert second.expected_read is not None and second.expected_read > 0


def test_report_prints_a_table_of_the_ledger(server: AnthropicServer, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    ledger = wrapped_chat(server, 4)
    path = ledger.export_jsonl(tmp_path / "ledger.jsonl")
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    totals = ledger.totals()
    assert "4 calls" in out and f"anthropic/{MODEL}" in out
    assert f"${totals.billed:.4f}" in out and f"${totals.savings:.4f}" in out
    assert "system[0]@" in out


def test_report_on_a_malformed_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("{not json\n")
    assert main(["report", str(path)]) == 2
    assert "line 1" in capsys.readouterr().err


def test_report_plot_shows_every_line(server: AnthropicServer, tmp_path: Path) -> None:
    """Billed, uncached and saved dollars over time: each line's colour covers hundreds of
    pixels (the legend's sample alone is about 60)."""
    import numpy as np
    from matplotlib import image

    from promptcache.cli._render import line_style
    from promptcache.cli.report import SERIES

    ledger = wrapped_chat(server, 10)
    path = ledger.export_jsonl(tmp_path / "ledger.jsonl")
    png = tmp_path / "report.png"
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    assert main(["report", str(path), "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = (image.imread(png)[:, :, :3] * 255).round().astype(int)
    for i, name in enumerate(SERIES):
        colour = line_style(i, len(SERIES), 10)["color"]
        rgb = np.array([int(colour[k:k + 2], 16) for k in (1, 3, 5)])
        seen = int((np.abs(pixels - rgb).sum(axis=2) <= 30).sum())
        assert seen >= 200, f"{name} shows only {seen} pixels"


@pytest.mark.parametrize("data", [b'{"provider": "caf\xe9"}', "{nope", "[1, 2]",
                                  "[" * 100_000 + "]" * 100_000,
                                  '{"provider": "anthropic", "model": "m", "at": "soon"}'])
def test_report_on_a_bad_file_is_one_line_on_stderr(tmp_path: Path, data: bytes | str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.jsonl"
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    assert main(["report", str(path)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("promptcache: error: ") and err.count("\n") == 1 and out == ""


def test_report_on_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "absent.jsonl")]) == 2
    assert "absent.jsonl" in capsys.readouterr().err
