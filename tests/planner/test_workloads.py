"""Workloads: deterministic, realistic traces, and the JSONL trace format."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from promptcache.errors import PromptError
from promptcache.replay.workloads import (
    WORKLOADS,
    TraceError,
    agent_tool_loop,
    bursts,
    chat_with_tools,
    load_replay_trace,
    save_trace,
    sparse_users,
    strip_cache_control,
    workload,
)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_each_workload_is_deterministic_and_time_ordered(name: str) -> None:
    a, b = workload(name), workload(name)
    assert [r.request for r in a.requests] == [r.request for r in b.requests]
    times = [r.t for r in a.requests]
    assert times == sorted(times) and len(times) > 5


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_generated_requests_carry_no_cache_control_and_their_prompt(name: str) -> None:
    for item in workload(name).requests:
        assert "cache_control" not in json.dumps(item.request)
        assert item.prompt is not None and item.request["model"] == item.prompt.model


def test_a_different_seed_gives_a_different_trace() -> None:
    assert chat_with_tools(seed=1).requests[0].request != chat_with_tools(seed=9).requests[0].request


def test_agent_steps_add_12_to_14_tool_calls_beyond_the_lookback() -> None:
    trace = agent_tool_loop(tasks=1, steps=3)
    last = trace.requests[-1].request["messages"]
    for message in last[1:]:
        kinds = {b["type"] for b in message["content"]}
        calls = [b for b in message["content"] if b["type"] in ("tool_use", "tool_result")]
        assert 12 <= len(calls) <= 14 and kinds & {"tool_use", "tool_result"}


def test_sparse_users_come_back_after_8_to_25_minutes() -> None:
    by_user: dict[str, list[float]] = {}
    for item in sparse_users().requests:
        by_user.setdefault(item.session, []).append(item.t)
    gaps = [b - a for ts in by_user.values() for a, b in itertools.pairwise(ts)]
    assert gaps and all(480 <= g <= 1_500 for g in gaps)


def test_bursts_start_within_a_fraction_of_a_second() -> None:
    by_burst: dict[str, list[float]] = {}
    for item in bursts().requests:
        by_burst.setdefault(item.session, []).append(item.t)
    assert all(max(ts) - min(ts) < 0.5 and len(ts) >= 5 for ts in by_burst.values())


def test_a_trace_round_trips_through_jsonl(tmp_path: Path) -> None:
    trace = chat_with_tools(sessions=2, turns=2)
    path = tmp_path / "t.jsonl"
    save_trace(trace, path)
    loaded = load_replay_trace(path)
    assert [(r.t, dict(r.request), r.session) for r in loaded.requests] == [
        (r.t, dict(r.request), r.session) for r in trace.requests]
    assert loaded.name == "t"


def test_loading_drops_recorded_markers(tmp_path: Path) -> None:
    request = {"model": "claude-sonnet-4-5", "max_tokens": 5, "cache_control": {"type": "ephemeral"},
               "messages": [{"role": "user", "content": [
                   {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}]}
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"t": 0, "request": request}) + "\n")
    assert "cache_control" not in json.dumps(load_replay_trace(path).requests[0].request)
    assert strip_cache_control(request)["messages"][0]["content"][0] == {"type": "text", "text": "hi"}


@pytest.mark.parametrize(("line", "message"), [
    ("not json", "not valid JSON"),
    ('{"request": {}}', "'t' must be a number"),
    ('{"t": 1, "request": []}', "'request' must be an object"),
    ('{"t": 1, "request": {"messages": []}}', "no 'model'"),
])
def test_a_malformed_line_names_its_line_number(tmp_path: Path, line: str, message: str) -> None:
    good = json.dumps({"t": 0, "request": {"model": "m", "messages": []}})
    path = tmp_path / "bad.jsonl"
    path.write_text(good + "\n\n" + line + "\n")
    with pytest.raises(TraceError, match=rf"bad.jsonl line 3: .*{message}"):
        load_replay_trace(path)


def test_trace_errors_are_prompt_errors(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="Cannot read trace"):
        load_replay_trace(tmp_path / "missing.jsonl")
    with pytest.raises(TraceError, match="Unknown workload"):
        workload("nope")


# -- the issue-12 scenarios ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tenants", "long_document", "volatile_system",
                                  "subagent_waves", "regenerated_chat"])
def test_each_scenario_is_deterministic_and_time_ordered(name: str) -> None:
    from promptcache.replay.scenarios import SCENARIOS

    a, b = SCENARIOS[name](), SCENARIOS[name]()
    assert [r.request for r in a.requests] == [r.request for r in b.requests]
    times = [r.t for r in a.requests]
    assert times == sorted(times) and len(times) >= 20


def test_tenants_sit_just_above_the_haiku_4_5_minimum_at_paces_from_40s_to_70min() -> None:
    from promptcache.limits import limits_for
    from promptcache.replay.scenarios import tenants

    trace = tenants()
    minimum = limits_for("claude-haiku-4-5").min_cacheable_tokens
    assert minimum == 4_096
    by_tenant: dict[str, list[float]] = {}
    for item in trace.requests:
        assert item.prompt is not None
        system_end = item.prompt.layers[1].stop - 1
        assert minimum < item.prompt.prefix_tokens[system_end] < 4_600
        by_tenant.setdefault(item.session, []).append(item.t)
    paces = sorted(min(b - a for a, b in itertools.pairwise(ts)) for ts in by_tenant.values()
                   if len(ts) > 1)
    assert len(by_tenant) == 10 and paces[0] < 60 and paces[-1] > 45 * 60


def test_the_volatile_system_changes_on_every_request_and_regenerations_repeat_one() -> None:
    from promptcache.replay.scenarios import regenerated_chat, volatile_system

    systems = [json.dumps(r.request["system"]) for r in volatile_system().requests]
    assert len(set(systems)) == len(systems)
    chat = regenerated_chat().requests
    repeats = sum(a.request == b.request for a, b in itertools.pairwise(chat))
    assert repeats >= 5
