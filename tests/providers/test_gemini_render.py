"""Gemini rendering: generate_content with and without a cache, and the OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from google import genai
from google.genai import types

from promptcache import DroppedContentWarning, Reuse, parse_usage
from promptcache.clock import ManualClock
from promptcache.providers.gemini.cache import GeminiCacheManager
from promptcache.providers.gemini.render import (
    CachedPrefix,
    decide,
    render_gemini,
    render_gemini_openai_compatible,
    split,
)
from promptcache.testing import GeminiServer

from .._shared_prompt import CALC, WEATHER, shared_prompt

#: The shared prompt carries a thinking block, which OpenAI and Gemini cannot take: the renderers
#: warn about it, as tests/providers/test_dropped_warning.py checks; here it is beside the point.
DROPS_THINKING = pytest.mark.filterwarnings("ignore::promptcache.errors.DroppedContentWarning")

MODEL = "gemini-2.5-flash"
_TOP = ("system_instruction", "tools", "tool_config", "cached_content")


@pytest.fixture
def server() -> Iterator[GeminiServer]:
    with GeminiServer(clock=ManualClock(1_000_000)) as s:
        yield s


@pytest.fixture
def client(server: GeminiServer) -> genai.Client:
    return genai.Client(api_key="t", http_options=types.HttpOptions(base_url=server.url,
                                                                     api_version="v1beta"))


def _snake(value: Any) -> Any:
    """Keys in snake_case: the SDK sends camelCase, the renderer speaks the SDK's snake_case."""
    if isinstance(value, dict):
        return {re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower(): _snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


def expected_wire(kwargs: Any) -> Any:
    """What google-genai puts on the wire for ``generate_content(**kwargs)``, in snake_case."""
    config = dict(kwargs.get("config") or {})
    body = {"contents": kwargs["contents"], **{k: config.pop(k) for k in _TOP if k in config}}
    if config:
        body["generation_config"] = config
    return json.loads(json.dumps(body))


@DROPS_THINKING
def test_generate_content_request_reaches_the_server_as_rendered(server: GeminiServer,
                                                                 client: genai.Client) -> None:
    rendered = render_gemini(shared_prompt(), model=MODEL)
    client.models.generate_content(**rendered.kwargs)
    assert _snake(server.requests[-1].json()) == expected_wire(rendered.kwargs)


@DROPS_THINKING
def test_stable_content_comes_first_for_implicit_caching(server: GeminiServer,
                                                         client: genai.Client) -> None:
    rendered = render_gemini(shared_prompt(), model=MODEL)
    config = rendered.kwargs["config"]
    assert "travel assistant" in config["system_instruction"]["parts"][0]["text"]
    assert rendered.kwargs["contents"][-1] == {"role": "user", "parts": [{"text": "And tomorrow?"}]}
    client.models.generate_content(**rendered.kwargs)
    usage = parse_usage(client.models.generate_content(**rendered.kwargs))
    assert usage.cache_read_tokens > 0
    assert rendered.plan.mode == "implicit"


@DROPS_THINKING
def test_tools_become_sorted_function_declarations() -> None:
    a = render_gemini(shared_prompt(tools=(WEATHER, CALC)), model=MODEL).kwargs
    b = render_gemini(shared_prompt(tools=(CALC, WEATHER)), model=MODEL).kwargs
    assert a == b
    decls = a["config"]["tools"][0]["function_declarations"]
    assert [d["name"] for d in decls] == ["calculator", "weather"]
    assert list(decls[1]["parameters_json_schema"]["properties"]) == ["city", "unit"]


@DROPS_THINKING
def test_anthropic_blocks_translate_to_gemini_parts() -> None:
    rendered = render_gemini(shared_prompt(), model=MODEL)
    contents = rendered.kwargs["contents"]
    model_turn = contents[1]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][1] == {"function_call": {"id": "toolu_1", "name": "weather",
                                                        "args": {"city": "Paris", "unit": "c"}}}
    assert contents[2]["parts"][0]["function_response"] == {
        "id": "toolu_1", "name": "weather", "response": {"output": "18C, clear"}}
    assert any("thinking" in d for d in rendered.plan.dropped)
    assert rendered.kwargs["config"]["max_output_tokens"] == 256


