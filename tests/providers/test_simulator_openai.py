"""The OpenAI cache simulator: prefix matching, 128-token rounding, routing, retention, GPT-5.6."""

from __future__ import annotations

from typing import Any

import pytest

from promptcache.clock import ManualClock
from promptcache.simulator import OpenAICacheSimulator, SimulatedAPIError

PREFIX = " ".join(f"w{i}" for i in range(1_500))  # ~3,500 tokens


def chat(question: str = "hi", model: str = "gpt-4o", **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "system", "content": PREFIX}, {"role": "user", "content": question}],
        **extra,
    }


@pytest.fixture
def sim(clock: ManualClock) -> OpenAICacheSimulator:
    return OpenAICacheSimulator(clock=clock)


def test_first_call_caches_nothing_and_a_repeat_reads_a_multiple_of_128(
    sim: OpenAICacheSimulator,
) -> None:
    first = sim.chat(chat())
    second = sim.chat(chat("another question"))
    assert first.cached_tokens == 0
    assert second.cached_tokens > 2_048 and second.cached_tokens % 128 == 0
    assert second.usage["prompt_tokens_details"]["cached_tokens"] == second.cached_tokens
    assert "cache_write_tokens" not in second.usage["prompt_tokens_details"]


def test_a_prompt_below_the_minimum_is_never_cached(sim: OpenAICacheSimulator) -> None:
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "short " * 500}]}
    sim.chat(request)
    assert sim.chat(request).cached_tokens == 0


def test_gpt_5_6_matches_exactly_and_reports_writes(sim: OpenAICacheSimulator) -> None:
    first = sim.responses({"model": "gpt-5.6", "input": PREFIX})
    second = sim.responses({"model": "gpt-5.6", "input": PREFIX})
    assert first.cache_write_tokens == first.prompt_tokens
    assert second.cached_tokens == second.prompt_tokens  # exact, not rounded to 128
    assert second.usage["input_tokens_details"]["cache_write_tokens"] == 0


def test_explicit_breakpoint_ttl_is_reported_by_ttl(sim: OpenAICacheSimulator) -> None:
    part = {
        "type": "input_text",
        "text": PREFIX,
        "prompt_cache_breakpoint": {"mode": "explicit", "ttl": "12h"},
    }
    request = {
        "model": "gpt-5.6",
        "prompt_cache_options": {"mode": "explicit"},
        "input": [{"role": "user", "content": [part]}, {"role": "user", "content": "question"}],
    }
    usage = sim.responses(request).usage
    details = usage["input_tokens_details"]["cache_write_tokens_details"]
    assert details["ttl_12h_tokens"] > 0 and details["ttl_30m_tokens"] == 0
    assert details["ttl_12h_tokens"] < usage["input_tokens"]  # the question is after the mark


def test_explicit_mode_without_breakpoints_caches_nothing(sim: OpenAICacheSimulator) -> None:
    request = {"model": "gpt-5.6", "input": PREFIX, "prompt_cache_options": {"mode": "explicit"}}
    sim.responses(request)
    assert sim.responses(request).cached_tokens == 0


def test_explicit_caching_on_an_older_model_is_a_400(sim: OpenAICacheSimulator) -> None:
    with pytest.raises(SimulatedAPIError) as info:
        sim.chat(chat(prompt_cache_options={"mode": "explicit"}))
    assert info.value.body["error"]["type"] == "invalid_request_error"


def test_same_cache_key_routes_to_the_same_machine(sim: OpenAICacheSimulator) -> None:
    a = sim.chat(
        {"model": "gpt-4o", "prompt_cache_key": "user-1", "messages": [{"role": "user", "content": "one"}]}
    )
    b = sim.chat(
        {
            "model": "gpt-4o",
            "prompt_cache_key": "user-1",
            "messages": [{"role": "user", "content": "two entirely different"}],
        }
    )
    assert a.machine == b.machine


def test_a_different_machine_misses_the_cache(sim: OpenAICacheSimulator) -> None:
    first = sim.chat(chat(prompt_cache_key="k0"))
    key = next(
        f"k{i}"
        for i in range(1, 100)
        if sim.chat(chat("probe", prompt_cache_key=f"k{i}"), now=-1e9).machine != first.machine
    )
    assert sim.chat(chat(prompt_cache_key=key)).cached_tokens == 0


def test_without_a_key_requests_sharing_their_head_share_a_machine(
    sim: OpenAICacheSimulator,
) -> None:
    sim.chat(chat("first"))
    assert sim.chat(chat("second")).cached_tokens > 0


def test_more_than_15_requests_a_minute_on_one_key_overflow(sim: OpenAICacheSimulator) -> None:
    machines = [sim.chat(chat(f"q{i}", prompt_cache_key="hot"), now=float(i)).machine for i in range(16)]
    assert len(set(machines[:15])) == 1
    assert machines[15] != machines[0]


def test_in_memory_retention_evicts_after_idle_time(sim: OpenAICacheSimulator, clock: ManualClock) -> None:
    sim.chat(chat(prompt_cache_retention="in_memory"))
    clock.advance(sim.in_memory_idle + 1)
    assert sim.chat(chat(prompt_cache_retention="in_memory")).cached_tokens == 0


def test_24h_retention_survives_an_idle_hour(sim: OpenAICacheSimulator, clock: ManualClock) -> None:
    sim.chat(chat(prompt_cache_retention="24h"))
    clock.advance(3_600)
    assert sim.chat(chat(prompt_cache_retention="24h")).cached_tokens > 0


def test_gpt_5_5_rejects_in_memory_retention(sim: OpenAICacheSimulator) -> None:
    with pytest.raises(SimulatedAPIError, match="24h"):
        sim.chat(chat(model="gpt-5.5", prompt_cache_retention="in_memory"))


def test_the_simulator_reads_the_shared_cache_view_tool_calls_included(
    sim: OpenAICacheSimulator,
) -> None:
    """Segments come from promptcache.providers.registry.view_of, so an assistant's tool_calls (outside
    ``content``) are part of the prompt the cache sees, as they are for diff and lint."""
    call = {"id": "call_1", "type": "function",
            "function": {"name": "lookup", "arguments": '{"q": "' + "x " * 200 + '"}'}}
    base = {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "look it up"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "found"}]}
    without = {**base, "messages": [base["messages"][0], base["messages"][2]]}
    assert sim.count_prompt_tokens("chat", base) > sim.count_prompt_tokens("chat", without) + 100


def test_a_malformed_request_is_the_api_s_400(sim: OpenAICacheSimulator) -> None:
    with pytest.raises(SimulatedAPIError) as info:
        sim.count_prompt_tokens("chat", {"model": "gpt-4o", "messages": []})
    assert info.value.status_code == 400
