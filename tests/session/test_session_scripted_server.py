"""ScriptedAnthropicServer: scripted tool use, thinking, streaming and HTTP errors for users' tests."""

from __future__ import annotations

import anthropic
import pytest

from promptcache.clock import ManualClock
from promptcache.session import ChatSession
from promptcache.testing import ScriptedAnthropicServer
from tests.helpers import text_of

MODEL = "claude-sonnet-4-6"
ASK = [{"role": "user", "content": "Reset my router."}]
SCRIPT = [
    [{"type": "thinking", "thinking": "Look it up first."},
     {"type": "tool_use", "name": "lookup", "input": {"q": "reset"}}],
    "Hold the button for ten seconds.",
]


def client(server: ScriptedAnthropicServer, retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=retries)


def test_the_script_is_served_in_order_with_ids_and_signatures_filled_in() -> None:
    with ScriptedAnthropicServer(SCRIPT) as server:
        first = client(server).messages.create(model=MODEL, max_tokens=256, messages=ASK)
        thinking, call = first.content
        assert first.stop_reason == "tool_use" and call.type == "tool_use"
        assert call.id.startswith("toolu_") and call.input == {"q": "reset"}
        assert thinking.type == "thinking" and thinking.signature.startswith("sig_")
        history = [*ASK, {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                   {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                                 "content": "hold it"}]}]
        second = client(server).messages.create(model=MODEL, max_tokens=256, messages=history)
        assert second.stop_reason == "end_turn" and second.content[0].text == SCRIPT[1]
        assert server.steps_used == 2
        with pytest.raises(anthropic.InternalServerError, match="the script has 2 replies"):
            client(server).messages.create(model=MODEL, max_tokens=256, messages=ASK)


def test_a_thinking_block_with_a_signature_the_server_never_issued_is_refused() -> None:
    forged = [*ASK, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "x", "signature": "made-up"},
        {"type": "text", "text": "ok"}]}, {"role": "user", "content": "and?"}]
    with ScriptedAnthropicServer(["fine"]) as server, pytest.raises(
            anthropic.BadRequestError, match="Invalid `signature`"):
        client(server).messages.create(model=MODEL, max_tokens=256, messages=forged)
    with ScriptedAnthropicServer(["fine"], check_signatures=False) as server:
        assert client(server).messages.create(model=MODEL, max_tokens=256,
                                              messages=forged).content[0].text == "fine"


def test_streamed_replies_carry_tool_use_and_signed_thinking() -> None:
    with ScriptedAnthropicServer(SCRIPT) as server, client(server).messages.stream(
            model=MODEL, max_tokens=256, messages=ASK) as stream:
        message = stream.get_final_message()
    thinking, call = message.content
    assert thinking.thinking == "Look it up first." and thinking.signature.startswith("sig_")
    assert call.input == {"q": "reset"} and message.stop_reason == "tool_use"


def test_scripted_errors_reach_the_client_then_the_server_recovers() -> None:
    with ScriptedAnthropicServer(reply="ok") as server:
        server.fail_next(529, "Overloaded")
        with pytest.raises(anthropic.APIStatusError) as e:
            client(server).messages.create(model=MODEL, max_tokens=16, messages=ASK)
        assert e.value.status_code == 529 and e.value.body["error"]["type"] == "overloaded_error"
        server.fail_next(429, "Slow down", times=2, headers={"retry-after": "0"})
        reply = client(server, retries=2).messages.create(model=MODEL, max_tokens=16, messages=ASK)
        assert reply.content[0].text == "ok" and len(server.requests) == 4


def test_a_stream_that_fails_midway_leaves_the_session_as_it_was() -> None:
    clock = ManualClock(1_000.0)
    with ScriptedAnthropicServer(clock=clock, reply="Fine " + text_of(20)) as server:
        chat = ChatSession(client(server), model=MODEL, system=text_of(2_000), clock=clock)
        chat.send("one")
        server.fail_next(529, "Overloaded", mid_stream=True)
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"), \
                chat.stream("two") as stream:
            list(stream)
        assert len(chat.history) == 2 and chat.stats.requests == 1
        retry = chat.send("two")
        assert retry.usage.cache_read_tokens > 2_000 and len(chat.history) == 4
