"""wrap(client) on anthropic clients: quick-start code, unchanged but for the wrap call, caches.

Every test drives the real ``anthropic`` SDK against the loopback server; the request the server
received is the one the SDK sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from promptcache import CacheState, CacheWarning
from promptcache.cache import MemoryBackend
from promptcache.clock import ManualClock
from promptcache.dropin import UnplannedRequestWarning, unwrap, wrap
from promptcache.limits import limits_for
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.simulator import AnthropicCacheSimulator
from promptcache.testing import AnthropicServer, ScriptedAnthropicServer

from ..helpers import platform_client

MODEL = "claude-sonnet-4-5"
SYSTEM = "You are a meticulous support agent. " + " ".join(f"rule{i}" for i in range(1_500))


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with AnthropicServer(clock=ManualClock()) as s:
        yield s


def client_for(server: AnthropicServer, **kwargs: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0, **kwargs)


def quick_start_chat(client: Any, questions: list[str]) -> list[Any]:
    """The anthropic quick start, continued as a conversation: no promptcache in sight."""
    messages: list[dict[str, Any]] = []
    usages = []
    for question in questions:
        messages.append({"role": "user", "content": question})
        message = client.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM,
                                         messages=messages)
        messages.append({"role": "assistant", "content": message.content})
        usages.append(message.usage)
    return usages


def test_unwrapped_quick_start_never_reads_the_cache(server: AnthropicServer) -> None:
    usages = quick_start_chat(client_for(server), ["Hello, Claude", "And then?"])
    assert [u.cache_read_input_tokens for u in usages] == [0, 0]


def test_wrapped_quick_start_reads_from_cache_on_its_second_turn(server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    usages = quick_start_chat(client, ["Hello, Claude", "And then?", "Thanks"])
    assert usages[0].cache_creation_input_tokens > 3_000
    assert usages[1].cache_read_input_tokens >= usages[0].cache_creation_input_tokens
    assert usages[2].cache_read_input_tokens > usages[1].cache_read_input_tokens
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 3 and totals.cache_read_tokens == sum(
        u.cache_read_input_tokens for u in usages)
    assert totals.billed < totals.uncached
    assert client.promptcache.planned == 3 and client.promptcache.unplanned == 0


def test_the_sent_request_keeps_every_argument_and_the_content(server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    client.messages.create(model=MODEL, max_tokens=77, system=SYSTEM,
                           metadata={"user_id": "u1"}, stop_sequences=["END"],
                           messages=[{"role": "user", "content": "Hi"}])
    sent = server.requests[-1].json()
    assert sent["max_tokens"] == 77
    assert sent["metadata"] == {"user_id": "u1"} and sent["stop_sequences"] == ["END"]
    system = sent["system"] if isinstance(sent["system"], str) else sent["system"][0]["text"]
    content = sent["messages"][0]["content"]
    assert system == SYSTEM and (content == "Hi" or content[0]["text"] == "Hi")
    assert '"cache_control"' in json.dumps(sent)


def test_hand_set_markers_are_kept(server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    system = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    client.messages.create(model=MODEL, max_tokens=10, system=system,
                           messages=[{"role": "user", "content": "Hi"}])
    sent = server.requests[-1].json()
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    plan = client.promptcache.last.plan
    assert plan is not None and any(p.source == "user" for p in plan.placements)


def test_request_level_cache_control_is_kept(server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    client.messages.create(model=MODEL, max_tokens=10, system=SYSTEM, cache_control={
        "type": "ephemeral"}, messages=[{"role": "user", "content": "Hi"}])
    sent = server.requests[-1].json()
    assert sent["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
    markers = sum("cache_control" in b for b in sent["system"]) + sum(
        "cache_control" in b for m in sent["messages"] for b in m["content"])
    assert markers + 1 <= 4


def test_streaming_create_accounts_usage_when_the_stream_ends(server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    for _ in range(2):
        stream = client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM, stream=True,
                                        messages=[{"role": "user", "content": "Hello"}])
        kinds = [event.type for event in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 2 and totals.cache_read_tokens > 3_000


def test_messages_stream_helper_works_and_reads_the_cache(server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    texts = []
    for _ in range(2):
        with client.messages.stream(model=MODEL, max_tokens=64, system=SYSTEM,
                                    messages=[{"role": "user", "content": "Hello"}]) as stream:
            texts.append("".join(stream.text_stream))
            final = stream.get_final_message()
    assert texts == ["Simulated reply."] * 2
    assert final.usage.cache_read_input_tokens > 3_000
    assert client.promptcache.ledger.totals().cache_read_tokens == final.usage.cache_read_input_tokens


async def test_async_client_reads_from_cache_on_its_second_turn(server: AnthropicServer) -> None:
    client = wrap(anthropic.AsyncAnthropic(base_url=server.url, api_key="test", max_retries=0),
                  state=CacheState())
    messages: list[dict[str, Any]] = []
    usages = []
    for question in ["Hello, Claude", "And then?"]:
        messages.append({"role": "user", "content": question})
        message = await client.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM,
                                               messages=messages)
        messages.append({"role": "assistant", "content": message.content})
        usages.append(message.usage)
    async with client.messages.stream(model=MODEL, max_tokens=64, system=SYSTEM,
                                      messages=messages[:1]) as stream:
        async for _ in stream.text_stream:
            pass
    events = [e async for e in await client.messages.create(
        model=MODEL, max_tokens=64, system=SYSTEM, messages=messages[:1], stream=True)]
    await client.close()
    assert usages[1].cache_read_input_tokens > 3_000
    assert events[-1].type == "message_stop"
    assert client.promptcache.ledger.totals().calls == 4


@pytest.mark.parametrize("platform", ["bedrock", "vertex"])
def test_bedrock_and_vertex_clients_plan_with_their_platform(server: AnthropicServer,
                                                             platform: str) -> None:
    client, model = platform_client(server.url, platform)
    wrap(client, state=CacheState())
    usages = []
    for question in ["Hello", "Again"]:
        message = client.messages.create(model=model, max_tokens=64, system=SYSTEM,
                                         messages=[{"role": "user", "content": question}])
        usages.append(message.usage)
    assert usages[1].cache_read_input_tokens > 3_000
    assert client.promptcache.platform == platform
    sent = server.requests[-1].json()
    assert "cache_control" in sent["system"][0] and "cache_control" not in sent


def test_response_content_objects_are_appended_as_they_are(server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    first = client.messages.create(model=MODEL, max_tokens=10, system=SYSTEM,
                                   messages=[{"role": "user", "content": "Hi"}])
    client.messages.create(model=MODEL, max_tokens=10, system=SYSTEM, messages=[
        {"role": "user", "content": "Hi"}, first, {"role": "user", "content": "More"}])
    sent = server.requests[-1].json()
    assert sent["messages"][1]["role"] == "assistant"
    assert sent["messages"][1]["content"][0]["text"] == "Simulated reply."
    assert client.promptcache.unplanned == 0


def test_a_tool_loop_through_the_scripted_server_reads_the_cache() -> None:
    tools = [{"name": "lookup", "description": "Look a word up. " + SYSTEM[:2_000],
              "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]

    def responder(body: Any) -> Any:
        calls = len(body["messages"]) // 2
        if calls < 3:
            return [{"type": "tool_use", "id": f"toolu_{calls}", "name": "lookup",
                     "input": {"q": str(calls)}}]
        return "done"

    with ScriptedAnthropicServer(responder=responder) as scripted:
        client = wrap(anthropic.Anthropic(base_url=scripted.url, api_key="t", max_retries=0),
                      state=CacheState())
        messages: list[Any] = [{"role": "user", "content": "Find it"}]
        while True:
            response = client.messages.create(model=MODEL, max_tokens=256, tools=tools,
                                              system=SYSTEM, messages=messages)
            messages.append({"role": "assistant", "content": response.content})
            if response.stop_reason != "tool_use":
                break
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": b.id, "content": "found"}
                for b in response.content if b.type == "tool_use"]})
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 4 and totals.cache_read_tokens > 3 * 3_000


def test_an_unknown_model_is_sent_exactly_as_written_with_one_warning() -> None:
    limits = limits_for(MODEL, provider="anthropic")
    simulator = AnthropicCacheSimulator(clock=ManualClock(), limits=limits)
    with AnthropicServer(clock=simulator.clock, simulator=simulator) as s:
        client = wrap(client_for(s), state=CacheState())
        request = {"model": "claude-from-the-future", "max_tokens": 10, "system": SYSTEM,
                   "messages": [{"role": "user", "content": "Hi"}]}
        with pytest.warns(UnplannedRequestWarning, match="sent it exactly as written") as seen:
            message = client.messages.create(**request)
        assert len(seen) == 1 and issubclass(seen[0].category, CacheWarning)
        assert message.content[0].text == "Simulated reply."
        assert s.requests[-1].json() == request
        assert client.promptcache.unplanned == 1


def test_an_unmodelled_block_type_is_sent_as_written(server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    odd = {"role": "user", "content": [{"type": "hologram", "data": "x"}]}
    with pytest.warns(UnplannedRequestWarning, match="hologram"):
        client.messages.create(model=MODEL, max_tokens=10, messages=[odd])
    assert server.requests[-1].json()["messages"] == [odd]


def test_response_cache_option_serves_the_repeat_without_a_request(server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState(), response_cache=MemoryBackend())
    request = {"model": MODEL, "max_tokens": 10, "system": SYSTEM,
               "messages": [{"role": "user", "content": "Hi"}]}
    first = client.messages.create(**request)
    second = client.messages.create(**request)
    assert len(server.requests) == 1
    assert second.content[0].text == first.content[0].text
    assert "cache_control" in json.dumps(server.requests[0].json())
    # The hit reached no API: it is neither billed in the ledger nor recorded as a write.
    assert client.promptcache.ledger.totals().calls == 1
    unwrap(client)
    client.messages.create(**request)
    assert len(server.requests) == 2


def test_a_response_cache_hit_never_reaches_the_planner(server: AnthropicServer) -> None:
    # The cache sits above the planning layer and keys on the request as written: a hit is
    # served before any planning (no plan counted, ``last`` still the miss's plan).
    client = wrap(client_for(server), state=CacheState(), response_cache=MemoryBackend())
    request = {"model": MODEL, "max_tokens": 10, "system": SYSTEM,
               "messages": [{"role": "user", "content": "Hi"}]}
    client.messages.create(**request)
    missed = client.promptcache.last
    for _ in range(3):
        client.messages.create(**request)
    assert len(server.requests) == 1
    assert client.promptcache.planned == 1 and client.promptcache.last is missed
    client.messages.create(**{**request, "max_tokens": 11})  # another request: planned, sent
    assert len(server.requests) == 2 and client.promptcache.planned == 2


def test_a_response_cache_hit_is_a_fresh_object_the_caller_may_change() -> None:
    # Each hit is a new Message (a copy of the one the entry was first rebuilt into): changing
    # one at any depth, the tool input included, never reaches the next caller.
    from promptcache.cache.base import HIT_MARKER

    tool = [{"type": "text", "text": "Looking."},
            {"type": "tool_use", "name": "search", "input": {"q": "paris", "tags": ["a"]}}]
    with ScriptedAnthropicServer(script=[tool]) as server:
        client = wrap(client_for(server), state=CacheState(), response_cache=MemoryBackend())
        request = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}
        first = client.messages.create(**request)
        expected = first.model_dump()
        hits = [client.messages.create(**request) for _ in range(3)]
        assert len(server.requests) == 1
        for hit in hits:
            assert hit.model_dump() == expected and getattr(hit, HIT_MARKER) is True
        assert getattr(first, HIT_MARKER, False) is False  # the miss came from the API
        changed = hits[0]
        changed.content[1].input["tags"].append("b")
        changed.content[1].input["q"] = "rome"
        changed.content.append(changed.content[0])
        changed.usage.output_tokens = -1
        changed.stop_reason = None
        assert all(h is not changed for h in hits[1:])
        for hit in [*hits[1:], client.messages.create(**request)]:
            assert hit.model_dump() == expected
        assert first.model_dump() == expected


def test_wrap_and_cache_client_share_entries_of_the_written_request(
        server: AnthropicServer) -> None:
    # One key scheme: the request as the caller wrote it, so a wrapped client and a plain
    # cache_client on one backend serve each other's answers (which differ at most in the cache
    # hints planning adds, never in what the model was asked).
    from promptcache.cache import cache_client

    backend = MemoryBackend()
    wrapped = wrap(client_for(server), state=CacheState(), response_cache=backend)
    plain = cache_client(client_for(server), backend=backend)
    request = {"model": MODEL, "max_tokens": 10, "system": SYSTEM,
               "messages": [{"role": "user", "content": "Hi"}]}
    first = wrapped.messages.create(**request)
    assert "cache_control" in json.dumps(server.requests[0].json())
    assert plain.messages.create(**request).content[0].text == first.content[0].text
    assert len(server.requests) == 1
    other = {**request, "messages": [{"role": "user", "content": "Bye"}]}
    plain.messages.create(**other)
    wrapped.messages.create(**other)
    assert len(server.requests) == 2 and wrapped.promptcache.planned == 1


def test_unwrap_restores_the_sdk_methods(server: AnthropicServer) -> None:
    client = client_for(server)
    original = client.messages.create
    wrap(wrap(client, state=CacheState()), state=CacheState())
    assert client.messages.create != original
    unwrap(client)
    assert client.messages.create == original and not hasattr(client, "promptcache")


class _RefusesMarkers(AnthropicServer):
    """A loopback API that answers 400 to any request carrying cache_control (a stand-in for a
    provider rule promptcache does not know yet)."""

    def message(self, body: Any) -> Any:
        if "cache_control" in json.dumps(body):
            raise SimulatedAPIError("cache_control is not accepted here.", rule="test")
        return super().message(body)


def test_a_planned_request_the_api_refuses_is_sent_again_as_written() -> None:
    with _RefusesMarkers(clock=ManualClock()) as s:
        client = wrap(client_for(s), state=CacheState())
        request = {"model": MODEL, "max_tokens": 10, "system": SYSTEM,
                   "messages": [{"role": "user", "content": "Hi"}]}
        with pytest.warns(UnplannedRequestWarning, match="rejected"):
            message = client.messages.create(**request)
        assert message.content[0].text == "Simulated reply."
        assert [r.json() == request for r in s.requests] == [False, True]
        assert client.promptcache.unplanned == 1 and client.promptcache.ledger.totals().calls == 1


def test_a_request_the_api_refuses_as_written_raises_the_sdk_error() -> None:
    with _RefusesMarkers(clock=ManualClock()) as s:
        client = wrap(client_for(s), state=CacheState())
        system = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
        with pytest.warns(UnplannedRequestWarning), pytest.raises(anthropic.BadRequestError):
            client.messages.create(model=MODEL, max_tokens=10, system=system,
                                   messages=[{"role": "user", "content": "Hi"}])
        assert len(s.requests) == 2


def test_generator_arguments_reach_the_sdk_whole(server: AnthropicServer) -> None:
    client = wrap(client_for(server), state=CacheState())
    tools = ({"name": f"t{i}", "input_schema": {"type": "object"}} for i in range(2))
    client.messages.create(model=MODEL, max_tokens=10, system=SYSTEM, tools=tools,
                           messages=[{"role": "user", "content": "Hi"}])
    assert [t["name"] for t in server.requests[-1].json()["tools"]] == ["t0", "t1"]
