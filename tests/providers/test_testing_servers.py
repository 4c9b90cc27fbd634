"""The loopback servers, driven through the real anthropic, openai and google-genai clients."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from promptcache.clock import ManualClock
from promptcache.errors import PromptError
from promptcache.simulator import CACHED_CONTENT_CONFLICT
from promptcache.testing import (
    AnthropicServer,
    GeminiServer,
    OpenAIServer,
    ScriptedGeminiServer,
    ScriptedOpenAIServer,
)
from tests.helpers import claude_client, openai_client

BIG = " ".join(f"w{i}" for i in range(1_500))  # ~3,500 tokens
CLAUDE = "claude-sonnet-4-6"
EPH = {"type": "ephemeral"}


def claude_request(question: str = "hi") -> dict[str, Any]:
    return {
        "model": CLAUDE,
        "max_tokens": 64,
        "system": [{"type": "text", "text": BIG, "cache_control": EPH}],
        "messages": [{"role": "user", "content": question}],
    }


def test_anthropic_client_sees_a_write_then_a_read(anthropic_server: AnthropicServer) -> None:
    client = claude_client(anthropic_server)
    first = client.messages.create(**claude_request())
    second = client.messages.create(**claude_request("again"))
    assert first.usage.cache_creation_input_tokens and first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.content[0].type == "text" and second.content[0].text == "Simulated reply."


def test_anthropic_server_records_the_body_byte_for_byte(anthropic_server: AnthropicServer) -> None:
    client = claude_client(anthropic_server)
    client.messages.create(**claude_request(), cache_control=EPH)
    recorded = anthropic_server.requests[-1]
    assert recorded.path == "/v1/messages"
    assert recorded.json() == {**claude_request(), "cache_control": EPH}
    assert json.loads(recorded.body) == recorded.json()


def test_anthropic_clock_drives_expiry(anthropic_server: AnthropicServer) -> None:
    client = claude_client(anthropic_server)
    client.messages.create(**claude_request())
    assert isinstance(anthropic_server.clock, ManualClock)
    anthropic_server.clock.advance(301)
    usage = client.messages.create(**claude_request()).usage
    assert usage.cache_read_input_tokens == 0


def test_anthropic_stream_reports_usage_in_message_start_and_delta(
    anthropic_server: AnthropicServer,
) -> None:
    client = claude_client(anthropic_server)
    client.messages.create(**claude_request())
    events = list(client.messages.create(**claude_request(), stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds
    start = events[0]
    delta = next(e for e in events if e.type == "message_delta")
    assert start.type == "message_start" and delta.type == "message_delta"
    assert start.message.usage.cache_read_input_tokens == delta.usage.cache_read_input_tokens > 0


def test_anthropic_stream_helper_accumulates_the_final_message(
    anthropic_server: AnthropicServer,
) -> None:
    client = claude_client(anthropic_server)
    with client.messages.stream(**claude_request()) as stream:
        final = stream.get_final_message()
    assert final.usage.cache_creation_input_tokens and final.usage.output_tokens > 0
    assert final.content[0].type == "text" and final.content[0].text == "Simulated reply."


async def test_anthropic_async_client_and_stream(anthropic_server: AnthropicServer) -> None:
    client = claude_client(anthropic_server, is_async=True)
    first = await client.messages.create(**claude_request())
    async with client.messages.stream(**claude_request()) as stream:
        final = await stream.get_final_message()
    assert final.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    await client.close()


def test_anthropic_count_tokens(anthropic_server: AnthropicServer) -> None:
    client = claude_client(anthropic_server)
    request = claude_request()
    counted = client.messages.count_tokens(
        model=CLAUDE, system=request["system"], messages=request["messages"]
    )
    usage = client.messages.create(**request).usage
    assert counted.input_tokens == usage.input_tokens + (usage.cache_creation_input_tokens or 0)


def test_anthropic_prewarm_with_max_tokens_zero_writes_and_generates_nothing(
    anthropic_server: AnthropicServer,
) -> None:
    client = claude_client(anthropic_server)
    message = client.messages.create(**{**claude_request(), "max_tokens": 0})
    assert message.content == [] and message.stop_reason == "max_tokens"
    assert message.usage.cache_creation_input_tokens


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": f"b{i}", "cache_control": EPH} for i in range(4)
                        ],
                    }
                ]
            },
            "A maximum of 4 blocks with cache_control may be provided. Found 5.",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "q", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
                        ],
                    }
                ]
            },
            "must not come after",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "thinking", "thinking": "t", "signature": "s", "cache_control": EPH}
                        ],
                    },
                ]
            },
            "cannot be cached",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "", "cache_control": EPH}]}]},
            "empty text blocks",
        ),
    ],
    ids=["too-many-breakpoints", "1h-after-5m", "thinking-mark", "empty-text-mark"],
)
def test_anthropic_rule_violations_raise_bad_request(
    anthropic_server: AnthropicServer, edit: dict[str, Any], fragment: str
) -> None:
    client = claude_client(anthropic_server)
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(**{**claude_request(), **edit})
    assert info.value.status_code == 400
    assert isinstance(info.value.body, dict)
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == "invalid_request_error"
    assert fragment in info.value.body["error"]["message"]


def test_anthropic_diagnostics_round_trip(anthropic_server: AnthropicServer) -> None:
    client = claude_client(anthropic_server)
    first = client.messages.create(**claude_request(), diagnostics={"previous_message_id": None})
    changed = {**claude_request(), "system": [{"type": "text", "text": "other", "cache_control": EPH}]}
    second = client.messages.create(**changed, diagnostics={"previous_message_id": first.id})
    assert first.diagnostics is None
    assert second.diagnostics is not None and second.diagnostics.cache_miss_reason is not None
    assert second.diagnostics.cache_miss_reason.type == "system_changed"


def test_anthropic_batches_create_retrieve_and_results(anthropic_server: AnthropicServer) -> None:
    client = claude_client(anthropic_server)
    batch = client.messages.batches.create(
        requests=[{"custom_id": f"r{i}", "params": claude_request(f"q{i}")} for i in range(3)]
    )
    assert client.messages.batches.retrieve(batch.id).processing_status == "ended"
    results = list(client.messages.batches.results(batch.id))
    assert [r.custom_id for r in results] == ["r0", "r1", "r2"]
    reads = [r.result.message.usage.cache_read_input_tokens for r in results if r.result.type == "succeeded"]
    assert reads[0] == 0 and reads[1] and reads[2]


def chat_request() -> dict[str, Any]:
    return {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": BIG}, {"role": "user", "content": "hi"}],
    }


def test_openai_chat_reports_cached_tokens_on_the_second_call(openai_server: OpenAIServer) -> None:
    client = openai_client(openai_server)
    first = client.chat.completions.create(**chat_request())
    second = client.chat.completions.create(**chat_request())
    assert first.usage and first.usage.prompt_tokens_details
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert second.usage and second.usage.prompt_tokens_details
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached and cached % 128 == 0 and cached <= second.usage.prompt_tokens
    assert second.choices[0].message.content == "Simulated reply."


def test_openai_chat_stream_sends_usage_only_when_asked(openai_server: OpenAIServer) -> None:
    client = openai_client(openai_server)
    without = list(client.chat.completions.create(**chat_request(), stream=True))
    with_usage = list(
        client.chat.completions.create(**chat_request(), stream=True, stream_options={"include_usage": True})
    )
    assert all(chunk.usage is None for chunk in without)
    assert with_usage[-1].choices == [] and with_usage[-1].usage is not None
    text = "".join(c.choices[0].delta.content or "" for c in with_usage if c.choices)
    assert text == "Simulated reply."


def test_openai_responses_and_stream(openai_server: OpenAIServer) -> None:
    client = openai_client(openai_server)
    first = client.responses.create(model="gpt-4o", input=BIG, prompt_cache_key="k")
    with client.responses.stream(model="gpt-4o", input=BIG, prompt_cache_key="k") as stream:
        final = stream.get_final_response()
    assert first.output_text == "Simulated reply."
    assert first.usage and first.usage.input_tokens_details.cached_tokens == 0
    assert final.usage and final.usage.input_tokens_details.cached_tokens > 0


async def test_openai_async_chat_and_responses_stream(openai_server: OpenAIServer) -> None:
    client = openai_client(openai_server, is_async=True)
    await client.chat.completions.create(**chat_request())
    stream = await client.chat.completions.create(
        **chat_request(), stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    events = [e async for e in await client.responses.create(model="gpt-5.6", input=BIG, stream=True)]
    assert chunks[-1].usage and chunks[-1].usage.prompt_tokens_details
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens
    assert events[-1].type == "response.completed"
    await client.close()


def test_openai_bad_parameter_is_a_bad_request(openai_server: OpenAIServer) -> None:
    client = openai_client(openai_server)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**chat_request(), prompt_cache_options={"mode": "explicit"})
    assert "gpt-5.6" in str(info.value)


def gemini_client(server: GeminiServer, version: str = "v1beta") -> genai.Client:
    return genai.Client(api_key="x", http_options=types.HttpOptions(base_url=server.url, api_version=version))


def test_gemini_implicit_cache_hit(gemini_server: GeminiServer) -> None:
    client = gemini_client(gemini_server)
    first = client.models.generate_content(model="gemini-2.5-flash", contents=[BIG, "q1"])
    second = client.models.generate_content(model="gemini-2.5-flash", contents=[BIG, "q2"])
    assert first.usage_metadata and first.usage_metadata.cached_content_token_count is None
    assert second.usage_metadata and second.usage_metadata.cached_content_token_count
    assert second.text == "Simulated reply."


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_gemini_server_accepts_both_api_versions(gemini_server: GeminiServer, version: str) -> None:
    client = gemini_client(gemini_server, version)
    assert client.models.generate_content(model="gemini-2.5-flash", contents="hi").text
    assert gemini_server.requests[-1].path.startswith(f"/{version}/")


def test_gemini_stream_uses_sse_and_ends_with_full_usage(gemini_server: GeminiServer) -> None:
    client = gemini_client(gemini_server)
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
    assert gemini_server.requests[-1].query.get("alt") == "sse"
    assert "".join(c.text or "" for c in chunks) == "Simulated reply."
    assert chunks[-1].usage_metadata and chunks[-1].usage_metadata.candidates_token_count


async def test_gemini_async_generate_and_stream(gemini_server: GeminiServer) -> None:
    # An explicit httpx2 client: with aiohttp installed, google-genai would otherwise subclass
    # aiohttp.ClientSession, which aiohttp deprecates (a warning, hence an error here).
    async with httpx2.AsyncClient() as http:
        options = types.HttpOptions(base_url=gemini_server.url, api_version="v1beta", httpx_async_client=http)
        await _gemini_async_round_trip(genai.Client(api_key="x", http_options=options))


async def _gemini_async_round_trip(client: genai.Client) -> None:
    response = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    chunks = [
        c
        async for c in await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents="hi"
        )
    ]
    assert response.text == "Simulated reply."
    assert "".join(c.text or "" for c in chunks) == "Simulated reply."


def test_gemini_explicit_cache_lifecycle(gemini_server: GeminiServer) -> None:
    client = gemini_client(gemini_server)
    config = types.CreateCachedContentConfig(contents=[BIG], system_instruction="sys", ttl="300s")
    cache = client.caches.create(model="gemini-2.5-flash", config=config)
    assert cache.name and cache.usage_metadata and cache.usage_metadata.total_token_count
    used = client.models.generate_content(
        model="gemini-2.5-flash", contents="q", config=types.GenerateContentConfig(cached_content=cache.name)
    )
    assert used.usage_metadata
    assert used.usage_metadata.cached_content_token_count == cache.usage_metadata.total_token_count
    updated = client.caches.update(name=cache.name, config=types.UpdateCachedContentConfig(ttl="7200s"))
    assert updated.expire_time and cache.expire_time and updated.expire_time > cache.expire_time
    assert [c.name for c in client.caches.list()] == [cache.name]
    client.caches.delete(name=cache.name)
    with pytest.raises(genai_errors.ClientError):
        client.caches.get(name=cache.name)


def test_gemini_list_pages(gemini_server: GeminiServer) -> None:
    client = gemini_client(gemini_server)
    config = types.CreateCachedContentConfig(contents=[BIG])
    names = {client.caches.create(model="gemini-2.5-flash", config=config).name for _ in range(3)}
    listed = {c.name for c in client.caches.list(config={"page_size": 2})}
    assert listed == names
    assert sum(r.path.endswith("/cachedContents") and r.method == "GET" for r in gemini_server.requests) == 2


def test_gemini_cached_content_with_system_instruction_is_a_400(gemini_server: GeminiServer) -> None:
    client = gemini_client(gemini_server)
    cache = client.caches.create(
        model="gemini-2.5-flash", config=types.CreateCachedContentConfig(contents=[BIG])
    )
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(
            model="gemini-2.5-flash",
            contents="q",
            config=types.GenerateContentConfig(cached_content=cache.name, system_instruction="x"),
        )
    assert info.value.code == 400
    assert info.value.message == CACHED_CONTENT_CONFLICT


def test_gemini_count_tokens(gemini_server: GeminiServer) -> None:
    client = gemini_client(gemini_server)
    assert client.models.count_tokens(model="gemini-2.5-flash", contents="hello world").total_tokens


def test_a_reply_of_content_blocks_points_to_the_scripted_server() -> None:
    tool_use = [{"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}}]
    with AnthropicServer(reply=lambda body: tool_use) as server:  # type: ignore[arg-type, return-value]
        client = claude_client(server)
        with pytest.raises(anthropic.InternalServerError, match="ScriptedAnthropicServer"):
            client.messages.create(model="claude-sonnet-4-6", max_tokens=10,
                                   messages=[{"role": "user", "content": "hi"}])


# -- the scripted OpenAI and Gemini servers --------------------------------------------------------

SCRIPT: list[Any] = [
    [{"type": "text", "text": "Let me look."},
     {"type": "tool_use", "name": "lookup", "input": {"section": "reset"}}],
    "Hold the reset button for ten seconds.",
]
CHAT_TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"section": {"type": "string"}}}}}]
RESPONSES_TOOLS = [{"type": "function", "name": "lookup", "parameters": {
    "type": "object", "properties": {"section": {"type": "string"}}}}]


def _openai(server: Any, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=retries)


def _gemini(server: Any) -> genai.Client:
    return genai.Client(api_key="test", http_options=types.HttpOptions(base_url=server.url))


def test_scripted_openai_chat_tool_loop_round_trips_the_call_id() -> None:
    with ScriptedOpenAIServer(SCRIPT, clock=ManualClock()) as server:
        client = _openai(server)
        messages: list[Any] = [{"role": "developer", "content": BIG},
                               {"role": "user", "content": "How do I reset it?"}]
        first = client.chat.completions.create(model="gpt-5", messages=messages,
                                               tools=CHAT_TOOLS)
        choice = first.choices[0]
        call = choice.message.tool_calls[0]  # type: ignore[index]
        assert choice.finish_reason == "tool_calls" and choice.message.content == "Let me look."
        assert call.function.name == "lookup"  # type: ignore[union-attr]
        assert json.loads(call.function.arguments) == {"section": "reset"}  # type: ignore[union-attr]
        messages += [choice.message, {"role": "tool", "tool_call_id": call.id, "content": "10s"}]
        second = client.chat.completions.create(model="gpt-5", messages=messages,
                                                tools=CHAT_TOOLS)
        assert second.choices[0].message.content == SCRIPT[1]
        assert server.requests[-1].json()["messages"][2]["tool_calls"][0]["id"] == call.id
        assert second.usage.prompt_tokens_details.cached_tokens > 0  # type: ignore[union-attr]
        assert server.steps_used == 2


def test_scripted_openai_chat_streams_tool_calls_the_helper_accumulates() -> None:
    with ScriptedOpenAIServer(SCRIPT[:1], clock=ManualClock()) as server:
        client = _openai(server)
        with client.chat.completions.stream(
                model="gpt-5", tools=CHAT_TOOLS, stream_options={"include_usage": True},
                messages=[{"role": "user", "content": "Reset?"}]) as stream:
            final = stream.get_final_completion()
        call = final.choices[0].message.tool_calls[0]  # type: ignore[index]
        assert final.choices[0].finish_reason == "tool_calls"
        assert call.function.name == "lookup"  # type: ignore[union-attr]
        assert json.loads(call.function.arguments) == {"section": "reset"}  # type: ignore[union-attr]
        assert final.choices[0].message.content == "Let me look." and final.usage is not None


def test_scripted_openai_responses_function_call_plain_and_streamed() -> None:
    script = [SCRIPT[0], SCRIPT[0], SCRIPT[1]]
    with ScriptedOpenAIServer(script, clock=ManualClock()) as server:
        client = _openai(server)
        plain = client.responses.create(model="gpt-5", input="Reset?", tools=RESPONSES_TOOLS)
        calls = [item for item in plain.output if item.type == "function_call"]
        assert plain.output_text == "Let me look." and calls[0].name == "lookup"
        with client.responses.stream(model="gpt-5", input="Reset?",
                                     tools=RESPONSES_TOOLS) as stream:
            streamed = stream.get_final_response()
        call = next(item for item in streamed.output if item.type == "function_call")
        assert json.loads(call.arguments) == {"section": "reset"}  # type: ignore[union-attr]
        answer = client.responses.create(model="gpt-5", tools=RESPONSES_TOOLS, input=[
            {"role": "user", "content": "Reset?"}, call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id,  # type: ignore[union-attr]
             "output": "10s"}])
        assert answer.output_text == SCRIPT[1] and server.steps_used == 3


def test_scripted_openai_errors_are_the_sdk_types_and_consume_no_step() -> None:
    with ScriptedOpenAIServer(["Fine."], clock=ManualClock()) as server:
        server.fail_next(429, "Slow down")
        with pytest.raises(openai.RateLimitError, match="Slow down"):
            _openai(server).chat.completions.create(model="gpt-5", messages=[
                {"role": "user", "content": "Hi"}])
        server.fail_next(503, "Busy", headers={"retry-after": "0"})
        reply = _openai(server, retries=1).chat.completions.create(
            model="gpt-5", messages=[{"role": "user", "content": "Hi"}])
        assert reply.choices[0].message.content == "Fine." and len(server.requests) == 3


def test_scripted_openai_fails_mid_stream() -> None:
    with ScriptedOpenAIServer(["Fine."], clock=ManualClock()) as server:
        server.fail_next(500, "Overloaded mid-way", mid_stream=True, times=2)
        client = _openai(server)
        with pytest.raises(openai.APIError, match="Overloaded mid-way"):
            for _ in client.chat.completions.create(
                    model="gpt-5", stream=True, messages=[{"role": "user", "content": "Hi"}]):
                pass
        with pytest.raises(openai.APIError, match="Overloaded mid-way"):
            for _ in client.responses.create(model="gpt-5", input="Hi", stream=True):
                pass
        assert server.steps_used == 0


def test_scripted_openai_past_the_script_is_a_500_naming_it() -> None:
    with ScriptedOpenAIServer([], clock=ManualClock()) as server, pytest.raises(
            openai.InternalServerError, match="Add replies to the script"):
        _openai(server).responses.create(model="gpt-5", input="Hi")


def test_a_bad_script_fails_when_the_server_is_made() -> None:
    with pytest.raises(PromptError, match=r"script\[0\]\[0\]"):
        ScriptedOpenAIServer([[{"type": "tool_use", "input": {}}]])
    with pytest.raises(PromptError, match=r"script\[1\]"):
        ScriptedGeminiServer(["ok", 3])  # type: ignore[list-item]


def test_scripted_gemini_function_call_round_trip() -> None:
    with ScriptedGeminiServer(SCRIPT, clock=ManualClock()) as server:
        client = _gemini(server)
        config = types.GenerateContentConfig(system_instruction=BIG, tools=[types.Tool(
            function_declarations=[types.FunctionDeclaration(name="lookup")])])
        first = client.models.generate_content(model="gemini-2.5-flash", contents="Reset?",
                                               config=config)
        call = first.function_calls[0]  # type: ignore[index]
        assert call.name == "lookup" and call.args == {"section": "reset"}
        assert first.text == "Let me look."
        contents: list[Any] = [
            types.Content(role="user", parts=[types.Part(text="Reset?")]),
            first.candidates[0].content,  # type: ignore[index]
            types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
                id=call.id, name="lookup", response={"result": "10s"}))])]
        second = client.models.generate_content(model="gemini-2.5-flash", contents=contents,
                                                config=config)
        assert second.text == SCRIPT[1]
        assert second.usage_metadata.cached_content_token_count  # type: ignore[union-attr]


def test_scripted_gemini_streams_text_then_the_call() -> None:
    with ScriptedGeminiServer(SCRIPT[:1], clock=ManualClock()) as server:
        client = _gemini(server)
        chunks = list(client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Reset?"))
        text = "".join(c.text or "" for c in chunks if not c.function_calls)
        calls = [f for c in chunks for f in c.function_calls or ()]
        assert text == "Let me look." and [f.name for f in calls] == ["lookup"]
        assert chunks[-1].usage_metadata.candidates_token_count  # type: ignore[union-attr]


def test_scripted_gemini_errors_before_and_mid_stream() -> None:
    with ScriptedGeminiServer(["Fine."], clock=ManualClock()) as server:
        client = _gemini(server)
        server.fail_next(429, "Quota exceeded")
        with pytest.raises(genai_errors.ClientError, match="Quota exceeded") as caught:
            client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
        assert caught.value.code == 429
        server.fail_next(503, "Unavailable mid-way", mid_stream=True)
        with pytest.raises(genai_errors.ServerError, match="Unavailable mid-way"):
            for _ in client.models.generate_content_stream(model="gemini-2.5-flash",
                                                           contents="Hi"):
                pass
        assert client.models.generate_content(model="gemini-2.5-flash",
                                              contents="Hi").text == "Fine."


# -- an unknown model (issue 21 item 9) ----------------------------------------------------------


def test_an_unknown_model_is_anthropics_404_and_the_sdk_does_not_retry() -> None:
    with AnthropicServer() as server, anthropic.Anthropic(base_url=server.url, api_key="t") as client:
        with pytest.raises(anthropic.NotFoundError) as e:
            client.messages.create(model="claude-nope-9", max_tokens=5,
                                   messages=[{"role": "user", "content": "hi"}])
        assert e.value.body == {"type": "error", "error": {"type": "not_found_error",
                                                           "message": "model: claude-nope-9"}}
        assert len(server.requests) == 1  # a 500 would have been retried twice
        bedrock = anthropic.AnthropicBedrock(base_url=server.url, aws_region="us-east-1",
                                             api_key="t", max_retries=0)
        with bedrock, pytest.raises(anthropic.NotFoundError, match=r"model: anthropic\.nope"):
            bedrock.messages.create(model="anthropic.nope", max_tokens=5,
                                    messages=[{"role": "user", "content": "hi"}])


def test_an_unknown_model_is_openais_404_on_both_apis() -> None:
    with OpenAIServer() as server, openai.OpenAI(base_url=server.url + "/v1", api_key="t") as client:
        for call in (lambda: client.chat.completions.create(
                         model="gpt-nope", messages=[{"role": "user", "content": "hi"}]),
                     lambda: client.responses.create(model="gpt-nope", input="hi")):
            with pytest.raises(openai.NotFoundError) as e:
                call()
            assert e.value.code == "model_not_found"
            assert e.value.message.endswith("The model `gpt-nope` does not exist or you do not "
                                            "have access to it.")
        assert len(server.requests) == 2


def test_an_unknown_model_is_geminis_404() -> None:
    with GeminiServer() as server:
        client = genai.Client(api_key="t", http_options=types.HttpOptions(
            base_url=server.url, api_version="v1beta"))
        with pytest.raises(genai_errors.ClientError) as e:
            client.models.generate_content(model="gemini-nope", contents="hi")
        assert e.value.code == 404 and e.value.status == "NOT_FOUND"
        assert e.value.message is not None and "models/gemini-nope is not found" in e.value.message
        assert "Traceback" not in str(e.value)
        with pytest.raises(genai_errors.ClientError, match="404"):
            client.caches.create(model="gemini-nope", config={"contents": ["hi"]})
        client.close()
