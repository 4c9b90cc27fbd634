"""SDK objects are accepted anywhere a dict is: builder, Prompt.extend, prompt_from_request,
validate. An object and the dict it stands for give the same blocks (and so the same digests)."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic.types import (
    Message,
    TextBlock,
    ThinkingBlock,
    ToolParam,
    ToolUseBlock,
    Usage,
)
from google.genai import types as gtypes
from openai.types.chat import ChatCompletionMessage, ChatCompletionMessageToolCall
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from promptcache import PromptBuilder, PromptError, prompt_from_request, validate
from promptcache.sdk import plain

from ..helpers import text_of

MODEL = "claude-sonnet-4-6"


def assistant_message() -> Message:
    return Message(
        id="msg_1", type="message", role="assistant", model=MODEL, stop_reason="tool_use",
        content=[ThinkingBlock(type="thinking", thinking="Let me look.", signature="sig"),
                 TextBlock(type="text", text="Looking it up."),
                 ToolUseBlock(type="tool_use", id="toolu_1", name="lookup", input={"q": "x"})],
        usage=Usage(input_tokens=10, output_tokens=5))


def as_dicts() -> list[dict[str, Any]]:
    return [{"type": "thinking", "thinking": "Let me look.", "signature": "sig"},
            {"type": "text", "text": "Looking it up."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}]


def digests(builder: PromptBuilder) -> list[bytes]:
    return [b.digest for b in builder.build().blocks]


def test_response_content_blocks_equal_their_dicts() -> None:
    objects = PromptBuilder(MODEL).add_messages(
        [{"role": "user", "content": "q"},
         {"role": "assistant", "content": assistant_message().content}])
    dicts = PromptBuilder(MODEL).add_messages(
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": as_dicts()}])
    assert digests(objects) == digests(dicts)


def test_a_whole_message_is_appended_as_the_assistant_turn() -> None:
    prompt = PromptBuilder(MODEL).add_messages([{"role": "user", "content": "q"},
                                                assistant_message()]).build()
    assert prompt.turns[-1].role == "assistant"
    assert [b.payload["type"] for b in prompt.blocks[1:]] == ["thinking", "text", "tool_use"]
    assert not prompt.blocks[1].markable  # a thinking block never carries a marker


def test_prompt_extend_accepts_sdk_objects() -> None:
    first = PromptBuilder(MODEL).add_user_turn("q").build()
    later = first.extend([assistant_message(), {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"}]}])
    rebuilt = PromptBuilder(MODEL).add_messages([
        {"role": "user", "content": "q"}, {"role": "assistant", "content": as_dicts()},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": "found"}]}]).build()
    assert later.fingerprints == rebuilt.fingerprints


def test_tool_params_and_openai_function_tools() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    anthropic_tool = ToolParam(name="lookup", description="Look up.", input_schema=schema)
    chat_tool = {"type": "function", "function": {"name": "fetch", "description": "Fetch.",
                                                   "parameters": schema}}
    responses_tool = {"type": "function", "name": "grep", "parameters": schema}
    prompt = PromptBuilder(MODEL).add_tools([anthropic_tool, chat_tool, responses_tool]) \
        .add_user_turn("q").build()
    tools = [b.payload for b in prompt.blocks if b.section == "tools"]
    assert [t["name"] for t in tools] == ["lookup", "fetch", "grep"]
    assert all(t["input_schema"] == schema for t in tools)


def test_nested_objects_are_converted_not_a_type_error() -> None:
    nested = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                           "content": [TextBlock(type="text", text="deep")]}]}
    prompt = PromptBuilder(MODEL).add_messages([nested]).build()
    assert prompt.blocks[0].payload["content"] == [{"type": "text", "text": "deep"}]


def test_prompt_from_request_and_validate_accept_objects() -> None:
    request = {"model": MODEL, "max_tokens": 10, "system": text_of(1_500),
               "tools": [ToolParam(name="lookup", input_schema={"type": "object"})],
               "messages": [{"role": "user", "content": "q"}, assistant_message(),
                            {"role": "user", "content": [{"type": "tool_result",
                                                          "tool_use_id": "toolu_1",
                                                          "content": "found"}]}]}
    prompt = prompt_from_request(request)
    assert [t.role for t in prompt.turns] == ["user", "assistant", "user"]
    assert validate(request).ok


def test_openai_chat_messages_map_to_the_anthropic_shape() -> None:
    call = ChatCompletionMessageToolCall(id="call_1", type="function", function={
        "name": "lookup", "arguments": '{"q": "x"}'})
    reply = ChatCompletionMessage(role="assistant", content=None, tool_calls=[call])
    builder = PromptBuilder().add_messages([
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Cite sources."}]},
        {"role": "user", "content": [{"type": "text", "text": "q"}, {
            "type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        reply,
        {"role": "tool", "tool_call_id": "call_1", "content": "found"},
    ])
    prompt = builder.build(model=MODEL)
    system = [b.payload["text"] for b in prompt.blocks if b.section == "system"]
    assert system == ["Be brief.", "Cite sources."]
    kinds = [(t.role, [prompt.blocks[i].payload["type"] for i in range(t.start, t.stop)])
             for t in prompt.turns]
    assert kinds == [("user", ["text", "image"]), ("assistant", ["tool_use"]),
                     ("user", ["tool_result"])]
    assert prompt.blocks[-2].payload["input"] == {"q": "x"}
    assert prompt.blocks[-1].payload["tool_use_id"] == "call_1"


def test_openai_responses_items_map_to_the_anthropic_shape() -> None:
    said = ResponseOutputMessage(id="m", type="message", role="assistant", status="completed",
                                 content=[ResponseOutputText(type="output_text", text="hi",
                                                             annotations=[])])
    call = ResponseFunctionToolCall(type="function_call", call_id="c1", name="lookup",
                                    arguments="{}")
    prompt = PromptBuilder(MODEL).add_messages([
        {"role": "user", "content": [{"type": "input_text", "text": "q"}]}, said, call,
        {"type": "function_call_output", "call_id": "c1", "output": "found"}]).build()
    assert [b.payload["type"] for b in prompt.blocks] == ["text", "text", "tool_use",
                                                          "tool_result"]


def test_gemini_contents_map_to_the_anthropic_shape() -> None:
    contents = [gtypes.Content(role="user", parts=[gtypes.Part(text="q")]),
                gtypes.Content(role="model", parts=[gtypes.Part(function_call=gtypes.FunctionCall(
                    id="f1", name="lookup", args={"q": "x"}))]),
                gtypes.Content(role="user", parts=[gtypes.Part(
                    function_response=gtypes.FunctionResponse(id="f1", name="lookup",
                                                              response={"output": "found"}))])]
    prompt = PromptBuilder(MODEL).add_messages(contents).build()
    assert [t.role for t in prompt.turns] == ["user", "assistant", "user"]
    assert prompt.blocks[1].payload == {"type": "tool_use", "id": "f1", "name": "lookup",
                                        "input": {"q": "x"}}


def test_a_system_message_cannot_be_appended_by_extend() -> None:
    first = PromptBuilder(MODEL).add_user_turn("q").build()
    with pytest.raises(PromptError) as info:
        first.extend([{"role": "system", "content": "late rules"}])
    assert info.value.path == "messages[1].role"


def test_plain_returns_plain_data_unchanged_and_walks_without_recursion() -> None:
    deep: dict[str, Any] = {"leaf": "x"}
    for _ in range(700):
        deep = {"k": deep}
    assert plain(deep, "input") is deep
    converted = plain({"k": [TextBlock(type="text", text="t")]}, "x")
    assert converted == {"k": [{"type": "text", "text": "t"}]}


def test_unserialisable_values_name_their_path() -> None:
    with pytest.raises(PromptError) as info:
        PromptBuilder(MODEL).add_messages([{"role": "user", "content": [
            {"type": "tool_use", "id": "t", "name": "n", "input": {"when": {1, 2}}}]}])
    assert info.value.path == "messages[0].content[0].input.when"