@DROPS_THINKING
def test_a_request_using_a_cache_carries_no_system_tools_or_tool_config(
        server: GeminiServer, client: genai.Client) -> None:
    prompt = shared_prompt()
    cut = split(prompt, model=MODEL)
    created = client.caches.create(model=MODEL, config={**cut.cached, "ttl": "600s"})
    cache = CachedPrefix(name=str(created.name), model=MODEL, display_name="", expires=0.0,
                         tokens=0)
    rendered = render_gemini(prompt, model=MODEL, cache=cache)
    config = rendered.kwargs["config"]
    assert config["cached_content"] == created.name
    assert not {"system_instruction", "tools", "tool_config"} & set(config)
    response = client.models.generate_content(**rendered.kwargs)  # the fake 400s on a conflict
    assert _snake(server.requests[-1].json()) == expected_wire(rendered.kwargs)
    assert parse_usage(response).cache_read_tokens == created.usage_metadata.total_token_count


def test_cache_turns_put_leading_contents_in_the_cache() -> None:
    prompt = shared_prompt()
    cut = split(prompt, model=MODEL, cache_turns=2)
    assert len(cut.cached["contents"]) == 2 and len(cut.contents) == 3
    assert cut.tokens > split(prompt, model=MODEL).tokens


def test_break_even_decides_explicit_for_heavy_reuse_and_implicit_for_light() -> None:
    heavy = decide(shared_prompt(reuse=Reuse(uses=1_000, interval=30)), model=MODEL)
    assert heavy.explicit and heavy.savings_usd is not None and heavy.storage_usd is not None
    assert heavy.savings_usd > heavy.storage_usd
    # One use an hour: an hour of storage costs more than one discounted read saves.
    light = decide(shared_prompt(reuse=Reuse(uses=2, interval=3_600)), model=MODEL, ttl=3_600)
    assert not light.explicit and light.savings_usd is not None and light.storage_usd is not None
    assert light.savings_usd < light.storage_usd
    assert "does not pay" in light.reason


def test_a_prefix_below_the_minimum_never_gets_an_explicit_cache() -> None:
    small = decide(shared_prompt(system_tokens=300, doc_tokens=300), model=MODEL, force=True)
    assert not small.explicit and "minimum" in small.reason


@DROPS_THINKING
def test_openai_compatible_endpoint_names_the_cache_in_extra_body(server: GeminiServer,
                                                                  client: genai.Client) -> None:
    prompt = shared_prompt(reuse=Reuse(uses=1_000, interval=30))
    with GeminiCacheManager(client, clock=server.clock) as manager:
        native = manager.prepare(prompt, model=MODEL)
        name = native.plan.settings["cached_content"]
        cache = manager.known[native.plan.settings["display_name"]]
        rendered = render_gemini_openai_compatible(prompt, model=MODEL, cache=cache)
        assert rendered.kwargs["extra_body"] == {"extra_body": {"google": {"cached_content": name}}}
        assert "tools" not in rendered.kwargs
        assert all(m["role"] != "system" for m in rendered.kwargs["messages"])
        oa = openai.OpenAI(base_url=server.url + "/v1beta/openai", api_key="t", max_retries=0)
        response = oa.chat.completions.create(**rendered.kwargs)
        body = server.requests[-1].json()
        assert body["extra_body"] == {"google": {"cached_content": name}}
        assert body == json.loads(json.dumps({k: v for k, v in rendered.kwargs.items()
                                              if k != "extra_body"} | {"extra_body": {
                                                  "google": {"cached_content": name}}}))
        assert response.usage is not None and response.usage.prompt_tokens_details is not None
        assert response.usage.prompt_tokens_details.cached_tokens == cache.tokens


@DROPS_THINKING
def test_plan_explains_cache_and_cost(server: GeminiServer, client: genai.Client) -> None:
    prompt = shared_prompt(reuse=Reuse(uses=1_000, interval=30))
    with GeminiCacheManager(client, clock=server.clock) as manager:
        text = manager.prepare(prompt, model=MODEL).plan.explain()
    assert "explicit caching" in text and "cached_content = cachedContents/" in text
    assert "storage $" in text and "saved" in text


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


