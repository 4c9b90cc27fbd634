"""The Anthropic cache simulator, checked against the documented semantics and worked examples."""

from __future__ import annotations

from typing import Any

import pytest

from promptcache.errors import RuleViolation
from promptcache.simulator import AnthropicCacheSimulator, ManualClock, SimulatedAPIError
from promptcache.tokens import count_block, count_tool

MODEL = "claude-sonnet-4-5"  # minimum 1,024 tokens
EPH = {"type": "ephemeral"}
EPH_1H = {"type": "ephemeral", "ttl": "1h"}


def words(n: int, seed: str = "w") -> str:
    """Roughly ``n`` tokens of text, distinct per seed."""
    return " ".join(f"{seed}{i}" for i in range(n))


def text(body: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": body, **extra}


def total(usage: dict[str, Any]) -> int:
    return int(
        usage["input_tokens"]
        + usage["cache_read_input_tokens"]
        + usage["cache_creation_input_tokens"]
    )


@pytest.fixture
def sim(clock: ManualClock) -> AnthropicCacheSimulator:
    return AnthropicCacheSimulator(clock=clock)


def legal_request(question: str) -> dict[str, Any]:
    document = text(words(2_000, "law"), cache_control=EPH)
    return {
        "model": MODEL,
        "max_tokens": 100,
        "system": [text("You analyse legal documents."), document],
        "messages": [{"role": "user", "content": question}],
    }


def test_large_context_first_request_writes_the_system_prompt(sim: AnthropicCacheSimulator) -> None:
    request = legal_request("What are the key terms?")
    usage = sim.create(request).usage
    system_tokens = sum(count_block(b) for b in request["system"])
    assert usage["cache_creation_input_tokens"] == system_tokens
    assert usage["cache_read_input_tokens"] == 0
    assert usage["input_tokens"] == count_block(text("What are the key terms?"))


def test_large_context_second_request_reads_what_the_first_wrote(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    first = sim.create(legal_request("What are the key terms?")).usage
    clock.advance(5)
    second = sim.create(legal_request("Who are the parties?")).usage
    assert second["cache_creation_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]


def test_usage_totals_add_up_and_creation_equals_its_breakdown(
    sim: AnthropicCacheSimulator,
) -> None:
    request = legal_request("Q")
    usage = sim.create(request).usage
    breakdown = usage["cache_creation"]
    assert usage["cache_creation_input_tokens"] == (
        breakdown["ephemeral_5m_input_tokens"] + breakdown["ephemeral_1h_input_tokens"]
    )
    assert total(usage) == sim.count_tokens(request)


def tool(name: str, size: int = 300, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": words(size, name),
        "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}},
        **extra,
    }


def test_tool_definitions_are_cached_as_one_prefix_by_a_mark_on_the_last_tool(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    tools = [
        tool("get_weather"),
        tool("get_news"),
        tool("get_stock"),
        tool("get_time", cache_control=EPH),
    ]
    request = {"model": MODEL, "tools": tools, "messages": [{"role": "user", "content": "hi"}]}
    first = sim.create(request).usage
    assert first["cache_creation_input_tokens"] == sum(count_tool(t) for t in tools)
    clock.advance(1)
    second = sim.create(request).usage
    assert (second["cache_read_input_tokens"], second["cache_creation_input_tokens"]) == (
        first["cache_creation_input_tokens"],
        0,
    )


def conversation(turns: int) -> dict[str, Any]:
    """A chat whose last user turn carries the breakpoint, as in the multi-turn example."""
    messages: list[dict[str, Any]] = []
    for t in range(turns):
        messages.append({"role": "user", "content": [text(words(200, f"q{t}"))]})
        if t < turns - 1:
            messages.append({"role": "assistant", "content": [text(words(200, f"a{t}"))]})
    messages[-1]["content"][-1]["cache_control"] = EPH
    return {
        "model": MODEL,
        "system": [text(words(1_200, "sys"), cache_control=EPH)],
        "messages": messages,
    }


def test_multi_turn_reads_grow_turn_by_turn(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    reads = []
    for turns in range(1, 5):
        usage = sim.create(conversation(turns)).usage
        reads.append(usage["cache_read_input_tokens"])
        if turns > 1:
            assert usage["cache_creation_input_tokens"] > 0  # the new assistant + user turns
        clock.advance(30)
    assert reads[0] == 0
    assert reads == sorted(reads) and len(set(reads)) == 4


def many_blocks(n: int, mark_at: int) -> dict[str, Any]:
    blocks = [text(words(60, f"b{i}")) for i in range(n)]
    blocks[mark_at] = {**blocks[mark_at], "cache_control": EPH}
    return {"model": MODEL, "messages": [{"role": "user", "content": blocks}]}


def test_lookback_finds_an_entry_19_blocks_before_the_breakpoint(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    sim.create(many_blocks(60, mark_at=20))
    clock.advance(1)
    result = sim.create(many_blocks(60, mark_at=39))  # positions 20..39 are 20 blocks
    assert result.hit == 20
    assert result.usage["cache_read_input_tokens"] == result.positions[20].end


def test_lookback_misses_an_entry_20_blocks_before_the_breakpoint(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    sim.create(many_blocks(60, mark_at=20))
    clock.advance(1)
    result = sim.create(many_blocks(60, mark_at=40))
    assert result.hit is None
    assert result.usage["cache_read_input_tokens"] == 0


@pytest.mark.parametrize(
    ("model", "cached"), [("claude-sonnet-4-5", True), ("claude-haiku-4-5", False)]
)
def test_a_prefix_below_the_model_minimum_is_not_cached_and_not_an_error(
    sim: AnthropicCacheSimulator, model: str, cached: bool
) -> None:
    request = {
        "model": model,
        "system": [text(words(1_500), cache_control=EPH)],
        "messages": [{"role": "user", "content": "hi"}],
    }
    usage = sim.create(request).usage
    assert (usage["cache_creation_input_tokens"] > 0) is cached
    if not cached:
        assert usage["cache_read_input_tokens"] == 0
        assert usage["input_tokens"] == sim.count_tokens(request)


def test_a_5m_entry_expires_after_five_minutes(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    sim.create(legal_request("a"))
    clock.advance(301)
    usage = sim.create(legal_request("b")).usage
    assert usage["cache_read_input_tokens"] == 0
    assert usage["cache_creation_input_tokens"] > 0


def test_a_hit_refreshes_the_ttl(sim: AnthropicCacheSimulator, clock: ManualClock) -> None:
    sim.create(legal_request("a"))
    clock.advance(200)
    assert sim.create(legal_request("b")).usage["cache_read_input_tokens"] > 0
    clock.advance(250)  # 450 s after the write, 250 s after the refreshing hit
    assert sim.create(legal_request("c")).usage["cache_read_input_tokens"] > 0


def test_a_1h_entry_outlives_five_minutes(sim: AnthropicCacheSimulator, clock: ManualClock) -> None:
    request = legal_request("a")
    request["system"][-1]["cache_control"] = EPH_1H
    first = sim.create(request).usage
    assert (
        first["cache_creation"]["ephemeral_1h_input_tokens"] == first["cache_creation_input_tokens"]
    )
    clock.advance(3_000)
    assert (
        sim.create(request).usage["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    )


def test_concurrent_requests_each_pay_for_the_write(sim: AnthropicCacheSimulator) -> None:
    first = sim.create(legal_request("a"), now=10.0).usage
    second = sim.create(legal_request("b"), now=10.0).usage
    assert second["cache_read_input_tokens"] == 0
    assert second["cache_creation_input_tokens"] == first["cache_creation_input_tokens"]


def test_an_entry_is_readable_once_the_writing_response_has_started(
    sim: AnthropicCacheSimulator,
) -> None:
    sim.create(legal_request("a"), now=10.0)
    assert (
        sim.create(legal_request("b"), now=10.0 + sim.response_start_delay).usage[
            "cache_read_input_tokens"
        ]
        > 0
    )


def test_mark_started_makes_entries_readable_before_the_delay(sim: AnthropicCacheSimulator) -> None:
    result = sim.create(legal_request("a"), now=10.0)
    sim.mark_started(result.message_id, now=10.0)
    assert sim.create(legal_request("b"), now=10.0).usage["cache_read_input_tokens"] > 0


def mixed_ttl_request(last_question: str) -> dict[str, Any]:
    return {
        "model": MODEL,
        "tools": [tool("search", 1_100, cache_control=EPH_1H)],
        "system": [text(words(1_200, "sys"), cache_control=EPH_1H)],
        "messages": [
            {"role": "user", "content": [text(words(400, "ctx"), cache_control=EPH)]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [text(last_question, cache_control=EPH)]},
        ],
    }


def test_mixed_ttls_bill_read_a_1h_write_b_minus_a_and_5m_write_c_minus_b(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    # Warm only the tools (A); then B is the system 1h mark and C the last mark.
    sim.create(
        {
            "model": MODEL,
            "tools": [tool("search", 1_100, cache_control=EPH_1H)],
            "system": [text(words(1_200, "sys"))],
            "messages": [{"role": "user", "content": "x"}],
        }
    )
    clock.advance(1)
    result = sim.create(mixed_ttl_request(words(50, "q")))
    p = result.positions
    a, b, c = p[0].end, p[1].end, p[-1].end
    usage = result.usage
    assert usage["cache_read_input_tokens"] == a
    assert usage["cache_creation"]["ephemeral_1h_input_tokens"] == b - a
    assert usage["cache_creation"]["ephemeral_5m_input_tokens"] == c - b
    assert usage["input_tokens"] == 0


def test_changing_a_tool_definition_invalidates_every_level(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    sim.create(mixed_ttl_request("q"))
    clock.advance(1)
    changed = mixed_ttl_request("q")
    changed["tools"][0]["description"] += " (v2)"
    result = sim.create(changed)
    assert result.hit is None
    assert result.usage["cache_read_input_tokens"] == 0


@pytest.mark.parametrize(
    "change",
    [
        {"tool_choice": {"type": "any"}},
        {"thinking": {"type": "enabled", "budget_tokens": 2_048}},
    ],
    ids=["tool_choice", "thinking"],
)
def test_tool_choice_and_thinking_changes_invalidate_only_the_messages_level(
    sim: AnthropicCacheSimulator, clock: ManualClock, change: dict[str, Any]
) -> None:
    sim.create(mixed_ttl_request("q"))
    clock.advance(1)
    result = sim.create({**mixed_ttl_request("q"), **change})
    assert result.hit == 1  # the system breakpoint still hits
    assert result.usage["cache_read_input_tokens"] == result.positions[1].end


def test_adding_an_image_invalidates_only_the_messages_level(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    sim.create(mixed_ttl_request("q"))
    clock.advance(1)
    request = mixed_ttl_request("q")
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    request["messages"][2]["content"].insert(0, image)
    result = sim.create(request)
    assert result.hit == 1


def test_thinking_blocks_of_a_prior_assistant_turn_are_cached_with_it(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    thinking = {"type": "thinking", "thinking": words(300, "think"), "signature": "sig"}
    request = {
        "model": MODEL,
        "thinking": {"type": "enabled", "budget_tokens": 1_024},
        "system": [text(words(1_200, "sys"))],
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": [thinking, {"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": "42",
                        "cache_control": EPH,
                    }
                ],
            },
        ],
    }
    first = sim.create(request).usage
    clock.advance(1)
    second = sim.create(request).usage
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_read_input_tokens"] >= count_block(thinking)


def test_request_level_cache_control_marks_the_last_cacheable_block(
    sim: AnthropicCacheSimulator,
) -> None:
    request = {
        "model": MODEL,
        "cache_control": EPH,
        "system": words(1_200),
        "messages": [{"role": "user", "content": "hi"}],
    }
    result = sim.create(request)
    assert result.positions[-1].ttl == "5m"
    assert result.usage["cache_creation_input_tokens"] == sim.count_tokens(request)
    assert result.usage["input_tokens"] == 0


def test_request_level_cache_control_with_the_same_ttl_as_the_last_block_is_a_no_op(
    sim: AnthropicCacheSimulator,
) -> None:
    request = {**legal_request("q"), "cache_control": EPH}
    request["messages"] = [{"role": "user", "content": [text("q", cache_control=EPH)]}]
    assert [p.ttl for p in sim.positions(request)] == [None, "5m", "5m"]


def error_of(sim: AnthropicCacheSimulator, request: dict[str, Any]) -> SimulatedAPIError:
    with pytest.raises(SimulatedAPIError) as info:
        sim.create(request)
    assert info.value.status_code == 400
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == "invalid_request_error"
    return info.value


def test_more_than_four_breakpoints_is_a_400(sim: AnthropicCacheSimulator) -> None:
    blocks = [text(f"block {i}", cache_control=EPH) for i in range(5)]
    error = error_of(sim, {"model": MODEL, "messages": [{"role": "user", "content": blocks}]})
    assert error.rule == "max-breakpoints"
    assert "A maximum of 4 blocks with cache_control may be provided. Found 5." in error.message


def test_request_level_cache_control_counts_toward_the_four(sim: AnthropicCacheSimulator) -> None:
    blocks = [text(f"block {i}", cache_control=EPH) for i in range(4)] + [text("tail")]
    request = {
        "model": MODEL,
        "cache_control": EPH,
        "messages": [{"role": "user", "content": blocks}],
    }
    assert error_of(sim, request).rule == "max-breakpoints"


def test_request_level_cache_control_with_a_different_ttl_than_the_last_block_is_a_400(
    sim: AnthropicCacheSimulator,
) -> None:
    request = {
        "model": MODEL,
        "cache_control": EPH_1H,
        "messages": [{"role": "user", "content": [text("q", cache_control=EPH)]}],
    }
    assert error_of(sim, request).rule == "automatic-ttl-conflict"


def test_a_1h_mark_after_a_5m_mark_is_a_400(sim: AnthropicCacheSimulator) -> None:
    request = {
        "model": MODEL,
        "system": [text("a", cache_control=EPH), text("b", cache_control=EPH_1H)],
        "messages": [{"role": "user", "content": "q"}],
    }
    error = error_of(sim, request)
    assert error.rule == "ttl-order"
    assert error.path == "system[1]"


@pytest.mark.parametrize(
    "block",
    [
        {"type": "thinking", "thinking": "hmm", "signature": "s", "cache_control": EPH},
        {"type": "redacted_thinking", "data": "xyz", "cache_control": EPH},
        {"type": "text", "text": "", "cache_control": EPH},
    ],
    ids=["thinking", "redacted_thinking", "empty_text"],
)
def test_a_mark_on_a_block_that_cannot_be_cached_is_a_400(
    sim: AnthropicCacheSimulator, block: dict[str, Any]
) -> None:
    request = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [block]}],
    }
    error = error_of(sim, request)
    assert error.rule == "uncacheable-block"
    assert error.path == "messages[1].content[0]"
    assert isinstance(error, RuleViolation)


def test_diagnostics_report_no_divergence_for_an_appended_turn(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    first = sim.create({**conversation(1), "diagnostics": {"previous_message_id": None}})
    clock.advance(1)
    follow = {**conversation(2), "diagnostics": {"previous_message_id": first.message_id}}
    assert sim.create(follow).diagnostics is None


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"model": "claude-opus-4-1"}, "model_changed"),
        ({"system": "another system prompt"}, "system_changed"),
        ({"tools": [tool("new")]}, "tools_changed"),
        ({"messages": [{"role": "user", "content": "different"}]}, "messages_changed"),
    ],
)
def test_diagnostics_name_what_changed(
    sim: AnthropicCacheSimulator, edit: dict[str, Any], reason: str
) -> None:
    first = sim.create(conversation(2))
    result = sim.create(
        {**conversation(2), **edit, "diagnostics": {"previous_message_id": first.message_id}}
    )
    assert result.diagnostics is not None
    assert result.diagnostics["cache_miss_reason"]["type"] == reason
    assert result.diagnostics["cache_miss_reason"]["cache_missed_input_tokens"] >= 0


def test_diagnostics_for_an_unknown_previous_message(sim: AnthropicCacheSimulator) -> None:
    result = sim.create({**conversation(1), "diagnostics": {"previous_message_id": "msg_nope"}})
    assert result.diagnostics == {"cache_miss_reason": {"type": "previous_message_not_found"}}
