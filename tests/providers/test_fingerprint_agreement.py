"""The optimizer, the simulator and diff fingerprint every request the same way.

All three read :func:`promptcache.providers.registry.view_of` (the optimizer through
``Prompt.fingerprints``), so "why did it miss" and "what did the simulator read" can never
disagree about whether two requests share a prefix. The corpus covers every content block type the
Messages API accepts, and the settings that invalidate a level.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from promptcache.anthropic import prompt_from_request, render_anthropic
from promptcache.optimizer import optimize
from promptcache.providers.registry import view_of
from promptcache.simulator import AnthropicCacheSimulator

MODEL = "claude-sonnet-4-5"
PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
LONG = "The quarterly report covers revenue, churn and hiring plans in detail. " * 60


def _request(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "system": [{"type": "text", "text": LONG}],
            "messages": messages, **extra}


WEATHER_TOOL = {"name": "get_weather", "description": "Current weather for a city.",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}

CORPUS: dict[str, dict[str, Any]] = {
    "text": _request([{"role": "user", "content": "Summarise the report."}]),
    "image": _request([{"role": "user", "content": [
        {"type": "image", "source": PNG}, {"type": "text", "text": "What is in this picture?"}]}]),
    "document": _request([{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": LONG},
         "title": "Report"},
        {"type": "text", "text": "Who wrote this?"}]}]),
    "tool_use-and-result": _request([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C, cloudy"}]}],
        tools=[WEATHER_TOOL]),
    "tool_result-with-image": _request([
        {"role": "user", "content": "Take a screenshot."},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_02", "name": "screenshot", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_02", "content": [
                {"type": "text", "text": "Screen:"}, {"type": "image", "source": PNG}]}]}],
        tools=[{"name": "screenshot", "description": "Capture the screen.",
                "input_schema": {"type": "object", "properties": {}}}]),
    "thinking-in-tool-loop": _request([
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should call the tool.", "signature": "sig-1"},
            {"type": "redacted_thinking", "data": "EuYBCkQYAiJA"},
            {"type": "tool_use", "id": "toolu_03", "name": "get_weather", "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_03", "content": "4 C"}]}],
        tools=[WEATHER_TOOL], thinking={"type": "enabled", "budget_tokens": 2048}),
    "thinking-stripped": _request([
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should call the tool.", "signature": "sig-1"},
            {"type": "tool_use", "id": "toolu_03", "name": "get_weather", "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_03", "content": "4 C"}]},
        {"role": "assistant", "content": "It is 4 C in Oslo."},
        {"role": "user", "content": "And in Rome?"}],
        tools=[WEATHER_TOOL], thinking={"type": "enabled", "budget_tokens": 2048}),
    "web-search-server-tool": _request([
        {"role": "user", "content": "Latest news on fusion?"},
        {"role": "assistant", "content": [
            {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search",
             "input": {"query": "fusion news"}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01", "content": [
                {"type": "web_search_result", "url": "https://example.org/fusion",
                 "title": "Fusion", "encrypted_content": "Eo8BCioIAhgB", "page_age": "1 day"}]},
            {"type": "text", "text": "A new record was set.", "citations": [
                {"type": "web_search_result_location", "url": "https://example.org/fusion",
                 "title": "Fusion", "encrypted_index": "Eo8B", "cited_text": "record"}]}]},
        {"role": "user", "content": "Tell me more."}],
        tools=[SEARCH_TOOL, WEATHER_TOOL]),
    "citations-enabled": _request([{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": LONG},
         "citations": {"enabled": True}},
        {"type": "text", "text": "Quote the revenue figure."}]}]),
    "search_result": _request([{"role": "user", "content": [
        {"type": "search_result", "source": "https://kb.example.org/a", "title": "KB article",
         "content": [{"type": "text", "text": "Refunds take five days."}],
         "citations": {"enabled": True}},
        {"type": "text", "text": "How long do refunds take?"}]}]),
    "tool_choice-and-markers": _request(
        [{"role": "user", "content": [
            {"type": "text", "text": LONG, "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "text", "text": "Go."}]}],
        tools=[WEATHER_TOOL], tool_choice={"type": "tool", "name": "get_weather"}),
    "speed-and-effort": _request([{"role": "user", "content": "Be quick."}],
                                 tools=[WEATHER_TOOL], speed="fast",
                                 output_config={"effort": "low"}),
    "string-system": {"model": MODEL, "max_tokens": 64, "system": LONG,
                      "messages": [{"role": "user", "content": "Hi"}]},
}


@pytest.fixture(params=sorted(CORPUS), name="request_")
def _request_fixture(request: pytest.FixtureRequest) -> dict[str, Any]:
    return copy.deepcopy(CORPUS[request.param])


def test_optimizer_simulator_and_diff_fingerprints_agree(request_: dict[str, Any]) -> None:
    optimizer = prompt_from_request(request_).fingerprints
    simulator = tuple(p.fingerprint for p in AnthropicCacheSimulator().positions(request_))
    diff = view_of(request_).fingerprints()
    assert optimizer == simulator == diff


def test_the_rendered_plan_keeps_the_fingerprints(request_: dict[str, Any]) -> None:
    """Markers placed by the optimizer move no fingerprint: ``cache_control`` is not content."""
    prompt = prompt_from_request(request_)
    rendered = render_anthropic(prompt, optimize(prompt))
    assert view_of(rendered).fingerprints() == prompt.fingerprints


def test_the_corpus_covers_every_block_type() -> None:
    kinds = {p.kind for r in CORPUS.values() for p in view_of(r).blocks}
    assert kinds >= {"tool", "text", "image", "document", "tool_use", "tool_result", "thinking",
                     "redacted_thinking", "server_tool_use", "web_search_tool_result",
                     "search_result"}


def test_fingerprints_tell_apart_what_invalidates_a_level() -> None:
    """Sanity check that agreement is not agreement on a constant: each toggle moves them."""
    base = CORPUS["text"]
    toggles = [
        {**base, "tool_choice": {"type": "any"}},
        {**base, "thinking": {"type": "enabled", "budget_tokens": 1024}},
        {**base, "tools": [WEATHER_TOOL]},
        {**base, "system": [{"type": "text", "text": LONG + "!"}]},
    ]
    seen = {view_of(base).fingerprints()[-1]}
    for toggled in toggles:
        last = view_of(toggled).fingerprints()[-1]
        assert last not in seen
        assert prompt_from_request(toggled).fingerprints[-1] == last
        seen.add(last)


def test_speed_invalidates_system_and_messages_and_effort_only_messages() -> None:
    """PROVIDER_FACTS (Anthropic, December 2026): "switching ``speed`` invalidates system and
    messages"; ``effort`` is rendered into the prompt like the thinking settings (messages)."""
    base = {**CORPUS["text"], "tools": [WEATHER_TOOL]}
    fast = {**base, "speed": "fast"}
    low = {**base, "output_config": {"effort": "low"}}
    levels = [p.level for p in view_of(base).blocks]
    tools_end = levels.index("system") - 1
    system_end = levels.index("messages") - 1
    b, f, e = (view_of(r).fingerprints() for r in (base, fast, low))
    assert f[tools_end] == b[tools_end] and f[system_end] != b[system_end]
    assert e[system_end] == b[system_end] and e[-1] != b[-1]
    for request in (fast, low):
        assert prompt_from_request(request).fingerprints == view_of(request).fingerprints()
