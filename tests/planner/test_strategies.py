"""Placement strategies: each sends the same content, only the breakpoints differ."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promptcache.clock import ManualClock
from promptcache.replay.strategies import (
    BENCHMARK_STRATEGIES,
    Clairvoyant,
    Hand,
    mark_request,
    strategy_for,
)
from promptcache.replay.workloads import TraceError, agent_tool_loop, bursts, chat_with_tools
from promptcache.simulator import AnthropicCacheSimulator


def marks(request: dict[str, Any]) -> list[str]:
    """Paths of the blocks carrying cache_control, as the simulator sees them."""
    return [p.path for p in AnthropicCacheSimulator().positions(request) if p.ttl is not None]


def fingerprints(request: dict[str, Any]) -> list[str]:
    return [p.fingerprint for p in AnthropicCacheSimulator().positions(request)]


@pytest.mark.parametrize("name", BENCHMARK_STRATEGIES)
def test_no_strategy_changes_the_content(name: str) -> None:
    trace = chat_with_tools(sessions=1, turns=3)
    strategy = strategy_for(name, trace)
    for item in trace.requests:
        sent = strategy.prepare(item, item.t)
        assert fingerprints(sent) == fingerprints(dict(item.request))


def test_hand_marks_the_last_tool_the_last_system_block_and_the_last_message() -> None:
    item = chat_with_tools(sessions=1, turns=2).requests[-1]
    request = Hand().prepare(item, item.t)
    n_tools = len(request["tools"])
    assert marks(request) == [f"tools[{n_tools - 1}]", "system[0]", "messages[2].content[0]"]


def test_automatic_sets_only_the_request_level_marker() -> None:
    item = chat_with_tools(sessions=1, turns=1).requests[0]
    request = strategy_for("automatic", chat_with_tools()).prepare(item, 0)
    assert request["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
    assert json.dumps(request).count("cache_control") == 1


def test_none_sends_no_marker() -> None:
    item = chat_with_tools(sessions=1, turns=1).requests[0]
    assert "cache_control" not in json.dumps(strategy_for("none", chat_with_tools()).prepare(item, 0))


def test_promptcache_bridges_the_lookback_in_an_agent_loop() -> None:
    trace = agent_tool_loop(tasks=1, steps=3)
    strategy = strategy_for("promptcache", trace)
    sim = AnthropicCacheSimulator(clock=ManualClock())
    reads = []
    for item in trace.requests:
        request = strategy.prepare(item, item.t)
        reads.append(sim.create(request, now=item.t).usage["cache_read_input_tokens"])
    assert all(r > 0 for r in reads[1:])
    assert reads == sorted(reads)


def test_strategies_never_exceed_four_breakpoints_or_misorder_ttls() -> None:
    trace = bursts(count=3)
    for name in BENCHMARK_STRATEGIES:
        strategy = strategy_for(name, trace)
        sim = AnthropicCacheSimulator(clock=ManualClock())
        for item in trace.requests:
            sim.create(strategy.prepare(item, item.t), now=item.t)  # raises on a 400


def test_clairvoyant_writes_a_burst_once() -> None:
    trace = bursts(count=1, size=(6, 6))
    strategy = Clairvoyant(trace)
    sim = AnthropicCacheSimulator(clock=ManualClock())
    writes = 0
    for item in trace.requests:
        request = strategy.prepare(item, item.t)
        result = sim.create(request, now=item.t)
        strategy.sent(item, request, result, item.t)
        writes += result.usage["cache_creation_input_tokens"] > 0
    assert writes == 0  # nothing after the burst reads it, so nothing is worth writing


def test_clairvoyant_refuses_a_request_from_another_trace() -> None:
    strategy = Clairvoyant(chat_with_tools(sessions=1, turns=1))
    with pytest.raises(TraceError, match="one Clairvoyant per trace"):
        strategy.prepare(chat_with_tools(sessions=1, turns=2).requests[-1], 0)


def test_mark_request_marks_string_content_as_a_block() -> None:
    request = {"model": "m", "system": "s", "messages": [{"role": "user", "content": "q"}]}
    marked = mark_request(request, {1: "1h"})
    assert marked["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert marked["system"] == "s" and request["messages"][0]["content"] == "q"  # copies only
    both = mark_request(request, {0: "1h", 1: "5m"})
    assert both["system"] == [{"type": "text", "text": "s",
                               "cache_control": {"type": "ephemeral", "ttl": "1h"}}]


def test_unknown_strategy_is_named() -> None:
    with pytest.raises(TraceError, match="Unknown strategy 'x'"):
        strategy_for("x", chat_with_tools())
