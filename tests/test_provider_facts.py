"""One test per documented provider statement (December 2026), each naming its source.

"PF-E" is the "December 2026 update" section of ``shared/PROVIDER_FACTS.md``, checked 2026-12-01
against the providers' pages quoted in each docstring. Where the installed SDK disagrees with
the sheet, the SDK wins and the test says so.
"""

from __future__ import annotations

from typing import Any

import pytest

from promptcache.simulator import AnthropicCacheSimulator, ManualClock, SimulatedAPIError
from promptcache.tokens import count_block, count_tool

MODEL = "claude-sonnet-4-5"  # minimum 1,024 tokens
EPH = {"type": "ephemeral"}
EPH_1H = {"type": "ephemeral", "ttl": "1h"}
THINKING = {"type": "enabled", "budget_tokens": 2_048}


def words(n: int, seed: str = "w") -> str:
    return " ".join(f"{seed}{i}" for i in range(n))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> AnthropicCacheSimulator:
    return AnthropicCacheSimulator(clock=clock)


# -- Anthropic: what invalidates the cache (simulator) --------------------------------------------

SYSTEM = [{"type": "text", "text": words(1_500, "sys"), "cache_control": EPH}]
TOOL = {"name": "get_weather", "description": "Current weather for a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def _tool_loop(*, marker_on_result: bool = True) -> list[dict[str, Any]]:
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": "toolu_1",
                              "content": words(300, "obs")}
    if marker_on_result:
        result["cache_control"] = EPH
    return [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": words(400, "think"), "signature": "sig"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
             "input": {"city": "Paris"}}]},
        {"role": "user", "content": [result]},
    ]


def _request(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "system": SYSTEM, "tools": [TOOL],
            "thinking": THINKING, "messages": messages, **extra}


def test_tool_results_alone_keep_the_thinking_blocks_cached(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    """Source: platform.claude.com/docs/en/build-with-claude/prompt-caching, "Caching with
    thinking blocks": "Cache remains valid when only tool results are provided as user messages"."""
    first = sim.create(_request(_tool_loop()))
    clock.advance(5)
    follow = _tool_loop(marker_on_result=False) + [
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": words(50, "more"), "signature": "sig2"},
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2",
                                      "content": "20 C", "cache_control": EPH}]},
    ]
    second = sim.create(_request(follow))
    assert second.usage["cache_read_input_tokens"] == first.positions[-1].end


