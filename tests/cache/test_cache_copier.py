"""A response-cache hit hands out a fresh deep copy: equal to what was stored, sharing nothing a
caller could change (``endpoints.copier``, which serves every memoised hit)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from google.genai import types
from pydantic import BaseModel

from promptcache.cache.endpoints import copier


def anthropic_message() -> Any:
    return anthropic.types.Message.model_validate({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "search",
                     "input": {"q": "paris", "filters": [{"year": 2024}, "recent"]}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 0,
                  "cache_creation_input_tokens": 0},
        "an_unknown_field": {"kept": ["as", "extra"]},
    })


def openai_completion() -> Any:
    return openai.types.chat.ChatCompletion.model_validate({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None,
                     "message": {"role": "assistant", "content": None, "tool_calls": [
                         {"id": "call_1", "type": "function",
                          "function": {"name": "search", "arguments": "{\"q\": \"paris\"}"}}]}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    })


def gemini_response() -> Any:
    return types.GenerateContentResponse.model_validate({
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Paris."}]},
                        "finish_reason": "STOP"}],
        "create_time": "2026-01-02T03:04:05Z",
        "usage_metadata": {"prompt_token_count": 5, "candidates_token_count": 1},
    })


def bedrock_converse() -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [{"text": "Paris."}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 1},
            "odd": {"a set": {1, 2}, "buffer": bytearray(b"xy")}}


RESPONSES = [anthropic_message, openai_completion, gemini_response, bedrock_converse]


def mutable_parts(value: Any) -> Iterator[Any]:
    """Every object inside ``value`` that a caller could change in place."""
    if isinstance(value, BaseModel):
        yield value
        yield value.__dict__
        yield value.__pydantic_fields_set__
        for part in (value.__dict__, value.__pydantic_extra__ or {}, value.__pydantic_private__ or {}):
            for v in part.values():
                yield from mutable_parts(v)
    elif isinstance(value, list | dict | set | bytearray):
        yield value
        for v in value.values() if isinstance(value, dict) else value:
            yield from mutable_parts(v)


def dumped(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return (type(value), repr(value), value.model_dump(warnings=False), sorted(value.model_fields_set))
    return repr(value)


def vandalise(value: Any) -> None:
    """Change every mutable part of ``value`` in place, as careless caller code might."""
    for part in list(mutable_parts(value)):
        if isinstance(part, BaseModel):
            for name in list(type(part).model_fields)[:2]:
                setattr(part, name, None)
        elif isinstance(part, list | bytearray):
            part.append(0)
        elif isinstance(part, dict):
            part["vandalised"] = True
        elif isinstance(part, set):
            part.add("vandalised")


@pytest.mark.parametrize("make", RESPONSES, ids=lambda f: f.__name__)
def test_each_copy_equals_the_original_and_shares_no_mutable_part(make: Any) -> None:
    original = make()
    copy_of = copier(original)
    first, second = copy_of(), copy_of()
    assert dumped(first) == dumped(second) == dumped(original)  # repr: same key order too
    assert type(first) is type(original)
    ids = [{id(p) for p in mutable_parts(v)} for v in (original, first, second)]
    assert ids[1] and not ids[0] & ids[1] and not ids[1] & ids[2] and not ids[0] & ids[2]


@pytest.mark.parametrize("make", RESPONSES, ids=lambda f: f.__name__)
def test_changing_a_copy_never_changes_the_next(make: Any) -> None:
    copy_of = copier(make())
    first, second = copy_of(), copy_of()
    vandalise(first)
    assert dumped(first) != dumped(make())  # the vandal did change something
    assert dumped(second) == dumped(copy_of()) == dumped(make())


@pytest.mark.parametrize("make", RESPONSES, ids=lambda f: f.__name__)
def test_changing_the_original_after_the_copier_is_built_never_reaches_a_copy(make: Any) -> None:
    original = make()
    copy_of = copier(original)
    vandalise(original)  # the first hit hands out the original itself
    assert dumped(copy_of()) == dumped(make())


def test_immutable_values_are_shared_and_others_are_not() -> None:
    response = gemini_response()
    copied = copier(response)()
    assert copied.create_time == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert copied.candidates[0].finish_reason is response.candidates[0].finish_reason  # an enum
    assert copied.candidates[0].content.parts is not response.candidates[0].content.parts
