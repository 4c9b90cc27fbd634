"""wrap(client) on the beta Messages resource and on openai's stream helpers.

``client.beta.messages.create`` / ``.stream`` plan like ``messages.create`` / ``.stream``;
``betas`` and every other argument reach the SDK as written. openai's
``chat.completions.stream`` / ``responses.stream`` managers send through the wrapped ``create``.
Real ``anthropic`` and ``openai`` clients against the loopback servers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pydantic
import pytest
from anthropic import beta_tool

from promptcache import CacheState
from promptcache.cache import MemoryBackend
from promptcache.clock import ManualClock
from promptcache.dropin import UnplannedRequestWarning, unwrap, wrap
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.testing import AnthropicServer, OpenAIServer, ScriptedAnthropicServer

from ..helpers import platform_client

MODEL = "claude-sonnet-4-5"
SYSTEM = "You are a meticulous support agent. " + " ".join(f"rule{i}" for i in range(1_500))
INSTRUCTIONS = "You are a careful assistant. " + " ".join(f"rule{i}" for i in range(2_500))
BETA = "context-management-2025-06-27"
EDITS = {"edits": [{"type": "clear_tool_uses_20250919"}]}


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with AnthropicServer(clock=ManualClock()) as s:
        yield s


@pytest.fixture
def oai() -> Iterator[OpenAIServer]:
    with OpenAIServer(clock=ManualClock()) as s:
        yield s


def client_for(server: AnthropicServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)


def openai_client(server: OpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0)


def _markers(body: dict[str, Any]) -> int:
    return json.dumps(body).count('"cache_control"')


# -- anthropic: client.beta.messages -------------------------------------------------------------


def test_beta_create_is_planned_and_reads_the_cache_on_its_second_turn(
        server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    messages: list[Any] = []
    usages = []
    for question in ["Hello", "And then?"]:
        messages.append({"role": "user", "content": question})
        message = client.beta.messages.create(model=MODEL, max_tokens=64, system=SYSTEM,
                                              betas=[BETA], context_management=EDITS,
                                              messages=messages)
        messages.append({"role": "assistant", "content": message.content})
        usages.append(message.usage)
    assert type(message).__name__ == "BetaMessage"
    assert usages[0].cache_creation_input_tokens > 3_000
    assert usages[1].cache_read_input_tokens >= usages[0].cache_creation_input_tokens
    sent = server.requests[-1]
    assert sent.headers["anthropic-beta"] == BETA
    body = sent.json()
    assert _markers(body) >= 1 and "betas" not in body
    assert body["context_management"] == EDITS and body["max_tokens"] == 64
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 2 and totals.cache_read_tokens == usages[1].cache_read_input_tokens
    assert client.promptcache.planned == 2 and client.promptcache.unplanned == 0
    assert client.promptcache.last.kwargs["betas"] == [BETA]


def test_beta_create_keeps_sdk_options_and_beta_parameters_as_written(
        server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    client.beta.messages.create(model=MODEL, max_tokens=10, system=SYSTEM,
                                betas=[BETA, "mcp-client-2025-04-04"],
                                metadata={"user_id": "u1"}, extra_headers={"x-trace": "t1"},
                                messages=[{"role": "user", "content": "Hi"}])
    sent = server.requests[-1]
    assert sent.headers["anthropic-beta"] == f"{BETA},mcp-client-2025-04-04"
    assert sent.headers["x-trace"] == "t1"
    assert sent.json()["metadata"] == {"user_id": "u1"}
    assert sent.json()["system"][0]["text"] == SYSTEM


def test_beta_streaming_create_accounts_usage_when_the_stream_ends(
        server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    for _ in range(2):
        stream = client.beta.messages.create(model=MODEL, max_tokens=64, system=SYSTEM,
                                             stream=True, betas=[BETA],
                                             messages=[{"role": "user", "content": "Hello"}])
        kinds = [event.type for event in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert server.requests[-1].headers["anthropic-beta"] == BETA
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 2 and totals.cache_read_tokens > 3_000


def test_beta_stream_helper_works_and_reads_the_cache(server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    texts = []
    for _ in range(2):
        with client.beta.messages.stream(model=MODEL, max_tokens=64, system=SYSTEM, betas=[BETA],
                                         messages=[{"role": "user", "content": "Hello"}]) as s:
            texts.append("".join(s.text_stream))
            final = s.get_final_message()
    assert texts == ["Simulated reply."] * 2
    assert server.requests[-1].headers["anthropic-beta"] == BETA
    assert _markers(server.requests[-1].json()) >= 1
    assert final.usage.cache_read_input_tokens > 3_000
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 2 and totals.cache_read_tokens == final.usage.cache_read_input_tokens


async def test_async_beta_create_stream_and_stream_helper(server: AnthropicServer) -> None:
    client = wrap(anthropic.AsyncAnthropic(base_url=server.url, api_key="test", max_retries=0),
                  state=CacheState())
    request: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "system": SYSTEM,
                               "betas": [BETA], "messages": [{"role": "user", "content": "Hi"}]}
    first = await client.beta.messages.create(**request)
    async with client.beta.messages.stream(**request) as stream:
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    events = [e async for e in await client.beta.messages.create(**request, stream=True)]
    await client.close()
    assert first.usage.cache_creation_input_tokens > 3_000 and text == "Simulated reply."
    assert final.usage.cache_read_input_tokens > 3_000 and events[-1].type == "message_stop"
    assert all(r.headers["anthropic-beta"] == BETA for r in server.requests)
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 3 and totals.cache_read_tokens >= 2 * 3_000
    assert client.promptcache.planned == 3


@pytest.mark.parametrize("platform", ["bedrock", "vertex"])
def test_bedrock_and_vertex_beta_messages_plan_with_their_platform(server: AnthropicServer,
                                                                   platform: str) -> None:
    client, model = platform_client(server.url, platform)
    wrap(client, state=CacheState())
    usages = []
    for question in ["Hello", "Again"]:
        message = client.beta.messages.create(model=model, max_tokens=64, system=SYSTEM,
                                              betas=[BETA],
                                              messages=[{"role": "user", "content": question}])
        usages.append(message.usage)
    assert usages[1].cache_read_input_tokens > 3_000
    sent = server.requests[-1]
    assert "cache_control" in sent.json()["system"][0] and "cache_control" not in sent.json()
    assert sent.headers["anthropic-beta"] == BETA
    if platform == "bedrock":  # the SDK moves the betas into the body for Bedrock
        assert sent.json()["anthropic_beta"] == [BETA]


def test_an_unmodelled_beta_block_is_sent_as_written_with_one_warning(
        server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    odd = {"role": "user", "content": [{"type": "hologram", "data": "x"}]}
    with pytest.warns(UnplannedRequestWarning, match="beta.messages.create") as seen:
        client.beta.messages.create(model=MODEL, max_tokens=10, betas=[BETA], messages=[odd])
    assert len(seen) == 1
    assert server.requests[-1].json()["messages"] == [odd]
    assert server.requests[-1].headers["anthropic-beta"] == BETA
    assert client.promptcache.unplanned == 1


def _lookup(q: str) -> str:
    return q


def test_beta_tool_objects_are_planned_and_the_marked_one_sent_as_its_entry(
        server: AnthropicServer) -> None:
    # No system and a short turn: the tool definition is the prefix worth caching.
    tool = beta_tool(_lookup, description="Look a word up. " + SYSTEM)
    client = wrap(client_for(server), state=CacheState())
    for _ in range(2):
        message = client.beta.messages.create(model=MODEL, max_tokens=10, tools=[tool],
                                              messages=[{"role": "user", "content": "Hi"}])
    assert client.promptcache.planned == 2 and client.promptcache.unplanned == 0
    sent = server.requests[-1].json()["tools"]
    assert len(sent) == 1 and sent[0].pop("cache_control")["type"] == "ephemeral"
    assert sent == [tool.to_dict()]
    assert message.usage.cache_read_input_tokens > 3_000


def test_the_tool_runner_plans_its_first_turn_and_sends_thread_continuations_as_written() -> None:
    # The SDK's tool runner keeps the conversation on the server (``thread``): a continuation
    # carries only the new turn, so there is no prefix to plan; it goes as written, with a warning.
    tool = beta_tool(_lookup, description="Look a word up.")
    calls: list[Any] = []

    def responder(body: Any) -> Any:
        calls.append(body)
        if len(calls) < 3:
            return [{"type": "tool_use", "id": f"toolu_{len(calls)}", "name": "_lookup",
                     "input": {"q": "w"}}]
        return "done"

    with ScriptedAnthropicServer(responder=responder) as s:
        client = wrap(client_for(s), state=CacheState())
        runner = client.beta.messages.tool_runner(model=MODEL, max_tokens=256, system=SYSTEM,
                                                  tools=[tool], messages=[
                                                      {"role": "user", "content": "Find it"}])
        with pytest.warns(UnplannedRequestWarning, match="thread continuation"):
            stops = [message.stop_reason for message in runner]
        sent = [r.json() for r in s.requests]
    assert stops == ["tool_use", "tool_use", "end_turn"]
    assert sent[0]["thread"] == {"type": "create"} and _markers(sent[0]) >= 1
    assert [b["thread"]["type"] for b in sent[1:]] == ["continue", "continue"]
    assert [_markers(b) for b in sent[1:]] == [0, 0]
    assert client.promptcache.planned == 1 and client.promptcache.unplanned == 2
    assert client.promptcache.ledger.totals().calls == 3


class _Answer(pydantic.BaseModel):
    text: str


def test_beta_stream_with_output_format_is_planned() -> None:
    with AnthropicServer(clock=ManualClock(), reply='{"text": "ok"}') as s:
        client = wrap(client_for(s), state=CacheState())
        with client.beta.messages.stream(model=MODEL, max_tokens=64, system=SYSTEM,
                                         output_format=_Answer,
                                         messages=[{"role": "user", "content": "Hi"}]) as stream:
            final = stream.get_final_message()
        sent = s.requests[-1].json()
    assert final.parsed_output == _Answer(text="ok")
    assert client.promptcache.planned == 1 and client.promptcache.unplanned == 0
    assert sent["output_config"]["format"]["type"] == "json_schema" and _markers(sent) >= 1
    assert client.promptcache.ledger.totals().calls == 1


class _RefusesMarkers(AnthropicServer):
    """A loopback API that answers 400 to any request carrying cache_control."""

    def message(self, body: Any) -> Any:
        if "cache_control" in json.dumps(body):
            raise SimulatedAPIError("cache_control is not accepted here.", rule="test")
        return super().message(body)


def test_a_planned_beta_request_the_api_refuses_is_sent_again_as_written() -> None:
    with _RefusesMarkers(clock=ManualClock()) as s:
        client = wrap(client_for(s), state=CacheState())
        with pytest.warns(UnplannedRequestWarning, match="rejected the planned beta"):
            message = client.beta.messages.create(
                model=MODEL, max_tokens=10, system=SYSTEM, betas=[BETA],
                messages=[{"role": "user", "content": "Hi"}])
        assert message.content[0].text == "Simulated reply."  # type: ignore[union-attr]
        assert [_markers(r.json()) > 0 for r in s.requests] == [True, False]
        assert all(r.headers["anthropic-beta"] == BETA for r in s.requests)
        assert client.promptcache.unplanned == 1 and client.promptcache.ledger.totals().calls == 1


def test_unwrap_restores_the_beta_methods(server: AnthropicServer) -> None:
    client = client_for(server)
    create, stream = client.beta.messages.create, client.beta.messages.stream
    wrap(wrap(client, state=CacheState()), state=CacheState())
    assert client.beta.messages.create != create and client.beta.messages.stream != stream
    unwrap(client)
    assert client.beta.messages.create == create and client.beta.messages.stream == stream
    client.beta.messages.create(model=MODEL, max_tokens=10, system=SYSTEM, betas=[BETA],
                                messages=[{"role": "user", "content": "Hi"}])
    assert _markers(server.requests[-1].json()) == 0


# -- openai: chat.completions.stream / responses.stream ------------------------------------------


CHAT: dict[str, Any] = {"model": "gpt-5", "stream_options": {"include_usage": True}, "messages": [
    {"role": "developer", "content": INSTRUCTIONS}, {"role": "user", "content": "hi"}]}


def test_chat_completions_stream_helper_is_planned_and_accounted(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    for _ in range(2):
        with client.chat.completions.stream(**CHAT) as stream:
            kinds = {event.type for event in stream}
            completion = stream.get_final_completion()
    assert "content.done" in kinds
    assert completion.choices[0].message.content == "Simulated reply."
    assert completion.usage is not None
    cached = completion.usage.prompt_tokens_details.cached_tokens  # type: ignore[union-attr]
    assert cached > 4_000
    sent = oai.requests[-1]
    assert sent.json()["prompt_cache_key"].startswith("pc-")
    assert sent.headers["x-stainless-helper-method"] == "chat.completions.stream"
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 2 and totals.cache_read_tokens == cached
    assert client.promptcache.planned == 2 and client.promptcache.unplanned == 0


def test_responses_stream_helper_is_planned_and_accounted(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    for question in ["Tell me a story.", "Another one."]:
        with client.responses.stream(model="gpt-5", instructions=INSTRUCTIONS,
                                     input=question) as stream:
            for _ in stream:
                pass
            response = stream.get_final_response()
    assert response.output_text == "Simulated reply." and response.usage is not None
    cached = response.usage.input_tokens_details.cached_tokens
    assert cached > 4_000
    assert oai.requests[-1].json()["prompt_cache_key"].startswith("pc-")
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 2 and totals.cache_read_tokens == cached


async def test_async_openai_stream_helpers(oai: OpenAIServer) -> None:
    client = wrap(openai.AsyncOpenAI(base_url=oai.url + "/v1", api_key="test", max_retries=0),
                  state=CacheState())
    async with client.chat.completions.stream(**CHAT) as chat:
        async for _ in chat:
            pass
        completion = await chat.get_final_completion()
    async with client.responses.stream(model="gpt-5", instructions=INSTRUCTIONS,
                                       input="hi") as responses:
        async for _ in responses:
            pass
        response = await responses.get_final_response()
    await client.close()
    assert completion.choices[0].message.content == response.output_text == "Simulated reply."
    assert all("prompt_cache_key" in r.json() for r in oai.requests)
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 2 and client.promptcache.planned == 2


def test_stream_helpers_go_under_the_response_cache(oai: OpenAIServer) -> None:
    # The helper needs the live stream's HTTP response, which a replayed stream cannot give:
    # its requests always reach the API, and work as they do unwrapped.
    client = wrap(openai_client(oai), state=CacheState(), response_cache=MemoryBackend())
    for _ in range(2):
        with client.chat.completions.stream(**CHAT) as stream:
            completion = stream.get_final_completion()
        assert completion.choices[0].message.content == "Simulated reply."
    assert len(oai.requests) == 2 and client.promptcache.ledger.totals().calls == 2
    client.chat.completions.create(model="gpt-5", messages=CHAT["messages"])
    client.chat.completions.create(model="gpt-5", messages=CHAT["messages"])
    assert len(oai.requests) == 3  # create itself is still served from the response cache


def test_an_unplannable_helper_request_is_sent_as_written(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    messages = [{"role": "user", "content": [audio]}]
    with pytest.warns(UnplannedRequestWarning, match="chat.completions.stream") as seen, \
            client.chat.completions.stream(model="gpt-5", messages=messages) as stream:
        stream.get_final_completion()
    assert len(seen) == 1
    assert oai.requests[-1].json() == {"model": "gpt-5", "messages": messages, "stream": True}


def test_unwrap_restores_the_openai_stream_helpers(oai: OpenAIServer) -> None:
    client = openai_client(oai)
    chat, responses = client.chat.completions.stream, client.responses.stream
    wrap(wrap(client, state=CacheState()), state=CacheState())
    assert client.chat.completions.stream != chat and client.responses.stream != responses
    unwrap(client)
    assert client.chat.completions.stream == chat and client.responses.stream == responses
    with client.chat.completions.stream(**CHAT) as stream:
        stream.get_final_completion()
    assert "prompt_cache_key" not in oai.requests[-1].json()