def test_a_user_turn_that_is_not_a_tool_result_strips_thinking_and_misses_the_messages(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    """Source: prompt-caching page, "Caching with thinking blocks": "Cache gets invalidated when
    non-tool-result user content is added, causing all previous thinking blocks to be stripped";
    PF-E "What invalidates". The messages after the stripped blocks are no longer the cached
    prefix: only the system entry (before any thinking block) is read."""
    first = sim.create(_request(_tool_loop()))
    assert first.usage["cache_creation_input_tokens"] == first.positions[-1].end
    clock.advance(5)
    follow = _tool_loop(marker_on_result=False) + [
        {"role": "assistant", "content": "It is 18 C in Paris."},
        {"role": "user", "content": [{"type": "text", "text": "And in Rome?", "cache_control": EPH}]},
    ]
    second = sim.create(_request(follow))
    system_tokens = sum(count_tool(t) for t in [TOOL]) + sum(count_block(b) for b in SYSTEM)
    assert second.usage["cache_read_input_tokens"] == system_tokens
    stripped = [p for p in second.positions if p.stripped]
    assert [p.kind for p in stripped] == ["thinking"]
    assert all(p.tokens == 0 for p in stripped)  # dropped from the context, so not counted


def test_toggling_citations_invalidates_system_and_messages_but_not_tools(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    """Source: prompt-caching page, "What invalidates the cache": "Citations toggle — tools ✓,
    system ✘, messages ✘: Enabling/disabling citations modifies the system prompt"; PF-E."""
    tools = [{**TOOL, "description": words(1_200, "doc"), "cache_control": EPH}]

    def request(citations: bool) -> dict[str, Any]:
        document = {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                                   "data": words(200, "kb")},
                    "citations": {"enabled": citations}}
        return {"model": MODEL, "max_tokens": 64, "tools": tools, "system": SYSTEM,
                "messages": [{"role": "user", "content": [
                    document, {"type": "text", "text": "Quote it.", "cache_control": EPH}]}]}

    sim.create(request(citations=False))
    clock.advance(5)
    assert sim.create(request(citations=False)).usage["cache_read_input_tokens"] > count_tool(
        tools[0])
    toggled = sim.create(request(citations=True))
    assert toggled.usage["cache_read_input_tokens"] == count_tool(tools[0])


def test_a_read_keeps_the_entry_s_own_ttl_by_default(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    """Source: none — the prompt-caching page does not say whether reading a 5m entry through a
    1h marker makes it a 1h entry (issue 15, PF-E). Where the docs are silent the simulator
    must not assume the reading that saves money: the entry lives 5 minutes from the read."""
    five = {"model": MODEL, "max_tokens": 64, "system": SYSTEM,
            "messages": [{"role": "user", "content": "hi"}]}
    one_hour = {**five, "system": [{**SYSTEM[0], "cache_control": EPH_1H}]}
    sim.create(five)
    clock.advance(60)
    assert sim.create(one_hour).usage["cache_read_input_tokens"] > 0
    clock.advance(600)
    assert sim.create(five).usage["cache_read_input_tokens"] == 0


def test_extend_ttl_on_read_is_the_option_for_users_who_confirm_it(clock: ManualClock) -> None:
    """Source: as above; ``extend_ttl_on_read=True`` models the other reading of the docs."""
    sim = AnthropicCacheSimulator(clock=clock, extend_ttl_on_read=True)
    five = {"model": MODEL, "max_tokens": 64, "system": SYSTEM,
            "messages": [{"role": "user", "content": "hi"}]}
    one_hour = {**five, "system": [{**SYSTEM[0], "cache_control": EPH_1H}]}
    sim.create(five)
    clock.advance(60)
    sim.create(one_hour)
    clock.advance(600)
    assert sim.create(five).usage["cache_read_input_tokens"] > 0


# -- Anthropic: pre-warming with max_tokens=0 (simulator) ------------------------------------------

_PREWARM = {"model": MODEL, "max_tokens": 0, "system": SYSTEM,
            "messages": [{"role": "user", "content": "."}]}


def test_prewarming_with_max_tokens_0_writes_and_is_accepted(sim: AnthropicCacheSimulator) -> None:
    """Source: prompt-caching page, "Pre-warming the cache"; SDK 2.15.0 ``max_tokens`` docstring:
    "Set to `0` to populate the prompt cache without generating a response"."""
    assert sim.create(_PREWARM).usage["cache_creation_input_tokens"] > 0


@pytest.mark.parametrize("setting", [
    {"stream": True},
    {"thinking": THINKING},
    {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
    {"tools": [TOOL], "tool_choice": {"type": "tool", "name": "get_weather"}},
], ids=["stream", "thinking", "structured-outputs", "forced-tool_choice"])
def test_prewarming_is_refused_with_these_settings(
    sim: AnthropicCacheSimulator, setting: dict[str, Any]
) -> None:
    """Source: PF-E, "Pre-warming with max_tokens: 0 ... refused with streaming, extended
    thinking, structured outputs, a forced tool_choice, and inside Message Batches"."""
    with pytest.raises(SimulatedAPIError) as info:
        sim.create({**_PREWARM, **setting})
    assert info.value.rule == "prewarm"


def test_prewarming_is_refused_inside_a_message_batch(sim: AnthropicCacheSimulator) -> None:
    """Source: PF-E, as above ("and inside Message Batches")."""
    with pytest.raises(SimulatedAPIError):
        sim.create(_PREWARM, batch=True)
    assert sim.create({**_PREWARM, "max_tokens": 16}, batch=True).usage is not None
