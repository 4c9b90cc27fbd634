"""wrap() sends what the caller wrote, plans what it can, and resends only its own mistakes.

Issue 19 items 2-6, each through the real SDK client against the loopback servers: GPT-5.6+
instructions keep the caller's role and carry the breakpoints the summary reports; a forced
function ``tool_choice`` is planned; ``with_options``/``copy`` return wrapped clients; a 400 is
resent only when it is about a marker promptcache added; a ``role: "system"`` turn reaches the
Messages API as written.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from promptcache import CacheState
from promptcache.cache import MemoryBackend
from promptcache.clock import ManualClock
from promptcache.dropin import UnplannedRequestWarning, unwrap, wrap
from promptcache.testing import (
    AnthropicServer,
    OpenAIServer,
    ScriptedAnthropicServer,
    ScriptedOpenAIServer,
)

MODEL = "claude-sonnet-4-6"
SYSTEM = "You are a meticulous support agent. " + " ".join(f"rule{i}" for i in range(1_500))
INSTRUCTIONS = "You are a careful assistant. " + " ".join(f"rule{i}" for i in range(2_500))
CHAT_TOOLS = [{"type": "function", "function": {
    "name": "search", "description": "Search the manual.",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]
RESPONSES_TOOLS = [{"type": "function", "name": "search", "description": "Search the manual.",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]


@pytest.fixture
def oai() -> Iterator[OpenAIServer]:
    with OpenAIServer(clock=ManualClock()) as s:
        yield s


@pytest.fixture
def ant() -> Iterator[AnthropicServer]:
    with AnthropicServer(clock=ManualClock()) as s:
        yield s


def openai_client(server: OpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0)


def anthropic_client(server: AnthropicServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)


def _unmarked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unmarked(v) for k, v in value.items()
                if k not in ("prompt_cache_breakpoint", "cache_control")}
    if isinstance(value, list):
        return [_unmarked(v) for v in value]
    return value


def _as_parts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**m, "content": [{"type": "text", "text": m["content"]}]}
            if isinstance(m.get("content"), str) else m for m in messages]


# -- item 2: GPT-5.6+ chat with a system message --------------------------------------------------

def test_gpt_5_6_system_message_keeps_its_role_and_carries_the_reported_breakpoint(
        oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    messages = [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": "Hi"}]
    client.chat.completions.create(model="gpt-5.6", messages=messages)
    second = client.chat.completions.create(model="gpt-5.6", messages=messages)
    sent = oai.requests[-1].json()
    summary = client.promptcache.last.summary  # type: ignore[union-attr]
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert _as_parts(_unmarked(sent["messages"])) == _as_parts(messages)
    marked = [p for m in sent["messages"] for p in m["content"] if "prompt_cache_breakpoint" in p]
    assert summary is not None and summary.mode == "explicit"
    assert len(marked) == len(summary.breakpoints) >= 1
    assert sent["prompt_cache_options"]["mode"] == "explicit"
    assert second.usage is not None and second.usage.prompt_tokens_details is not None
    assert second.usage.prompt_tokens_details.cached_tokens > 4_000


def test_gpt_5_6_responses_summary_reports_the_automatic_caching_it_sends(
        oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    client.responses.create(model="gpt-5.6", instructions=INSTRUCTIONS, input="Hi")
    sent = oai.requests[-1].json()
    summary = client.promptcache.last.summary  # type: ignore[union-attr]
    assert "prompt_cache_breakpoint" not in str(sent) and "prompt_cache_options" not in sent
    assert summary is not None and summary.breakpoints == () and summary.mode == "implicit"
    assert sent["prompt_cache_retention"] == summary.settings["prompt_cache_retention"]


# -- item 3: forced function tool_choice ---------------------------------------------------------

def test_a_forced_function_tool_choice_on_chat_is_planned(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    choice = {"type": "function", "function": {"name": "search"}}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnplannedRequestWarning)
        client.chat.completions.create(
            model="gpt-5", tools=CHAT_TOOLS, tool_choice=choice,
            messages=[{"role": "developer", "content": INSTRUCTIONS},
                      {"role": "user", "content": "Find the reset section."}])
    sent = oai.requests[-1].json()
    assert client.promptcache.planned == 1 and client.promptcache.unplanned == 0
    assert sent["prompt_cache_key"].startswith("pc-") and sent["tool_choice"] == choice


def test_a_forced_function_tool_choice_on_responses_is_planned(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    choice = {"type": "function", "name": "search"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnplannedRequestWarning)
        client.responses.create(model="gpt-5", tools=RESPONSES_TOOLS, tool_choice=choice,
                                instructions=INSTRUCTIONS, input="Find the reset section.",
                                parallel_tool_calls=False)
    sent = oai.requests[-1].json()
    assert client.promptcache.unplanned == 0
    assert sent["prompt_cache_key"].startswith("pc-") and sent["tool_choice"] == choice
    assert sent["parallel_tool_calls"] is False


@pytest.mark.parametrize("choice", ["required", "none", "auto"])
def test_string_tool_choices_are_planned_and_sent_as_written(oai: OpenAIServer,
                                                             choice: str) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    client.chat.completions.create(model="gpt-5", tools=CHAT_TOOLS, tool_choice=choice,
                                   messages=[{"role": "user", "content": INSTRUCTIONS}])
    assert client.promptcache.unplanned == 0
    assert oai.requests[-1].json()["tool_choice"] == choice


# -- item 4: with_options and copy ----------------------------------------------------------------

def test_with_options_returns_a_wrapped_client_sharing_state_and_ledger(
        ant: AnthropicServer) -> None:
    state = CacheState()
    client = wrap(anthropic_client(ant), state=state)
    other = client.with_options(timeout=30)
    assert other is not client
    request = {"model": MODEL, "max_tokens": 10, "system": SYSTEM,
               "messages": [{"role": "user", "content": "Hi"}]}
    other.messages.create(**request)
    second = client.messages.create(**request)
    assert "cache_control" in str(ant.requests[0].json())
    assert second.usage.cache_read_input_tokens > 0
    assert other.promptcache.state is state and other.promptcache.planned == 1
    assert client.promptcache.ledger is other.promptcache.ledger
    assert client.promptcache.ledger.totals().calls == 2


def test_copy_keeps_the_response_cache(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState(), response_cache=MemoryBackend())
    copied = client.copy(max_retries=1)
    request: dict[str, Any] = {"model": "gpt-5", "messages": [{"role": "user",
                                                              "content": INSTRUCTIONS}]}
    first = copied.chat.completions.create(**request)
    again = copied.chat.completions.create(**request)
    assert len(oai.requests) == 1 and again.id == first.id
    assert "prompt_cache_retention" in oai.requests[0].json()


def test_unwrap_gives_back_the_sdk_copy(ant: AnthropicServer) -> None:
    client = unwrap(wrap(anthropic_client(ant), state=CacheState()))
    assert not hasattr(client.with_options(timeout=5), "promptcache")


# -- item 5: a 400 is resent only when it is about promptcache's markers --------------------------

def test_a_400_unrelated_to_markers_is_raised_after_one_request() -> None:
    with ScriptedAnthropicServer(["Fine."], clock=ManualClock()) as s:
        client = wrap(anthropic.Anthropic(base_url=s.url, api_key="t", max_retries=0),
                      state=CacheState())
        s.fail_next(400, "messages.0.content: text content blocks must be non-empty")
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnplannedRequestWarning)
            with pytest.raises(anthropic.BadRequestError, match="non-empty"):
                client.messages.create(model=MODEL, max_tokens=10, system=SYSTEM,
                                       messages=[{"role": "user", "content": "Hi"}])
        assert len(s.requests) == 1 and "cache_control" in str(s.requests[0].json())


def test_a_400_about_cache_control_promptcache_added_is_resent_as_written() -> None:
    with ScriptedAnthropicServer(["Fine."], clock=ManualClock()) as s:
        client = wrap(anthropic.Anthropic(base_url=s.url, api_key="t", max_retries=0),
                      state=CacheState())
        s.fail_next(400, "system.0.cache_control: not accepted on this deployment")
        request = {"model": MODEL, "max_tokens": 10, "system": SYSTEM,
                   "messages": [{"role": "user", "content": "Hi"}]}
        with pytest.warns(UnplannedRequestWarning, match="over the cache_control promptcache"):
            reply = client.messages.create(**request)
        assert reply.content[0].text == "Fine."
        assert [r.json() == request for r in s.requests] == [False, True]


def test_a_400_about_the_callers_own_marker_is_not_resent() -> None:
    with ScriptedAnthropicServer(["Fine."], clock=ManualClock()) as s:
        client = wrap(anthropic.Anthropic(base_url=s.url, api_key="t", max_retries=0),
                      state=CacheState())
        s.fail_next(400, "messages.0.content.0.cache_control: ttl must be '5m' or '1h'")
        with pytest.raises(anthropic.BadRequestError):
            client.messages.create(model=MODEL, max_tokens=10, messages=[{
                "role": "user", "content": [{"type": "text", "text": "Hi",
                                             "cache_control": {"type": "ephemeral"}}]}])
        assert len(s.requests) == 1


def test_a_400_on_a_request_sent_as_written_is_not_resent() -> None:
    with ScriptedAnthropicServer(["Fine."], clock=ManualClock()) as s:
        client = wrap(anthropic.Anthropic(base_url=s.url, api_key="t", max_retries=0),
                      state=CacheState())
        s.fail_next(400, "cache_control: something")
        with pytest.warns(UnplannedRequestWarning, match="could not plan"), \
                pytest.raises(anthropic.BadRequestError):
            client.messages.create(model="claude-from-the-future", max_tokens=10, system=SYSTEM,
                                   messages=[{"role": "user", "content": "Hi"}])
        assert len(s.requests) == 1


# -- item 6: role "system" on the Messages API -----------------------------------------------------

def test_a_system_role_turn_is_sent_as_the_sdk_sends_it(ant: AnthropicServer) -> None:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Hi"}]
    bare = anthropic_client(ant)
    wrapped = wrap(anthropic_client(ant), state=CacheState())
    bare.messages.create(model=MODEL, max_tokens=10, messages=messages)
    with pytest.warns(UnplannedRequestWarning, match=r"messages\[0\].role"):
        wrapped.messages.create(model=MODEL, max_tokens=10, messages=messages)
    assert ant.requests[1].json() == ant.requests[0].json()
    assert ant.requests[1].json()["messages"][0]["role"] == "system"


def test_openai_400_about_a_setting_promptcache_added_is_resent_as_written() -> None:
    with ScriptedOpenAIServer(["Fine."], clock=ManualClock()) as s:
        client = wrap(openai.OpenAI(base_url=s.url + "/v1", api_key="t", max_retries=0),
                      state=CacheState())
        s.fail_next(400, "Unsupported parameter: 'prompt_cache_retention'.")
        request: dict[str, Any] = {"model": "gpt-5", "messages": [
            {"role": "developer", "content": INSTRUCTIONS}, {"role": "user", "content": "Hi"}]}
        with pytest.warns(UnplannedRequestWarning, match="prompt_cache_retention"):
            reply = client.chat.completions.create(**request)
        assert reply.choices[0].message.content == "Fine."
        assert [r.json() == request for r in s.requests] == [False, True]


def test_openai_400_unrelated_to_promptcache_is_raised_after_one_request() -> None:
    with ScriptedOpenAIServer(["Fine."], clock=ManualClock()) as s:
        client = wrap(openai.OpenAI(base_url=s.url + "/v1", api_key="t", max_retries=0),
                      state=CacheState())
        s.fail_next(400, "Invalid value for 'temperature'.")
        with pytest.raises(openai.BadRequestError, match="temperature"):
            client.chat.completions.create(model="gpt-5", temperature=9, messages=[
                {"role": "user", "content": INSTRUCTIONS}])
        assert len(s.requests) == 1