def test_malformed_tool_parts_are_prompt_errors_naming_the_path() -> None:
    from promptcache import PromptError

    with pytest.raises(PromptError) as e:
        render_gemini(_tool_prompt({"type": "tool"}), model=MODEL)
    assert e.value.path == "tool_choice.name"
    with pytest.raises(PromptError) as e:
        render_gemini(_tool_prompt(result={"type": "tool_result", "content": "x"}), model=MODEL)
    assert e.value.path == "messages[2].content[0].tool_use_id"


def test_an_image_in_a_tool_result_reaches_the_server_in_the_function_response(
        server: GeminiServer, client: genai.Client) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": "iVBORw0KGgo="}}
    prompt = _tool_prompt(result={"type": "tool_result", "tool_use_id": "call_1",
                                  "content": [{"type": "text", "text": "see"}, image,
                                              {"type": "search_result", "title": "t"}]})
    rendered = render_gemini(prompt, model=MODEL)
    client.models.generate_content(**rendered.kwargs)
    sent = _snake(server.requests[-1].json())["contents"][-1]["parts"][0]["function_response"]
    # A search result has no Gemini form: its title and source become text beside the output.
    assert sent["response"] == {"output": "see\nTitle: t"}
    assert sent["parts"] == [{"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}}]
    assert rendered.plan.dropped == ()


def test_disable_parallel_tool_use_is_reported_not_silently_lost() -> None:
    with pytest.warns(DroppedContentWarning, match="tool_choice.disable_parallel_tool_use"):
        rendered = render_gemini(_tool_prompt({"type": "any", "disable_parallel_tool_use": True}),
                                 model=MODEL)
    assert rendered.kwargs["config"]["tool_config"] == {"function_calling_config": {"mode": "ANY"}}
    assert any(d.startswith("tool_choice.disable_parallel_tool_use") for d in rendered.plan.dropped)


def test_the_openai_compatible_endpoint_maps_or_reports_every_parameter() -> None:
    prompt = _tool_prompt({"type": "auto"})
    with pytest.warns(DroppedContentWarning, match="tool_choice: not sent"):
        rendered = render_gemini_openai_compatible(prompt, model=MODEL)
    assert rendered.kwargs["max_tokens"] == 16
    assert any(d.startswith("tool_choice:") for d in rendered.plan.dropped)


def test_headers_and_timeout_become_http_options(server: GeminiServer,
                                                 client: genai.Client) -> None:
    from promptcache import prompt_from_request

    prompt = prompt_from_request({
        "model": "claude-sonnet-4-6", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}],
        "extra_headers": {"x-team": "search"}, "timeout": 30})
    rendered = render_gemini(prompt, model=MODEL)
    assert rendered.kwargs["config"]["http_options"] == {"headers": {"x-team": "search"},
                                                        "timeout": 30_000}
    client.models.generate_content(**rendered.kwargs)
    assert server.requests[-1].headers["x-team"] == "search"


def _fan_out(calls: int) -> Any:
    from promptcache import PromptBuilder

    tool = {"name": "get_weather", "description": "Weather for a city.", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Look up the weather in these cities and summarise. " * 20},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": f"call_{i}", "name": "get_weather",
             "input": {"city": f"City {i}", "unit": "celsius"}} for i in range(calls)]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"call_{i}", "content": f"{10 + i} C, cloudy"}
            for i in range(calls)]}]
    return (PromptBuilder(model=MODEL).add_system("You are a weather bot. " * 50).add_tools([tool])
            .add_messages(messages).set_params(max_tokens=64).build())


@pytest.mark.parametrize("calls", [1, 15, 40])
def test_the_estimate_of_a_function_call_turn_is_within_a_few_percent_of_the_bill(
        server: GeminiServer, client: genai.Client, calls: int) -> None:
    """Function calls and responses are billed with their framing, each turn with its role."""
    rendered = render_gemini(_fan_out(calls), model=MODEL)
    billed = client.models.generate_content(**rendered.kwargs).usage_metadata.prompt_token_count
    assert billed is not None
    assert rendered.plan.total_tokens == pytest.approx(billed, rel=0.03)
