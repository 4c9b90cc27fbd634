"""The OpenAI and Gemini renderers refuse input no API accepts with a PromptError naming it.

Issue 21 items 4 and 8: a prompt with no turns rendered an empty message list; a tool schema
nested 300 levels deep raised RecursionError; ``stop_sequences=None``, a tool_result whose
content is a number and a text block without ``text`` raised TypeError or KeyError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from promptcache import Prompt, PromptBuilder, PromptError
from promptcache.gemini import render_gemini, render_gemini_openai_compatible
from promptcache.openai import render_openai_chat, render_openai_responses
from promptcache.providers.common import MAX_NESTING
from promptcache.testing import OpenAIServer

Render = Callable[[Prompt], Any]

RENDERERS: dict[str, Render] = {
    "openai-chat": lambda p: render_openai_chat(p, model="gpt-4o"),
    "openai-responses": lambda p: render_openai_responses(p, model="gpt-4o"),
    "gemini": lambda p: render_gemini(p, model="gemini-2.5-flash"),
    "gemini-openai-compatible": lambda p: render_gemini_openai_compatible(p, model="gemini-2.5-flash"),
}
every_renderer = pytest.mark.parametrize("render", RENDERERS.values(), ids=RENDERERS.keys())


def nested_schema(levels: int) -> dict[str, Any]:
    """An object schema ``levels`` properties deep (two JSON levels each)."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def with_tool(schema: dict[str, Any]) -> Prompt:
    return (PromptBuilder("claude-sonnet-4-6")
            .add_tools([{"name": "deep", "description": "d", "input_schema": schema}])
            .add_user_turn("hi").set_params(max_tokens=16).build())


def user_turn(content: Any, **params: Any) -> Prompt:
    return (PromptBuilder("claude-sonnet-4-6").add_user_turn(content)
            .set_params(max_tokens=16, **params).build())


@every_renderer
def test_a_prompt_with_no_turns_is_refused(render: Render) -> None:
    prompt = PromptBuilder("claude-sonnet-4-6").add_system("You are terse.").build()
    with pytest.raises(PromptError, match="needs at least one message"):
        render(prompt)


@every_renderer
def test_a_tool_schema_nested_past_the_limit_is_a_prompt_error_naming_the_tool(render: Render) -> None:
    with pytest.raises(PromptError, match=f"more than {MAX_NESTING} JSON levels") as e:
        render(with_tool(nested_schema(300)))
    assert e.value.path is not None and e.value.path.startswith("tools[0]")


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as s:
        yield s


def test_a_deep_but_real_schema_still_reaches_the_api(server: OpenAIServer) -> None:
    rendered = render_openai_chat(with_tool(nested_schema(MAX_NESTING // 2 - 2)), model="gpt-4o")
    with openai.OpenAI(base_url=server.url + "/v1", api_key="t", max_retries=0) as client:
        client.chat.completions.create(**rendered.kwargs)
    assert server.requests[-1].json()["tools"][0]["function"]["name"] == "deep"


@pytest.mark.parametrize("render", [RENDERERS["openai-chat"], RENDERERS["gemini-openai-compatible"]],
                         ids=["openai-chat", "gemini-openai-compatible"])
def test_stop_sequences_none_sends_no_stop_and_a_non_list_is_a_prompt_error(render: Render) -> None:
    assert "stop" not in render(user_turn("hi", stop_sequences=None)).kwargs
    assert render(user_turn("hi", stop_sequences=["\n"])).kwargs["stop"] == ["\n"]
    with pytest.raises(PromptError) as e:
        render(user_turn("hi", stop_sequences="END"))  # list("END") sent three stop sequences
    assert e.value.path == "stop_sequences"


@pytest.mark.parametrize("render", [RENDERERS["openai-chat"], RENDERERS["openai-responses"]],
                         ids=["openai-chat", "openai-responses"])
def test_a_tool_result_whose_content_is_not_text_or_blocks_is_a_prompt_error(render: Render) -> None:
    with pytest.raises(PromptError) as e:
        render(user_turn([{"type": "tool_result", "tool_use_id": "t", "content": 5}]))
    assert e.value.path == "messages[0].content[0].content"


def test_a_text_block_without_text_inside_a_tool_result_is_a_prompt_error() -> None:
    prompt = user_turn([{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text"}]}])
    with pytest.raises(PromptError) as e:
        render_openai_responses(prompt, model="gpt-4o")
    assert e.value.path == "messages[0].content[0].content[0].text"
