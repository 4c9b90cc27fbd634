"""Rendering for Anthropic: every block type goes through the real SDK client unchanged."""

from __future__ import annotations

import base64
import json
import struct
import zlib

import anthropic
import pytest

from promptcache import Document, PromptBuilder, PromptError, Reuse, optimize, render_anthropic
from promptcache.testing import AnthropicServer

from ..helpers import text_of, tool


def _png(width: int, height: int) -> str:
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) \
        + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


def every_block_type_prompt() -> PromptBuilder:
    b = PromptBuilder("claude-sonnet-4-6").add_tools([tool("search", 300), tool("fetch", 300)])
    b.add_system(text_of(1_500)).add_examples([("2+2?", "4")])
    b.add_documents([Document(id="kb-1", title="Handbook", text=text_of(1_200, 3),
                              metadata={"source": "wiki"})], reuse=Reuse(uses=6))
    b.add_messages([
        {"role": "user", "content": [
            {"type": "text", "text": "Look at this picture and this file."},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": _png(40, 30)}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                            "data": text_of(300, 8)}, "title": "notes"},
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should search.", "signature": "c2ln"},
            {"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"},
            {"type": "text", "text": "Searching."},
            {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "cats"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1",
             "content": [{"type": "text", "text": text_of(200, 9)}]},
        ]},
        {"role": "assistant", "content": "Cats are mammals."},
    ])
    return b.add_user_turn("And dogs?").set_params(
        max_tokens=64, thinking={"type": "enabled", "budget_tokens": 1024})


def test_every_block_type_goes_through_the_real_client_as_built() -> None:
    prompt = every_block_type_prompt().build()
    kwargs = render_anthropic(prompt, optimize(prompt))
    with AnthropicServer() as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test-key", max_retries=0)
        message = client.messages.create(**kwargs)
    assert message.usage.input_tokens >= 0
    sent = server.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.json() == json.loads(json.dumps(kwargs))


def test_render_marks_exactly_the_planned_blocks() -> None:
    prompt = every_block_type_prompt().build()
    plan = optimize(prompt)
    kwargs = render_anthropic(prompt, plan)
    found = []
    for i, t in enumerate(kwargs["tools"]):
        if "cache_control" in t:
            found.append((f"tools[{i}]", t["cache_control"]["ttl"]))
    for i, s in enumerate(kwargs["system"]):
        if "cache_control" in s:
            found.append((f"system[{i}]", s["cache_control"]["ttl"]))
    for m, message in enumerate(kwargs["messages"]):
        for c, block in enumerate(message["content"]):
            if "cache_control" in block:
                found.append((f"messages[{m}].content[{c}]", block["cache_control"]["ttl"]))
    assert found == [(p.path, p.ttl) for p in plan.placements]


def test_render_does_not_mutate_the_prompt() -> None:
    prompt = every_block_type_prompt().build()
    before = [dict(b.payload) for b in prompt.blocks]
    render_anthropic(prompt, optimize(prompt))
    assert [dict(b.payload) for b in prompt.blocks] == before


def test_render_requires_max_tokens() -> None:
    prompt = PromptBuilder("claude-sonnet-4-6").add_user_turn("hi").build()
    with pytest.raises(PromptError, match="max_tokens"):
        render_anthropic(prompt)


def test_render_rejects_a_parameter_the_sdk_does_not_have() -> None:
    prompt = PromptBuilder("claude-sonnet-4-6").add_user_turn("hi").set_params(
        max_tokens=5, temperature=0.2).build()
    with pytest.raises(PromptError, match="temperature"):
        render_anthropic(prompt)


def test_automatic_cache_control_renders_at_request_level() -> None:
    prompt = every_block_type_prompt().build()
    kwargs = render_anthropic(prompt, optimize(prompt, automatic="5m"))
    assert kwargs["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
    with AnthropicServer() as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
        client.messages.create(**kwargs)
    assert server.requests[-1].json()["cache_control"] == {"type": "ephemeral", "ttl": "5m"}


def test_second_identical_request_reads_what_the_first_wrote() -> None:
    prompt = every_block_type_prompt().build()
    kwargs = render_anthropic(prompt, optimize(prompt))
    with AnthropicServer() as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
        first = client.messages.create(**kwargs)
        server.clock.now()  # the wall clock moves on; the entry is readable once written
        import time

        time.sleep(0.6)  # the simulator makes an entry readable once the first response started
        second = client.messages.create(**kwargs)
    assert (first.usage.cache_creation_input_tokens or 0) > 0
    assert (first.usage.cache_read_input_tokens or 0) == 0
    assert (second.usage.cache_read_input_tokens or 0) == first.usage.cache_creation_input_tokens
