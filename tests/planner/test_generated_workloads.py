"""The generated-workload test bed (benchmarks/generated.py): structure, not promptcache's costs.

The benchmark judges planner changes on hundreds of workloads; these tests check that what it
judges on is what it claims: the same trace for the same seed, every family and parameter range
present in the full set, and the clairvoyant bound below every fixed baseline.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "benchmarks"))

import generated
import workload_family as wf

from promptcache.limits import limits_for


def _dump(trace: wf.Trace) -> str:
    return json.dumps([(r.t, r.session, r.request) for r in trace.requests], sort_keys=True)


def test_same_index_gives_the_same_trace() -> None:
    for index in (0, 4, 8):
        assert wf.spec(index) == wf.spec(index)
        assert _dump(wf.build(wf.spec(index))) == _dump(wf.build(wf.spec(index)))


def test_different_indexes_give_different_traces() -> None:
    a, b = wf.spec(1), wf.spec(1 + len(wf.FAMILIES))
    assert a.family == b.family
    assert _dump(wf.build(a)) != _dump(wf.build(b))


def test_the_full_set_covers_every_family_and_range() -> None:
    specs = wf.specs(generated.FULL)
    assert len(specs) >= 300
    assert {s.family for s in specs} == set(wf.FAMILIES)
    minimums = {limits_for(s.model, provider="anthropic").min_cacheable_tokens for s in specs}
    assert min(minimums) == 512 and max(minimums) == 4_096
    ratios = {limits_for(s.model, provider="anthropic").token_ratio for s in specs}
    assert len(ratios) >= 2
    below = [s for s in specs
             if s.prefix_tokens < limits_for(s.model, provider="anthropic").min_cacheable_tokens]
    assert below and max(s.prefix_tokens for s in specs) > 100_000
    assert max(s.prefix_tokens for s in specs) <= wf.MAX_PREFIX
    assert min(s.pace for s in specs) < 10 and max(s.pace for s in specs) > 3_600
    fanouts = {s.fanout for s in specs if s.family == "agent"}
    assert min(fanouts) == 1 and max(fanouts) >= 25
    thinking = {s.model for s in specs if s.family == "thinking"}
    assert thinking & set(wf.THINKING_KEEP) and thinking & set(wf.THINKING_STRIP)
    assert sum(s.fleet for s in specs) >= 25


@pytest.mark.parametrize("index", [1, 5, 7])
def test_every_workload_has_its_size_and_order(index: int) -> None:
    s = wf.spec(index)
    trace = wf.build(s)
    assert 2 <= len(trace.requests) <= s.requests
    times = [r.t for r in trace.requests]
    assert times == sorted(times)
    assert all(r.prompt is not None and r.request["model"] == s.model for r in trace.requests)


def test_tool_change_grows_the_tool_list_mid_conversation() -> None:
    s = next(s for s in wf.specs(40) if s.family == "tool_change")
    counts = {len(r.request.get("tools", ())) for r in wf.build(s).requests}
    assert len(counts) == 2


@pytest.mark.parametrize("index", [1, 3, 5])
def test_fixed_baselines_cost_at_least_the_clairvoyant_bound(index: int) -> None:
    row = generated.run_one(index)
    assert set(generated.BASELINES) | {"promptcache", "clairvoyant"} <= set(row.billed)
    for name in generated.BASELINES:
        assert row.billed[name] >= row.billed["clairvoyant"] - 1e-9, name


def test_report_lists_each_loss_with_its_ratio() -> None:
    rows = [generated.run_one(i) for i in (3,)]
    text = generated.report(rows, 1.0, 1, redis=False)
    assert "| promptcache |" in text
    for r in generated.losses(rows):
        assert f"`{r.spec.name}`" in text and f"{r.loss:.3f}" in text


def _trace_lines(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[list[str], str]:
    import trace_workload

    assert trace_workload.main(list(argv)) == 0
    out = capsys.readouterr().out.splitlines()
    return [line for line in out if re.match(r"\s*\d+ ", line)], out[-1]


def test_the_request_trace_splits_the_difference_into_its_requests(
        capsys: pytest.CaptureFixture[str]) -> None:
    lines, total = _trace_lines(capsys, "g001", "--against", "hand")
    row = generated.run_one(1)
    assert len(lines) == row.requests
    diffs = [float(line.split("|")[3]) for line in lines]
    expected = row.billed["promptcache"] - row.billed["hand"]
    assert abs(sum(diffs) - expected) <= 5e-5 * len(lines)  # each printed to 4 decimals
    assert f"{expected:+.4f} $" in total
    # Each side's breakpoints as sent: the hand placement's are all 5m.
    assert all(" / " in line and "1h" not in line.split(" / ")[1] for line in lines)


def test_the_fleet_trace_names_the_worker_of_each_request(
        capsys: pytest.CaptureFixture[str]) -> None:
    lines, total = _trace_lines(capsys, "g010", "--fleet")
    workers = {re.search(r"\| (w\d) ", line)[1] for line in lines}  # type: ignore[index]
    assert len(workers) > 1 and workers <= {f"w{k}" for k in range(generated.WORKERS)}
    assert total.startswith(f"{generated.PRIVATE} $")
