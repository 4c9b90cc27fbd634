"""ChatSession on OpenAI (chat completions, responses) and Gemini, through the real SDK clients.

The same session API as on Anthropic (tests/session/test_session.py): a 10-turn chat reads from cache
from turn 2, the history only grows (so the provider's prefix cache keeps matching), streaming
and async sessions end in the same history and usage as plain sends, and tool loops round-trip
the call ids. OpenAI and Gemini tool calls come from small servers defined here on top of the
shipped loopback servers.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from promptcache.clock import ManualClock
from promptcache.providers._loopback import Exchange
from promptcache.session import AsyncChatSession, ChatSession, Reply, ToolCall
from promptcache.testing import (
    GeminiServer,
    OpenAIServer,
    ScriptedGeminiServer,
    ScriptedOpenAIServer,
)
from tests.helpers import text_of, tool

SYSTEM = text_of(3_000)
TOOLS = [tool("search"), tool("fetch")]
KINDS = ["openai-chat", "openai-responses", "gemini"]
MODELS = {"openai-chat": "gpt-5", "openai-responses": "gpt-5", "gemini": "gemini-2.5-flash"}


def answer(body: Any) -> str:
    return "Answer " + text_of(40)


class ToolChatServer(OpenAIServer):
    """Asks for ``calls`` tool calls per round, ``rounds`` rounds after each user question
    (chat completions ``tool_calls``, responses ``function_call`` items)."""

    def __init__(self, *, calls: int, rounds: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.calls, self.rounds = calls, rounds

    def _chat(self, exchange: Exchange) -> None:
        body = exchange.body()
        done = 0
        for message in reversed(body["messages"]):
            if message["role"] == "assistant" and message.get("tool_calls"):
                done += 1
            elif message["role"] == "user":
                break
        if done >= self.rounds or body.get("stream"):
            super()._chat(exchange)
            return
        result = self.simulator.chat(body, output_tokens=20)
        n = len(body["messages"])
        calls = [{"id": f"call_{n}_{i}", "type": "function",
                  "function": {"name": "search", "arguments": json.dumps({"q": f"{n}.{i}"})}}
                 for i in range(self.calls)]
        exchange.send_json(200, {
            "id": f"chatcmpl-tool{n}", "object": "chat.completion", "created": 0,
            "model": body["model"], "usage": result.usage,
            "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None,
                         "message": {"role": "assistant", "content": None, "refusal": None,
                                     "tool_calls": calls}}]})


    def _responses(self, exchange: Exchange) -> None:
        body = exchange.body()
        done = 0
        for item in reversed(body["input"]):
            if item.get("type") == "function_call":
                done += 1
            elif item.get("role") == "user":
                break
        rounds_done = done // max(1, self.calls)
        if rounds_done >= self.rounds or body.get("stream"):
            super()._responses(exchange)
            return
        result = self.simulator.responses(body, output_tokens=20)
        n = len(body["input"])
        calls = [{"type": "function_call", "id": f"fc_{n}_{i}", "call_id": f"call_{n}_{i}",
                  "name": "search", "arguments": json.dumps({"q": f"{n}.{i}"}),
                  "status": "completed"} for i in range(self.calls)]
        exchange.send_json(200, {
            "id": f"resp_tool{n}", "object": "response", "created_at": 0, "status": "completed",
            "model": body["model"], "output": calls, "usage": result.usage, "error": None,
            "incomplete_details": None, "instructions": None, "metadata": {},
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": body.get("tools") or [],
            "temperature": 1.0, "top_p": 1.0, "text": {"format": {"type": "text"}}})


class ToolGeminiServer(GeminiServer):
    """The Gemini twin of :class:`ToolChatServer` (``functionCall`` parts)."""

    def __init__(self, *, calls: int, rounds: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.calls, self.rounds = calls, rounds

    def _generate(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        done = 0
        for content in reversed(body.get("contents") or []):
            parts = content.get("parts") or []
            if content.get("role") == "model" and any("functionCall" in p for p in parts):
                done += 1
            elif content.get("role") == "user" and not any("functionResponse" in p for p in parts):
                break
        if done >= self.rounds:
            return super()._generate(model, body)
        result = self.simulator.generate(model, body, output_tokens=20)
        n = len(body.get("contents") or [])
        parts = [{"functionCall": {"id": f"fc_{n}_{i}", "name": "search", "args": {"q": f"{n}.{i}"}}}
                 for i in range(self.calls)]
        return {"candidates": [{"content": {"role": "model", "parts": parts},
                                "finishReason": "STOP", "index": 0}],
                "usageMetadata": result.usage_metadata, "modelVersion": model,
                "responseId": f"tool{n}"}


def server_for(kind: str, clock: ManualClock, **tools: int) -> Any:
    if kind == "gemini":
        return ToolGeminiServer(clock=clock, reply=answer, calls=tools.get("calls", 0),
                                rounds=tools.get("rounds", 0))
    return ToolChatServer(clock=clock, reply=answer, calls=tools.get("calls", 0),
                          rounds=tools.get("rounds", 0))


def client_for(kind: str, server: Any, *, asynchronous: bool = False, http: Any = None) -> Any:
    if kind == "gemini":
        # An explicit httpx2 client for async: google-genai's default aiohttp session trips a
        # DeprecationWarning, an error under this project's pytest settings.
        return genai.Client(api_key="test", http_options=types.HttpOptions(
            base_url=server.url, httpx_async_client=http))
    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    return cls(base_url=server.url + "/v1", api_key="test", max_retries=0)


def session_kwargs(kind: str, clock: ManualClock) -> dict[str, Any]:
    kw: dict[str, Any] = {"model": MODELS[kind], "tools": TOOLS, "system": SYSTEM, "clock": clock}
    if kind == "openai-responses":
        kw["api"] = "responses"
    return kw


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000.0)


@pytest.fixture
def server(kind: str, clock: ManualClock) -> Iterator[Any]:
    with server_for(kind, clock) as srv:
        yield srv


def sent_history(kind: str, body: dict[str, Any]) -> list[Any]:
    return list(body["contents" if kind == "gemini" else
                     "input" if kind == "openai-responses" else "messages"])


def test_ten_turn_chat_reads_from_cache_from_turn_two(kind: str, server: Any, clock: ManualClock) -> None:
    with ChatSession(client_for(kind, server), **session_kwargs(kind, clock)) as chat:
        replies = []
        for turn in range(10):
            replies.append(chat.send(f"question {turn}: " + text_of(50, turn)))
            clock.advance(20)
        assert chat.provider == ("gemini" if kind == "gemini" else "openai")
        assert all(r.usage.cache_read_tokens >= 3_000 for r in replies[1:])
        assert all(r.miss is None for r in replies)
        assert chat.stats.requests == 10 and chat.stats.hit_rate > 0.75
        assert len(chat.history) == 20 and replies[-1].text.startswith("Answer")
    # The history only grows: each request starts with everything the previous one sent.
    bodies = [r.json() for r in server.requests if r.method == "POST" and "cachedContents" not in r.path]
    for before, after in itertools.pairwise(bodies):
        assert sent_history(kind, after)[:len(sent_history(kind, before))] == sent_history(kind, before)


def test_streaming_ends_in_the_same_history_and_usage_as_sending(kind: str) -> None:
    outcomes = []
    for streamed in (False, True):
        clock = ManualClock(1_000.0)
        with server_for(kind, clock) as srv, ChatSession(client_for(kind, srv),
                                                         **session_kwargs(kind, clock)) as chat:
            texts = []
            for turn in range(3):
                if streamed:
                    with chat.stream(f"question {turn}") as stream:
                        texts.append("".join(stream))
                    assert stream.reply.text == texts[-1]
                else:
                    texts.append(chat.send(f"question {turn}").text)
                clock.advance(20)
            outcomes.append((texts, chat.history, [r.usage for r in chat.replies]))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][2][2].cache_read_tokens > 0


async def test_async_sessions_match_sync_ones(kind: str) -> None:
    results = []
    for asynchronous in (False, True):
        clock = ManualClock(1_000.0)
        with server_for(kind, clock) as srv:
            http = httpx2.AsyncClient()
            client = client_for(kind, srv, asynchronous=asynchronous, http=http)
            if asynchronous:
                async with AsyncChatSession(client, **session_kwargs(kind, clock)) as achat:
                    await achat.send("first")
                    async with achat.stream("second") as stream:
                        streamed = "".join([t async for t in stream])
                    assert stream.reply.text == streamed
                    await achat.send("third")
                    results.append((achat.history, [r.usage for r in achat.replies]))
                if kind != "gemini":
                    await client.close()
            else:
                with ChatSession(client, **session_kwargs(kind, clock)) as chat:
                    for q in ("first", "second", "third"):
                        chat.send(q)
                    results.append((chat.history, [r.usage for r in chat.replies]))
            await http.aclose()
    assert results[0] == results[1]


@pytest.mark.parametrize("kind", KINDS)
def test_a_tool_loop_round_trips_call_ids_and_reports_the_whole_run(kind: str, clock: ManualClock) -> None:
    with server_for(kind, clock, calls=3, rounds=2) as srv, \
            ChatSession(client_for(kind, srv), **session_kwargs(kind, clock)) as chat:
        seen: list[ToolCall] = []

        def search(call: ToolCall) -> str:
            seen.append(call)
            return f"result for {call.input['q']}"

        reply = chat.run("find it", search)
        assert reply.text.startswith("Answer") and len(reply.steps) == 3 and len(seen) == 6
        assert [s.stop_reason for s in reply.steps] == ["tool_use", "tool_use", "end_turn"]
        assert_run_totals(reply)
        assert reply.steps[2].usage.cache_read_tokens >= 3_000
        last = srv.requests[-1].json()
        if kind == "gemini":
            answered = [p["functionResponse"]["id"] for c in last["contents"] for p in c["parts"]
                        if "functionResponse" in p]
        elif kind == "openai-responses":
            answered = [i["call_id"] for i in last["input"] if i.get("type") == "function_call_output"]
        else:
            answered = [m["tool_call_id"] for m in last["messages"] if m["role"] == "tool"]
        assert answered == [c.id for c in seen]


def assert_run_totals(reply: Reply) -> None:
    steps = reply.steps
    assert reply.usage.cache_read_tokens == sum(s.usage.cache_read_tokens for s in steps)
    assert reply.usage.input_tokens == sum(s.usage.input_tokens for s in steps)
    assert reply.usage.cache_write_tokens == sum(s.usage.cache_write_tokens for s in steps)
    assert reply.usage.output_tokens == sum(s.usage.output_tokens for s in steps)
    assert reply.cost_usd == pytest.approx(sum(s.cost_usd or 0.0 for s in steps))


def test_gemini_keeps_the_stable_prefix_in_an_explicit_cache_and_deletes_it_on_close(
        clock: ManualClock) -> None:
    with server_for("gemini", clock) as srv:
        chat = ChatSession(client_for("gemini", srv), **session_kwargs("gemini", clock))
        first = chat.send("hello")
        assert first.plan.mode == "explicit" and first.usage.cache_read_tokens >= 3_000
        assert len(srv.simulator.list_caches(page_size=10)["cachedContents"]) == 1
        chat.close()
        assert srv.simulator.list_caches(page_size=10).get("cachedContents", []) == []


@pytest.mark.parametrize("kind", ["openai-chat", "openai-responses"])
def test_openai_requests_carry_one_routing_key_every_turn(
        server: Any, kind: str, clock: ManualClock) -> None:
    chat = ChatSession(client_for(kind, server), **session_kwargs(kind, clock))
    for turn in range(3):
        chat.send(f"q{turn}")
    keys = {r.json()["prompt_cache_key"] for r in server.requests}
    assert len(keys) == 1 and chat.replies[0].plan.settings["prompt_cache_key"] in keys


def test_an_async_client_in_a_sync_session_is_refused(clock: ManualClock) -> None:
    from promptcache.errors import ProviderError

    client = openai.AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="t")
    with pytest.raises(ProviderError, match="use AsyncChatSession"):
        ChatSession(client, model="gpt-5", clock=clock)


def test_a_gemini_cache_deleted_elsewhere_is_recreated_and_the_send_succeeds(
        clock: ManualClock) -> None:
    with server_for("gemini", clock) as srv:
        chat = ChatSession(client_for("gemini", srv), **session_kwargs("gemini", clock))
        first = chat.send("hello")
        name = first.plan.settings["cached_content"]
        srv.simulator.delete_cache(name)  # another process, or an operator, deleted it
        second = chat.send("again")
        assert second.plan.settings["cached_content"] != name
        assert second.usage.cache_read_tokens >= 3_000 and len(chat.history) == 4
        chat.close()


# -- the SDK's own exceptions and regenerate, on OpenAI and Gemini ------------------------------

def test_openai_session_errors_are_the_sdk_types_and_regenerate_replaces_the_reply() -> None:
    clock = ManualClock()
    with ScriptedOpenAIServer(["one", "two"], clock=clock) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="t", max_retries=0)
        chat = ChatSession(client, model="gpt-5", system=SYSTEM, clock=clock)
        server.fail_next(429, "Slow down")
        with pytest.raises(openai.RateLimitError):
            chat.send("question")
        assert chat.history == () and chat.send("question").text == "one"
        again = chat.regenerate()
        assert again.text == "two" and len(chat.history) == 2
        assert again.usage.cache_read_tokens > 2_000


def test_gemini_session_errors_are_the_sdk_types() -> None:
    clock = ManualClock()
    with ScriptedGeminiServer(["Fine."], clock=clock) as server:
        client = genai.Client(api_key="x", http_options=types.HttpOptions(base_url=server.url))
        chat = ChatSession(client, model="gemini-2.5-flash", system=SYSTEM, clock=clock)
        server.fail_next(503, "Unavailable")
        with pytest.raises(genai_errors.ServerError) as e:
            chat.send("question")
        assert e.value.code == 503 and chat.history == ()
        assert chat.send("question").text == "Fine."
