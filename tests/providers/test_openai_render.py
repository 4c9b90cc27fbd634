"""OpenAI rendering: one Prompt for chat completions and responses, sent through the real client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from promptcache import DroppedContentWarning, RuleViolation
from promptcache.clock import ManualClock
from promptcache.limits import limits_for
from promptcache.openai import parse_usage, render_openai_chat, render_openai_responses
from promptcache.testing import OpenAIServer

from .._shared_prompt import CALC, WEATHER, shared_prompt

#: The shared prompt carries a thinking block, which OpenAI and Gemini cannot take: the renderers
#: warn about it, as tests/providers/test_dropped_warning.py checks; here it is beside the point.
DROPS_THINKING = pytest.mark.filterwarnings("ignore::promptcache.errors.DroppedContentWarning")


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(clock=ManualClock()) as s:
        yield s


@pytest.fixture
def client(server: OpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0)


def _wire(kwargs: Any) -> Any:
    return json.loads(json.dumps(kwargs))


@DROPS_THINKING
def test_chat_request_reaches_the_server_exactly_as_rendered(server: OpenAIServer,
                                                             client: openai.OpenAI) -> None:
    rendered = render_openai_chat(shared_prompt(), model="gpt-5.6")
    client.chat.completions.create(**rendered.kwargs)
    assert server.requests[-1].path == "/v1/chat/completions"
    assert server.requests[-1].json() == _wire(rendered.kwargs)


@DROPS_THINKING
def test_responses_request_reaches_the_server_exactly_as_rendered(server: OpenAIServer,
                                                                  client: openai.OpenAI) -> None:
    rendered = render_openai_responses(shared_prompt(), model="gpt-5.6")
    client.responses.create(**rendered.kwargs)
    assert server.requests[-1].path == "/v1/responses"
    assert server.requests[-1].json() == _wire(rendered.kwargs)


@DROPS_THINKING
def test_explicit_breakpoints_write_then_read_through_the_chat_api(client: openai.OpenAI) -> None:
    rendered = render_openai_chat(shared_prompt(), model="gpt-5.6")
    assert rendered.plan.mode == "explicit" and rendered.plan.breakpoints
    assert rendered.kwargs["prompt_cache_options"] == {"mode": "explicit", "ttl": "30m"}
    first = parse_usage(client.chat.completions.create(**rendered.kwargs))
    second = parse_usage(client.chat.completions.create(**rendered.kwargs))
    assert first.cache_write_tokens > 0 and first.cache_read_tokens == 0
    assert second.cache_read_tokens >= rendered.plan.cached_prefix_tokens * 0.8
    assert second.cache_write_tokens == 0


@DROPS_THINKING
def test_responses_usage_reports_writes_by_ttl_and_reads(client: openai.OpenAI) -> None:
    rendered = render_openai_responses(shared_prompt(), model="gpt-5.6")
    first = parse_usage(client.responses.create(**rendered.kwargs))
    second = parse_usage(client.responses.create(**rendered.kwargs))
    assert first.cache_writes and set(first.cache_writes) <= {"30m", "12h"}
    assert second.cache_read_tokens > 0


@DROPS_THINKING
def test_breakpoints_sit_on_content_parts_never_on_tools(client: openai.OpenAI) -> None:
    rendered = render_openai_chat(shared_prompt(), model="gpt-5.6")
    assert all("prompt_cache_breakpoint" not in json.dumps(t) for t in rendered.kwargs["tools"])
    marked = [part for m in rendered.kwargs["messages"] if isinstance(m.get("content"), list)
              for part in m["content"] if "prompt_cache_breakpoint" in part]
    assert len(marked) == len(rendered.plan.breakpoints) <= 4
    assert all(p["prompt_cache_breakpoint"] == {"mode": "explicit", "ttl": "30m"} for p in marked)


@DROPS_THINKING
def test_the_optimizer_places_openai_breakpoints_with_openai_limits() -> None:
    rendered = render_openai_responses(shared_prompt(), model="gpt-5.6")
    plan = rendered.plan.base
    assert plan is not None and plan.limits.max_breakpoints == 4 and plan.limits.lookback_blocks == 0
    assert {p.ttl for p in plan.placements} <= {"30m", "12h"}
    assert any(r.rule == "no-markable-block" and r.layer == "tools" for r in plan.rejected)


@DROPS_THINKING
def test_implicit_models_get_a_retention_and_no_explicit_options(client: openai.OpenAI,
                                                                server: OpenAIServer) -> None:
    rendered = render_openai_chat(shared_prompt(), model="gpt-4o")
    assert "prompt_cache_options" not in rendered.kwargs
    assert rendered.kwargs["prompt_cache_retention"] == "in_memory"
    assert "prompt_cache_breakpoint" not in json.dumps(rendered.kwargs)
    client.chat.completions.create(**rendered.kwargs)
    usage = parse_usage(client.chat.completions.create(**rendered.kwargs))
    assert usage.cache_read_tokens > 0 and usage.cache_read_tokens % 128 == 0
    assert rendered.plan.mode == "implicit" and rendered.plan.expected_usd is not None


@DROPS_THINKING
def test_sparse_reuse_chooses_24h_retention() -> None:
    from promptcache import Reuse

    prompt = shared_prompt(reuse=Reuse(uses=50, interval=3_600))
    assert render_openai_chat(prompt, model="gpt-4o").kwargs["prompt_cache_retention"] == "24h"


@DROPS_THINKING
def test_gpt_5_5_accepts_only_24h_retention() -> None:
    assert render_openai_chat(shared_prompt(), model="gpt-5.5").kwargs["prompt_cache_retention"] == "24h"
    with pytest.raises(RuleViolation) as e:
        render_openai_chat(shared_prompt(), model="gpt-5.5", retention="in_memory")
    assert e.value.rule == "retention-24h-only" and e.value.path == "prompt_cache_retention"


@DROPS_THINKING
def test_later_generations_get_explicit_caching() -> None:
    assert limits_for("gpt-5.7", provider="openai").explicit_breakpoints
    assert "prompt_cache_options" in render_openai_chat(shared_prompt(), model="gpt-5.7").kwargs


@DROPS_THINKING
def test_explicit_false_keeps_automatic_caching_on_gpt_5_6() -> None:
    rendered = render_openai_responses(shared_prompt(), model="gpt-5.6", explicit=False)
    assert "prompt_cache_breakpoint" not in json.dumps(rendered.kwargs)
    assert rendered.plan.mode == "implicit"


def test_explicit_true_on_an_implicit_model_is_an_error() -> None:
    with pytest.raises(RuleViolation) as e:
        render_openai_chat(shared_prompt(), model="gpt-4o", explicit=True)
    assert e.value.rule == "explicit-caching-unsupported"


@DROPS_THINKING
def test_prewarm_is_a_responses_option(client: openai.OpenAI) -> None:
    rendered = render_openai_responses(shared_prompt(), model="gpt-5.6", prewarm=True)
    assert rendered.kwargs["prompt_cache_options"]["prewarm"] is True
    client.responses.create(**rendered.kwargs)
    with pytest.raises(RuleViolation) as e:
        render_openai_responses(shared_prompt(), model="gpt-4o", prewarm=True)
    assert e.value.rule == "prewarm-unsupported"


@DROPS_THINKING
def test_tool_order_and_schema_key_order_do_not_change_the_request() -> None:
    shuffled = {**WEATHER, "input_schema": dict(reversed(list(WEATHER["input_schema"].items())))}
    a = render_openai_chat(shared_prompt(tools=(WEATHER, CALC)), model="gpt-5.6").kwargs
    b = render_openai_chat(shared_prompt(tools=(CALC, shuffled)), model="gpt-5.6").kwargs
    assert json.dumps(a) == json.dumps(b)
    assert [t["function"]["name"] for t in a["tools"]] == ["calculator", "weather"]


@DROPS_THINKING
def test_prompt_cache_key_is_the_shared_prefix_fingerprint_or_the_callers() -> None:
    one = render_openai_chat(shared_prompt(question="one?"), model="gpt-4o").kwargs["prompt_cache_key"]
    two = render_openai_chat(shared_prompt(question="two?"), model="gpt-4o").kwargs["prompt_cache_key"]
    other = render_openai_chat(shared_prompt(system_tokens=1_900), model="gpt-4o").kwargs["prompt_cache_key"]
    assert one == two != other
    given = render_openai_chat(shared_prompt(), model="gpt-4o", prompt_cache_key="tenant-7").kwargs
    assert given["prompt_cache_key"] == "tenant-7"


def test_anthropic_blocks_are_translated_and_thinking_is_reported() -> None:
    with pytest.warns(DroppedContentWarning, match=r"messages\[1\]\.content\[0\]: thinking"):
        chat = render_openai_chat(shared_prompt(), model="gpt-5.6")
    messages = chat.kwargs["messages"]
    call = next(m for m in messages if m.get("tool_calls"))
    assert call["tool_calls"][0]["function"] == {"name": "weather",
                                                 "arguments": '{"city":"Paris","unit":"c"}'}
    tool_msg = next(m for m in messages if m["role"] == "tool")
    assert tool_msg["tool_call_id"] == "toolu_1" and tool_msg["content"][0]["text"] == "18C, clear"
    assert any("thinking" in d for d in chat.plan.dropped)
    with pytest.warns(DroppedContentWarning, match="thinking block dropped"):
        items = render_openai_responses(shared_prompt(), model="gpt-5.6").kwargs["input"]
    assert any(i.get("type") == "function_call" and i["call_id"] == "toolu_1" for i in items)
    assert any(i.get("type") == "function_call_output" for i in items)


@DROPS_THINKING
def test_stable_layers_precede_the_conversation() -> None:
    messages = render_openai_chat(shared_prompt(), model="gpt-5.6").kwargs["messages"]
    assert messages[0]["role"] == "developer"
    assert "travel assistant" in messages[0]["content"][0]["text"]
    assert "<document" in messages[0]["content"][1]["text"]
    assert messages[-1] == {"role": "user", "content": [
        {"type": "text", "text": "And tomorrow?"}]} or messages[-1]["content"][0]["text"] == "And tomorrow?"


def test_parameters_are_mapped_and_the_rest_reported() -> None:
    from promptcache.providers.openai.render import render_openai_chat as rc

    from .._shared_prompt import shared_builder

    prompt = shared_builder().set_params(thinking={"type": "enabled", "budget_tokens": 1024},
                                         tool_choice={"type": "any"}).build()
    with pytest.warns(DroppedContentWarning, match="thinking: not sent"):
        rendered = rc(prompt, model="gpt-5.6")
    assert rendered.kwargs["max_completion_tokens"] == 256
    assert rendered.kwargs["tool_choice"] == "required"
    assert any(d.startswith("thinking:") for d in rendered.plan.dropped)


@DROPS_THINKING
def test_plan_explains_what_is_cached_and_its_cost() -> None:
    text = render_openai_chat(shared_prompt(), model="gpt-4o").plan.explain()
    assert "prompt_cache_retention" in text and "saved" in text and "$" in text


def _tool_prompt(tool_choice: dict[str, Any] | None = None,
                 result: dict[str, Any] | None = None) -> Any:
    from promptcache import prompt_from_request

    request: dict[str, Any] = {
        "model": "claude-sonnet-4-6", "max_tokens": 16,
        "tools": [{"name": "search", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "find it"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1",
                                               "name": "search", "input": {}}]},
            {"role": "user", "content": [result or {"type": "tool_result",
                                                    "tool_use_id": "call_1", "content": "ok"}]}]}
    if tool_choice is not None:
        request["tool_choice"] = tool_choice
    return prompt_from_request(request)


@pytest.mark.parametrize("render", [render_openai_chat, render_openai_responses])
def test_a_forced_tool_without_a_name_is_a_prompt_error_naming_the_path(render: Any) -> None:
    from promptcache import PromptError

    with pytest.raises(PromptError) as e:
        render(_tool_prompt({"type": "tool"}), model="gpt-4.1")
    assert e.value.path == "tool_choice.name"


@pytest.mark.parametrize("render", [render_openai_chat, render_openai_responses])
def test_a_tool_result_without_tool_use_id_is_a_prompt_error_naming_the_block(render: Any) -> None:
    from promptcache import PromptError

    with pytest.raises(PromptError) as e:
        render(_tool_prompt(result={"type": "tool_result", "content": "ok"}), model="gpt-4.1")
    assert e.value.path == "messages[2].content[0].tool_use_id"


def test_disable_parallel_tool_use_becomes_parallel_tool_calls_false(
        server: OpenAIServer, client: openai.OpenAI) -> None:
    prompt = _tool_prompt({"type": "auto", "disable_parallel_tool_use": True})
    chat = render_openai_chat(prompt, model="gpt-4.1")
    assert chat.kwargs["tool_choice"] == "auto" and chat.kwargs["parallel_tool_calls"] is False
    client.chat.completions.create(**chat.kwargs)
    assert server.requests[-1].json()["parallel_tool_calls"] is False
    responses = render_openai_responses(prompt, model="gpt-4.1")
    assert responses.kwargs["parallel_tool_calls"] is False
    client.responses.create(**responses.kwargs)
    assert server.requests[-1].json()["parallel_tool_calls"] is False
    forced = render_openai_chat(_tool_prompt({"type": "tool", "name": "search",
                                              "disable_parallel_tool_use": True}), model="gpt-4.1")
    assert forced.kwargs["tool_choice"] == {"type": "function", "function": {"name": "search"}}
    assert forced.kwargs["parallel_tool_calls"] is False
    plain = render_openai_chat(_tool_prompt({"type": "any"}), model="gpt-4.1")
    assert "parallel_tool_calls" not in plain.kwargs


def test_a_forced_tool_that_is_not_sent_is_a_prompt_error() -> None:
    from promptcache import PromptError

    with pytest.raises(PromptError) as e:
        render_openai_chat(_tool_prompt({"type": "tool", "name": "other"}), model="gpt-4.1")
    assert e.value.path == "tool_choice.name"


def test_an_image_in_a_tool_result_is_kept_on_responses_and_reported_on_chat() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.invalid/a.png"}}
    prompt = _tool_prompt(result={"type": "tool_result", "tool_use_id": "call_1",
                                  "content": [{"type": "text", "text": "see"}, image]})
    items = render_openai_responses(prompt, model="gpt-4.1").kwargs["input"]
    output = next(i for i in items if i.get("type") == "function_call_output")["output"]
    assert [p["type"] for p in output] == ["input_text", "input_image"]
    with pytest.warns(DroppedContentWarning, match="tool_result sub-blocks image"):
        chat = render_openai_chat(prompt, model="gpt-4.1")
    assert any("image" in d and "messages[2].content[0]" in d for d in chat.plan.dropped)


def test_sdk_options_pass_through_and_extra_body_is_reported(server: OpenAIServer,
                                                             client: openai.OpenAI) -> None:
    from promptcache import prompt_from_request

    prompt = prompt_from_request({
        "model": "claude-sonnet-4-6", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}],
        "extra_headers": {"x-team": "search"}, "timeout": 30, "extra_body": {"top_k": 3}})
    with pytest.warns(DroppedContentWarning, match="extra_body: not sent"):
        rendered = render_openai_chat(prompt, model="gpt-4.1")
    assert rendered.kwargs["extra_headers"] == {"x-team": "search"}
    assert rendered.kwargs["timeout"] == 30
    assert "extra_body" not in rendered.kwargs
    assert any(d.startswith("extra_body:") for d in rendered.plan.dropped)
    client.chat.completions.create(**rendered.kwargs)
    assert server.requests[-1].headers["x-team"] == "search"
