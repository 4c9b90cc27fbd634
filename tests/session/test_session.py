"""ChatSession and AsyncChatSession through the real anthropic clients against the loopback simulator."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

import anthropic
import pytest

from promptcache.clock import ManualClock
from promptcache.errors import PromptError, ProviderError, RuleViolation
from promptcache.providers.anthropic.scripted import ScriptedAnthropicServer
from promptcache.session import AsyncChatSession, ChatSession, Reply, ToolCall
from tests.helpers import text_of, tool

MODEL = "claude-sonnet-4-6"
SYSTEM = text_of(2_000)
TOOLS = [tool("search"), tool("fetch")]


def markers(body: Mapping[str, Any]) -> list[str]:
    """Paths of every cache_control in a recorded request body."""
    out = [f"tools[{i}]" for i, t in enumerate(body.get("tools", [])) if "cache_control" in t]
    out += [f"system[{i}]" for i, b in enumerate(body.get("system", [])) if "cache_control" in b]
    for m, message in enumerate(body["messages"]):
        content = message["content"]
        if isinstance(content, list):
            out += [f"messages[{m}].content[{c}]" for c, b in enumerate(content) if "cache_control" in b]
    return out


def tool_loop_responder(calls: int, rounds: int) -> Any:
    """``calls`` tool_use blocks per assistant turn for ``rounds`` rounds, then a text answer."""

    def respond(body: Mapping[str, Any]) -> list[dict[str, Any]]:
        answered = 0
        for message in reversed(body["messages"]):
            content = message["content"]
            is_results = isinstance(content, list) and content[0]["type"] == "tool_result"
            if message["role"] == "user" and is_results:
                answered += 1
            elif message["role"] == "user":
                break
        if answered >= rounds:
            return [{"type": "text", "text": "All done."}]
        turn = len(body["messages"])
        return [{"type": "thinking", "thinking": f"plan {turn}", "signature": f"sig-{turn}=="},
                *({"type": "tool_use", "id": f"toolu_{turn}_{i}", "name": "search",
                   "input": {"q": f"q{turn}.{i}"}} for i in range(calls))]

    return respond


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000.0)


@pytest.fixture
def server(clock: ManualClock) -> Iterator[ScriptedAnthropicServer]:
    with ScriptedAnthropicServer(clock=clock, reply=lambda body: "Answer " + text_of(40)) as srv:
        yield srv


@pytest.fixture
def client(server: ScriptedAnthropicServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)


def session(client: Any, clock: ManualClock, **kw: Any) -> ChatSession:
    return ChatSession(client, model=MODEL, tools=TOOLS, system=SYSTEM, clock=clock, **kw)


def assert_reads_all_but_newest(replies: list[Reply]) -> None:
    for before, after in itertools.pairwise(replies):
        assert after.usage.cache_read_tokens == before.usage.prompt_tokens
        assert after.miss is None


# -- incremental caching -----------------------------------------------------------------------


def test_ten_turn_chat_reads_everything_but_the_newest_turn(
        client: anthropic.Anthropic, server: ScriptedAnthropicServer, clock: ManualClock) -> None:
    chat = session(client, clock)
    replies = []
    for turn in range(10):
        replies.append(chat.send(f"question {turn}: " + text_of(50, turn)))
        clock.advance(20)
    assert_reads_all_but_newest(replies)
    for reply in replies[1:]:
        newest = reply.usage.cache_write_tokens + reply.usage.input_tokens
        assert 0 < newest < 200  # the previous answer and the new question, nothing more
    for request in server.requests:
        marks = markers(request.json())
        assert len(marks) <= 4 and "system[0]" in marks
    assert len(chat.history) == 20


def test_conversation_breakpoint_moves_to_the_newest_turn(
        client: anthropic.Anthropic, server: ScriptedAnthropicServer, clock: ManualClock) -> None:
    chat = session(client, clock)
    for turn in range(3):
        chat.send(f"question {turn}")
    assert [markers(r.json())[-1] for r in server.requests] == [
        "messages[0].content[0]", "messages[2].content[0]", "messages[4].content[0]"]


def test_tool_loop_with_14_calls_a_turn_keeps_hitting(clock: ManualClock) -> None:
    with ScriptedAnthropicServer(clock=clock, responder=tool_loop_responder(14, rounds=2)) as srv:
        client = anthropic.Anthropic(base_url=srv.url, api_key="test", max_retries=0)
        chat = session(client, clock)
        for turn in range(3):
            chat.run(f"task {turn}", lambda call: text_of(30, len(call.id)))
            clock.advance(15)
        replies = list(chat.replies)
        assert len(replies) == 9 and all(r.stop_reason == "tool_use" for r in replies[::3][:1])
        assert_reads_all_but_newest(replies)
        assert all(len(markers(r.json())) <= 4 for r in srv.requests)
        # each step adds 29 blocks, beyond the 20-block lookback: a bridge reads the old prefix
        assert any("lookback bridge" in p.reason for r in replies[1:] for p in r.plan.placements)


def test_thinking_blocks_are_sent_back_byte_for_byte(clock: ManualClock) -> None:
    with ScriptedAnthropicServer(clock=clock, responder=tool_loop_responder(2, rounds=1)) as srv:
        client = anthropic.Anthropic(base_url=srv.url, api_key="test", max_retries=0)
        chat = session(client, clock)
        first = chat.send("go")
        assert first.tool_calls == (ToolCall(id="toolu_1_0", name="search", input={"q": "q1.0"}),
                                    ToolCall(id="toolu_1_1", name="search", input={"q": "q1.1"}))
        chat.send_tool_results({"toolu_1_0": "a", "toolu_1_1": [{"type": "text", "text": "b"}]})
        sent = srv.requests[-1].json()["messages"][1]["content"][0]
        assert sent == {"type": "thinking", "thinking": "plan 1", "signature": "sig-1=="}


def test_tool_results_must_answer_exactly_the_pending_calls(clock: ManualClock) -> None:
    with ScriptedAnthropicServer(clock=clock, responder=tool_loop_responder(2, rounds=1)) as srv:
        chat = session(anthropic.Anthropic(base_url=srv.url, api_key="t", max_retries=0), clock)
        chat.send("go")
        with pytest.raises(RuleViolation) as e:
            chat.send_tool_results({"toolu_1_0": "a"})
        assert e.value.rule == "tool-result-pairing" and e.value.path == "messages[2]"
        assert "toolu_1_1" in str(e.value)
        assert len(srv.requests) == 1


def test_a_failing_tool_is_answered_as_an_error(clock: ManualClock) -> None:
    with ScriptedAnthropicServer(clock=clock, responder=tool_loop_responder(1, rounds=1)) as srv:
        chat = session(anthropic.Anthropic(base_url=srv.url, api_key="t", max_retries=0), clock)

        def broken(call: ToolCall) -> str:
            raise LookupError("no such page")

        assert chat.run("go", broken).text == "All done."
        result = srv.requests[-1].json()["messages"][2]["content"][0]
        assert result["is_error"] is True and "no such page" in result["content"]


# -- streaming and async ---------------------------------------------------------------------------


def test_streamed_turns_append_and_keep_hitting(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    chat = session(client, clock)
    texts = []
    for turn in range(3):
        with chat.stream(f"question {turn}") as stream:
            texts.append("".join(stream))
        assert stream.reply.text == texts[-1]
    assert texts[0].startswith("Answer ")
    assert_reads_all_but_newest(list(chat.replies))
    assert chat.history[-1] == {"role": "assistant", "content": [{"type": "text", "text": texts[-1]}]}


def test_streamed_tool_loop_keeps_thinking_and_hits(clock: ManualClock) -> None:
    with ScriptedAnthropicServer(clock=clock, responder=tool_loop_responder(14, rounds=1)) as srv:
        chat = session(anthropic.Anthropic(base_url=srv.url, api_key="t", max_retries=0), clock)
        with chat.stream("go") as stream:
            list(stream)
        calls = stream.reply.tool_calls
        assert len(calls) == 14 and stream.reply.content[0]["signature"] == "sig-1=="
        with chat.stream_tool_results({c.id: "ok" for c in calls}) as stream:
            assert "".join(stream) == "All done."
        assert_reads_all_but_newest(list(chat.replies))


def test_an_interrupted_stream_leaves_the_history_unchanged(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    chat = session(client, clock)
    with pytest.raises(KeyboardInterrupt), chat.stream("question") as stream:
        next(iter(stream))
        raise KeyboardInterrupt
    assert chat.history == () and chat.stats.requests == 0


async def test_async_session_sends_streams_and_hits(
        server: ScriptedAnthropicServer, clock: ManualClock) -> None:
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="test", max_retries=0)
    chat = AsyncChatSession(client, model=MODEL, tools=TOOLS, system=SYSTEM, clock=clock)
    await chat.send("first")
    async with chat.stream("second") as stream:
        text = "".join([t async for t in stream])
    assert stream.reply.text == text
    await chat.send("third")
    assert_reads_all_but_newest(list(chat.replies))
    await client.close()


async def test_async_tool_loop_accepts_async_handlers(clock: ManualClock) -> None:
    with ScriptedAnthropicServer(clock=clock, responder=tool_loop_responder(14, rounds=2)) as srv:
        client = anthropic.AsyncAnthropic(base_url=srv.url, api_key="t", max_retries=0)
        chat = AsyncChatSession(client, model=MODEL, tools=TOOLS, system=SYSTEM, clock=clock)

        async def handler(call: ToolCall) -> str:
            return f"result for {call.input['q']}"

        reply = await chat.run("go", handler)
        assert reply.text == "All done." and len(chat.replies) == 3
        assert_reads_all_but_newest(list(chat.replies))
        await client.close()


# -- pace --------------------------------------------------------------------------------------------


def conversation_ttl(reply: Reply) -> str:
    return next(p.ttl for p in reply.plan.placements if p.layer == "conversation")


def test_a_slow_user_earns_the_1h_ttl_and_keeps_hitting(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    chat = session(client, clock)
    replies = []
    for turn in range(6):
        replies.append(chat.send(f"question {turn}"))
        clock.advance(600)  # ten minutes between replies
    ttls = [conversation_ttl(r) for r in replies]
    assert ttls[0] == "5m" and ttls[-1] == "1h"
    switch = ttls.index("1h")
    assert replies[switch].usage.cache_write_1h_tokens > 0
    for before, after in itertools.pairwise(replies[switch:]):
        assert after.usage.cache_read_tokens == before.usage.prompt_tokens
    assert chat.pace().hit_probability(300) == 0.0


def test_a_quick_user_stays_on_5m(client: anthropic.Anthropic, clock: ManualClock) -> None:
    chat = session(client, clock)
    replies = []
    for turn in range(6):
        replies.append(chat.send(f"question {turn}"))
        clock.advance(30)
    assert {conversation_ttl(r) for r in replies} == {"5m"}
    assert chat.stats.usage.cache_write_1h_tokens == 0
    assert chat.pace().gaps == (30.0,) * 5


# -- misses, diagnostics and edits ----------------------------------------------------------------------


def test_every_request_asks_for_diagnostics_against_the_previous_reply(
        client: anthropic.Anthropic, server: ScriptedAnthropicServer, clock: ManualClock) -> None:
    chat = session(client, clock)
    first = chat.send("one")
    chat.send("two")
    sent = [r.json()["diagnostics"] for r in server.requests]
    assert sent == [{"previous_message_id": None}, {"previous_message_id": first.message_id}]


def test_a_system_change_shows_the_server_reason_next_to_the_changed_block(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    chat = session(client, clock)
    chat.send("one")
    cost = chat.set_system(SYSTEM + " Be brief.")
    assert cost.changed_path == "system[0]" and cost.rewrite_tokens > 2_000
    miss = chat.send("two").miss
    assert miss is not None
    assert miss.server_reason == "system_changed" and miss.changed_path == "system[0]"
    assert miss.server_missed_tokens and miss.actual_read == 0
    assert "system_changed" in str(miss) and "system[0]" in str(miss)


def test_removing_a_turn_costs_the_tokens_after_it(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    chat = session(client, clock)
    for turn in range(4):
        chat.send(f"question {turn} " + text_of(100, turn))
    preview = chat.estimate_edit(history=list(chat.history[:2]) + list(chat.history[4:]))
    cost = chat.remove_turn(2)
    assert cost.changed_path == "messages[2].content[0]" == preview.changed_path
    assert cost.changed_layer == "conversation"
    assert 0 < cost.rewrite_tokens < chat.core.build(list(chat.history)).total_tokens - 2_000
    assert cost.extra_usd is not None and cost.rewrite_usd is not None
    assert cost.extra_usd == pytest.approx(cost.rewrite_tokens * (1.25 - 0.1) * 3 / 1e6)
    chat.remove_turn(2)  # its answer too, so roles alternate again
    miss = chat.send("next").miss
    assert miss is not None and miss.server_reason == "messages_changed"
    assert miss.changed_path == "messages[2].content[0]"


def test_changing_the_tool_list_rewrites_everything(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    chat = session(client, clock)
    chat.send("one")
    total = chat.core.build(list(chat.history)).total_tokens
    cost = chat.set_tools([*TOOLS, tool("browse")])
    assert cost.changed_path == "tools[2]" and cost.changed_layer == "tools"
    assert cost.rewrite_tokens == pytest.approx(total, rel=0.1)
    miss = chat.send("two").miss
    assert miss is not None and miss.server_reason == "tools_changed"


def test_an_append_only_edit_costs_nothing(client: anthropic.Anthropic, clock: ManualClock) -> None:
    chat = session(client, clock)
    chat.send("one")
    cost = chat.estimate_edit(history=[*chat.history, {"role": "user", "content": "more"}])
    assert cost.rewrite_tokens == 0 and cost.changed_path is None


def test_an_expired_entry_is_explained(client: anthropic.Anthropic, clock: ManualClock) -> None:
    chat = session(client, clock)
    chat.send("one")
    clock.advance(400)
    miss = chat.send("two").miss
    assert miss is not None and miss.changed_path is None and "expired" in miss.explanation


@pytest.mark.parametrize("index", [1, 2], ids=["the-tool-use", "the-tool-result"])
def test_removing_half_a_tool_exchange_is_refused_at_the_edit(clock: ManualClock,
                                                             index: int) -> None:
    with ScriptedAnthropicServer(clock=clock, responder=tool_loop_responder(1, rounds=1)) as srv:
        chat = session(anthropic.Anthropic(base_url=srv.url, api_key="t", max_retries=0), clock)
        chat.run("go", lambda call: "ok")
        before = chat.history
        with pytest.raises(PromptError, match="tool_") as e:
            chat.remove_turn(index)
        assert e.value.path is not None and e.value.path.startswith("messages[")
        assert isinstance(e.value.__cause__, RuleViolation)
        assert e.value.__cause__.rule == "tool-result-pairing"
        assert chat.history == before
        chat.send("and then?")  # the session is not stuck: the next send goes out
        assert len(chat.history) == 6
        with pytest.raises(PromptError):
            chat.replace_turn(1, "no tool call here")  # its result would answer nothing


def test_removing_a_whole_tool_exchange_is_accepted(clock: ManualClock) -> None:
    with ScriptedAnthropicServer(clock=clock, responder=tool_loop_responder(1, rounds=1)) as srv:
        chat = session(anthropic.Anthropic(base_url=srv.url, api_key="t", max_retries=0), clock)
        chat.run("go", lambda call: "ok")
        chat.edit(history=[chat.history[0], chat.history[3]])
        chat.send("next")
        assert len(chat.history) == 4


# -- statistics and errors ------------------------------------------------------------------------------


def test_statistics_add_up_tokens_dollars_and_savings(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    chat = session(client, clock)
    replies = [chat.send(f"q{i}") for i in range(5)]
    stats = chat.stats
    assert stats.requests == 5
    assert stats.usage.cache_read_tokens == sum(r.usage.cache_read_tokens for r in replies)
    assert stats.cost_usd == pytest.approx(sum(r.cost_usd or 0 for r in replies))
    assert stats.savings_usd is not None and stats.savings_usd > 0
    assert 0.6 < stats.hit_rate < 1
    assert "hit rate" in stats.summary() and "saved" in stats.summary()


def test_sdk_failures_reach_the_caller_as_the_sdk_raised_them(clock: ManualClock) -> None:
    with ScriptedAnthropicServer(clock=clock) as srv:
        url = srv.url
    chat = session(anthropic.Anthropic(base_url=url, api_key="t", max_retries=0), clock)
    with pytest.raises(anthropic.APIConnectionError):
        chat.send("hello")
    assert chat.history == ()


@pytest.mark.parametrize(("status", "error"), [(429, anthropic.RateLimitError),
                                               (529, anthropic.OverloadedError),
                                               (500, anthropic.InternalServerError)])
def test_retry_code_written_against_the_sdk_matches_session_errors(
        clock: ManualClock, status: int, error: type[Exception]) -> None:
    with ScriptedAnthropicServer(clock=clock, reply="Fine.") as srv:
        chat = session(anthropic.Anthropic(base_url=srv.url, api_key="t", max_retries=0), clock)
        srv.fail_next(status, "try later")
        with pytest.raises(error, match="try later"):
            chat.send("hello")
        srv.fail_next(status, "try later", mid_stream=True)
        with pytest.raises(anthropic.APIStatusError), \
                chat.stream("hello") as stream:
            list(stream)
        assert chat.history == ()
        assert chat.send("hello").text == "Fine."


# -- regenerate -----------------------------------------------------------------------------------


def test_regenerate_replaces_the_last_reply_and_reads_the_cache(clock: ManualClock) -> None:
    answers = iter(["first answer", "second answer", "third answer"])
    with ScriptedAnthropicServer(clock=clock, reply=lambda body: next(answers)) as srv:
        chat = session(anthropic.Anthropic(base_url=srv.url, api_key="t", max_retries=0), clock)
        chat.send("question")
        again = chat.regenerate()
        assert again.text == "second answer"
        assert [m["role"] for m in chat.history] == ["user", "assistant"]
        assert chat.history[1]["content"][0]["text"] == "second answer"
        assert again.usage.cache_read_tokens > 2_000
        sent = [r.json()["messages"] for r in srv.requests]
        assert len(sent[1]) == 1 and sent[1][0]["content"][0]["text"] == "question"
        with chat.stream_regenerate() as stream:
            assert "".join(stream) == "third answer"
        assert len(chat.history) == 2 and chat.history[1]["content"][0]["text"] == "third answer"


def test_a_failed_regenerate_keeps_the_old_reply(clock: ManualClock) -> None:
    with ScriptedAnthropicServer(clock=clock, reply="kept") as srv:
        chat = session(anthropic.Anthropic(base_url=srv.url, api_key="t", max_retries=0), clock)
        chat.send("question")
        srv.fail_next(529, "Overloaded")
        with pytest.raises(anthropic.OverloadedError):
            chat.regenerate()
        assert [m["role"] for m in chat.history] == ["user", "assistant"]
        assert chat.send("next").text == "kept" and len(chat.history) == 4


def test_regenerate_without_a_user_turn_says_so(client: anthropic.Anthropic,
                                               clock: ManualClock) -> None:
    with pytest.raises(PromptError, match="no user turn"):
        session(client, clock).regenerate()


async def test_async_regenerate(clock: ManualClock) -> None:
    answers = iter(["one", "two"])
    with ScriptedAnthropicServer(clock=clock, reply=lambda body: next(answers)) as srv:
        client = anthropic.AsyncAnthropic(base_url=srv.url, api_key="t", max_retries=0)
        chat = AsyncChatSession(client, model=MODEL, system=SYSTEM, clock=clock)
        await chat.send("question")
        reply = await chat.regenerate()
        await client.close()
    assert reply.text == "two" and len(chat.history) == 2


def test_other_clients_are_refused_with_the_reason() -> None:
    with pytest.raises(ProviderError, match=r"builtins\.object client is not supported"):
        ChatSession(object(), model=MODEL)


def test_a_sync_session_refuses_an_async_client_with_the_fix() -> None:
    client = anthropic.AsyncAnthropic(base_url="http://127.0.0.1:9", api_key="t")
    with pytest.raises(ProviderError, match="use AsyncChatSession"):
        ChatSession(client, model=MODEL)


def test_session_dollars_agree_with_promptcache_usage(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    from promptcache import parse_usage
    from promptcache.usage import cost_of

    chat = session(client, clock)
    for i in range(3):
        reply = chat.send(f"q{i}")
        cost = cost_of(parse_usage(reply.raw, provider="anthropic", model=MODEL))
        assert reply.cost_usd == pytest.approx(cost.billed)
        assert reply.usage.uncached_usd(chat.core.limits) == pytest.approx(cost.uncached)


# -- incremental planning, whole-run usage, honest figures -------------------------------------------


def test_each_send_extends_the_previous_prompt_instead_of_rebuilding_it(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    chat = session(client, clock)
    chat.send("one")
    before = chat.prompt
    chat.send("two")
    after = chat.prompt
    assert len(after.blocks) == len(before.blocks) + 2
    assert all(a is b for a, b in zip(before.blocks, after.blocks, strict=False))
    assert after.fingerprints[:len(before.blocks)] == before.fingerprints
    assert after.fingerprints == chat.core.build(list(chat.history)).fingerprints


def test_run_reports_the_usage_and_cost_of_every_step(clock: ManualClock) -> None:
    with ScriptedAnthropicServer(clock=clock, responder=tool_loop_responder(3, rounds=2)) as srv:
        chat = session(anthropic.Anthropic(base_url=srv.url, api_key="t", max_retries=0), clock)
        reply = chat.run("go", lambda call: "ok")
    steps = reply.steps
    assert len(steps) == 3 and steps[-1].text == reply.text == "All done."
    total = steps[0].usage + steps[1].usage + steps[2].usage
    assert reply.usage == total and reply.usage.prompt_tokens > steps[-1].usage.prompt_tokens
    assert reply.cost_usd == pytest.approx(sum(s.cost_usd or 0.0 for s in steps))
    assert chat.stats.usage.cache_read_tokens == total.cache_read_tokens
    assert chat.stats.cost_usd == pytest.approx(reply.cost_usd)


async def test_async_run_reports_the_whole_run_too(clock: ManualClock) -> None:
    with ScriptedAnthropicServer(clock=clock, responder=tool_loop_responder(2, rounds=1)) as srv:
        client = anthropic.AsyncAnthropic(base_url=srv.url, api_key="t", max_retries=0)
        chat = AsyncChatSession(client, model=MODEL, tools=TOOLS, system=SYSTEM, clock=clock)
        reply = await chat.run("go", lambda call: "ok")
        await client.close()
    assert len(reply.steps) == 2
    assert reply.usage == reply.steps[0].usage + reply.steps[1].usage


def test_a_5m_conversation_entry_that_outlived_its_ttl_is_expired_not_evicted(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    # The system prompt carries a hand-set 1h marker (kept); the conversation stays on 5m.
    system = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    chat = ChatSession(client, model=MODEL, tools=TOOLS, system=system, clock=clock)
    first = chat.send("one " + text_of(400, 1))
    assert "1h" in {p.ttl for p in first.plan.placements}
    assert conversation_ttl(first) == "5m"
    clock.advance(400)  # past 5 minutes, well within the hour
    miss = chat.send("two").miss
    assert miss is not None and miss.changed_path is None
    assert "expired" in miss.explanation and "300 s TTL" in miss.explanation


def test_statistics_do_not_bill_a_reply_the_response_cache_served(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    from promptcache.session._core import Request
    from promptcache.session._wire import HIT_MARKER

    chat = session(client, clock)
    billed = chat.send("one")
    stored = client.messages.create(**chat.core.adapter.render(
        chat.core.prepare(chat.core.user_message("two")), previous_message_id=None,
        diagnostics=False).kwargs)
    # What promptcache.cache hands back on a hit: the SDK's Message, marked, no API call made.
    setattr(stored, HIT_MARKER, True)
    pending = chat.core.prepare(chat.core.user_message("two"))
    request = Request(kwargs={}, plan=billed.plan, expected_read=0, ttl_seconds=300.0)
    reply = chat.core.commit(pending, request, chat.core.adapter.parse(stored))
    assert reply.from_response_cache and reply.usage.total_input_tokens == 0
    assert reply.cost_usd == 0.0 and reply.text == stored.content[0].text
    stats = chat.stats
    assert stats.requests == 1 and stats.served_from_cache == 1
    assert stats.usage == billed.usage and stats.cost_usd == pytest.approx(billed.cost_usd)
    assert "from the response cache" in stats.summary()
    assert len(chat.history) == 4


def test_a_history_of_sdk_objects_is_taken_as_the_params_they_are(
        client: anthropic.Anthropic, server: ScriptedAnthropicServer, clock: ManualClock) -> None:
    ask = {"role": "user", "content": "hello"}
    message = client.messages.create(model=MODEL, max_tokens=64, messages=[ask])
    chat = session(client, clock, history=[ask, message])
    chat.send([anthropic.types.TextBlockParam(type="text", text="and then?")])
    sent = server.requests[-1].json()["messages"]
    assert sent[1] == {"role": "assistant", "content": [
        {"type": "text", "text": message.content[0].text}]}
    assert sent[2]["content"][0]["text"] == "and then?" and len(chat.history) == 4


def test_a_real_response_cache_hit_is_marked_and_not_billed(
        client: anthropic.Anthropic, clock: ManualClock) -> None:
    from promptcache.cache import MemoryBackend, cache_client

    cache_client(client, backend=MemoryBackend(), cache_sampling=True)
    first = session(client, clock)
    billed = first.send("What is the capital of France?")
    again = session(client, clock)  # a second user asks the very same thing
    served = again.send("What is the capital of France?")
    assert not billed.from_response_cache and billed.usage.total_input_tokens > 0
    assert served.from_response_cache and served.usage.total_input_tokens == 0
    assert served.text == billed.text
    assert again.stats.served_from_cache == 1 and again.stats.cost_usd == 0.0


@pytest.mark.parametrize(("kw", "path"), [
    ({"tools": 5}, "tools"),
    ({"system": 5}, "system"),
    ({"documents": 5}, "documents"),
    ({"history": 5}, "history"),
    ({"params": 5}, "params"),
    ({"history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": 1.5}]},
     "messages[1].content"),
])
def test_arguments_of_the_wrong_type_are_prompt_errors_naming_them(
        client: anthropic.Anthropic, clock: ManualClock, kw: dict[str, Any], path: str) -> None:
    """Issue 21 item 4: ``tuple(5)`` and friends raised a bare TypeError."""
    from promptcache import PromptError

    with pytest.raises(PromptError) as e:
        ChatSession(client, model=MODEL, clock=clock, **kw)
    assert e.value.path == path


@pytest.mark.parametrize("content", [None, 5, 1.5, b"hi", {"type": "text", "text": "hi"}])
def test_a_user_message_that_is_not_text_or_blocks_is_a_prompt_error_and_nothing_is_sent(
        client: anthropic.Anthropic, server: ScriptedAnthropicServer, clock: ManualClock,
        content: Any) -> None:
    from promptcache import PromptError

    chat = session(client, clock)
    with pytest.raises(PromptError) as e:
        chat.send(content)
    assert e.value.path == "messages[0].content"
    assert not server.requests and not chat.history
    with pytest.raises(PromptError):
        chat.edit(tools=content if content is not None else 5)
