"""Usage parsing from each SDK's objects, raw dicts and streams; cost and ledger arithmetic."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from anthropic.types import Message
from google.genai import types as genai_types
from openai.types import CompletionUsage
from openai.types.responses import ResponseUsage

from promptcache import parse_usage
from promptcache.clock import ManualClock
from promptcache.errors import PromptCacheError
from promptcache.limits import limits_for
from promptcache.providers.anthropic.usage import AnthropicStreamUsage
from promptcache.simulator import GeminiCacheSimulator
from promptcache.testing import AnthropicServer
from promptcache.usage import Ledger, Usage, cost_of

ANTHROPIC_USAGE: dict[str, Any] = {
    "input_tokens": 50,
    "cache_creation_input_tokens": 3_000,
    "cache_read_input_tokens": 10_000,
    "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 2_000},
    "output_tokens": 200,
}


def anthropic_message() -> Message:
    return Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-6",
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": ANTHROPIC_USAGE,
        }
    )


def test_anthropic_message_object_and_its_dict_parse_the_same() -> None:
    from_object = parse_usage(anthropic_message(), provider="anthropic")
    from_dict = parse_usage(anthropic_message().model_dump(), provider="anthropic")
    assert from_object == from_dict
    assert from_object.model == "claude-sonnet-4-6"
    assert (from_object.input_tokens, from_object.cache_read_tokens) == (50, 10_000)
    assert (from_object.cache_write_5m_tokens, from_object.cache_write_1h_tokens) == (1_000, 2_000)
    assert from_object.output_tokens == 200


def test_anthropic_usage_without_a_breakdown_counts_writes_as_5m() -> None:
    usage = parse_usage(
        {"input_tokens": 1, "cache_creation_input_tokens": 700, "output_tokens": 2},
        provider="anthropic",
        model="claude-sonnet-4-6",
    )
    assert usage.cache_writes == {"5m": 700}
    assert usage.cache_read_tokens == 0


def test_anthropic_stream_usage_combines_message_start_and_message_delta() -> None:
    events = [
        {
            "type": "message_start",
            "message": {"model": "claude-sonnet-4-6", "usage": {**ANTHROPIC_USAGE, "output_tokens": 1}},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 200, "input_tokens": None},
        },
        {"type": "message_stop"},
    ]
    assert parse_usage(events, provider="anthropic") == parse_usage(anthropic_message(), provider="anthropic")


def test_anthropic_stream_from_the_real_client_parses() -> None:
    with AnthropicServer(clock=ManualClock()) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
        request: dict[str, Any] = {
            "model": "claude-sonnet-4-6",
            "max_tokens": 10,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "text",
                            "text": " ".join(["w"] * 2_000),
                            "cache_control": {"type": "ephemeral"},
                        }
                    ],
                }
            ],
        }
        acc = AnthropicStreamUsage()
        for event in client.messages.create(**request, stream=True):
            acc.feed(event)
    assert acc.usage.cache_write_5m_tokens > 0
    assert acc.usage.output_tokens > 0
    assert acc.usage.model == "claude-sonnet-4-6"


def test_openai_chat_usage_subtracts_cached_tokens_from_input() -> None:
    usage = CompletionUsage.model_validate(
        {
            "prompt_tokens": 5_000,
            "completion_tokens": 10,
            "total_tokens": 5_010,
            "prompt_tokens_details": {"cached_tokens": 4_096},
        }
    )
    parsed = parse_usage(usage, provider="openai", model="gpt-4o")
    assert (parsed.input_tokens, parsed.cache_read_tokens, parsed.cache_write_tokens) == (904, 4_096, 0)


def test_openai_responses_usage_reads_writes_by_ttl() -> None:
    usage = ResponseUsage.model_validate(
        {
            "input_tokens": 5_000,
            "output_tokens": 10,
            "total_tokens": 5_010,
            "input_tokens_details": {
                "cached_tokens": 1_000,
                "cache_write_tokens": 3_000,
                "cache_write_tokens_details": {"ttl_30m_tokens": 1_000, "ttl_12h_tokens": 2_000},
            },
            "output_tokens_details": {"reasoning_tokens": 0},
        }
    )
    parsed = parse_usage(usage, provider="openai", model="gpt-5.6")
    assert parsed.cache_writes == {"30m": 1_000, "12h": 2_000}
    assert parsed.input_tokens == 1_000


def test_openai_stream_without_usage_is_an_error_that_says_how_to_fix_it() -> None:
    with pytest.raises(PromptCacheError, match="include_usage"):
        parse_usage([{"choices": [{"delta": {}}], "usage": None}], provider="openai")


def test_openai_response_completed_event_parses() -> None:
    event = {
        "type": "response.completed",
        "response": {
            "model": "gpt-4o",
            "usage": {
                "input_tokens": 3_000,
                "output_tokens": 5,
                "input_tokens_details": {"cached_tokens": 2_048, "cache_write_tokens": 0},
            },
        },
    }
    parsed = parse_usage([{"type": "response.created"}, event], provider="openai")
    assert (parsed.model, parsed.cache_read_tokens, parsed.input_tokens) == ("gpt-4o", 2_048, 952)


def test_gemini_sdk_object_and_wire_dict_parse_the_same() -> None:
    wire = {
        "modelVersion": "gemini-2.5-flash",
        "usageMetadata": {
            "promptTokenCount": 5_000,
            "cachedContentTokenCount": 4_000,
            "candidatesTokenCount": 20,
            "totalTokenCount": 5_020,
        },
    }
    sdk = genai_types.GenerateContentResponse._from_response(response=wire, kwargs={})
    assert parse_usage(sdk, provider="gemini") == parse_usage(wire, provider="gemini")
    parsed = parse_usage(wire, provider="gemini")
    assert (parsed.input_tokens, parsed.cache_read_tokens, parsed.output_tokens) == (1_000, 4_000, 20)


def test_cost_of_anthropic_mixed_ttl_call() -> None:
    usage = parse_usage(anthropic_message(), provider="anthropic")
    cost = cost_of(usage)  # sonnet 4.6: $3 in, $15 out
    expected_input = (50 + 10_000 * 0.1 + 1_000 * 1.25 + 2_000 * 2.0) * 3 / 1e6
    assert cost.billed == pytest.approx(expected_input + 200 * 15 / 1e6)
    assert cost.uncached == pytest.approx(13_050 * 3 / 1e6 + 200 * 15 / 1e6)
    assert cost.savings == pytest.approx(cost.uncached - cost.billed)


def test_a_first_write_costs_more_than_no_caching() -> None:
    usage = Usage(provider="anthropic", model="claude-sonnet-4-6", cache_writes={"5m": 10_000})
    assert cost_of(usage).savings < 0


def test_unpriced_model_is_flagged_not_guessed() -> None:
    usage = Usage(provider="anthropic", model="claude-sonnet-5", input_tokens=100)
    cost = cost_of(usage)
    assert not cost.priced and cost.billed == 0.0


def test_gemini_storage_cost_from_simulated_token_hours() -> None:
    clock = ManualClock()
    sim = GeminiCacheSimulator(clock=clock)
    sim.create_cache(
        {
            "model": "models/gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": " ".join(["w"] * 3_000)}]}],
            "ttl": "7200s",
        }
    )
    clock.advance(3 * 3_600)  # expires after two hours: storage stops there
    token_hours = sim.storage_token_hours()
    ledger = Ledger()
    dollars = ledger.add_storage("gemini-2.5-flash", token_hours)
    tokens = sim.list_caches(now=0)["cachedContents"][0]["usageMetadata"]["totalTokenCount"]
    assert token_hours == pytest.approx(tokens * 2)
    assert dollars == pytest.approx(
        tokens * 2 * limits_for("gemini-2.5-flash").storage_price_per_mtok_hour / 1e6
    )  # type: ignore[operator]
    assert ledger.totals().storage == pytest.approx(dollars)


def test_ledger_totals_and_hit_rate() -> None:
    ledger = Ledger()
    model = "claude-sonnet-4-6"
    ledger.add(Usage(provider="anthropic", model=model, input_tokens=10, cache_writes={"5m": 990}))
    ledger.add(Usage(provider="anthropic", model=model, input_tokens=10, cache_read_tokens=990))
    totals = ledger.totals()
    assert totals.calls == 2
    assert totals.cache_writes == {"5m": 990}
    assert totals.hit_rate == pytest.approx(990 / 2_000)
    assert totals.billed == pytest.approx(sum(c.billed for _, c in ledger.calls))
    assert totals.savings > 0


def test_totals_name_uncached_input_and_give_the_total_beside_it() -> None:
    ledger = Ledger()
    model = "claude-sonnet-4-6"
    ledger.add(Usage(provider="anthropic", model=model, input_tokens=10, cache_writes={"5m": 990}))
    ledger.add(Usage(provider="anthropic", model=model, input_tokens=20, cache_read_tokens=990))
    totals = ledger.totals()
    assert totals.uncached_input_tokens == 30
    assert totals.total_input_tokens == 30 + 990 + 990


def test_totals_input_tokens_still_reads_but_warns_that_it_is_uncached_only() -> None:
    ledger = Ledger()
    ledger.add(Usage(provider="anthropic", model="claude-sonnet-4-6", input_tokens=7,
                     cache_read_tokens=100))
    with pytest.warns(DeprecationWarning, match="uncached_input_tokens"):
        assert ledger.totals().input_tokens == 7
