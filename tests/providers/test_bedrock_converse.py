"""Amazon Bedrock's Converse API as the fourth provider (issue 23 item 2).

The real boto3 ``bedrock-runtime`` client talks to the loopback ``ConverseServer`` through
``endpoint_url`` with dummy credentials: no network, no AWS account. The rules tested are the
ones ``docs/bedrock.md`` lists with their sources.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from promptcache import CacheState, ChatSession, PromptBuilder
from promptcache.clock import ManualClock
from promptcache.dropin import UnplannedRequestWarning, wrap
from promptcache.limits import ModelLimits, limits_for
from promptcache.providers.bedrock_converse.render import render_bedrock_converse
from promptcache.providers.bedrock_converse.server import ConverseServer
from promptcache.providers.bedrock_converse.simulator import ConverseCacheSimulator
from promptcache.providers.bedrock_converse.usage import usage_from_converse
from promptcache.providers.registry import detect_provider, view_of
from promptcache.providers.usage import parse_usage

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_35 = "anthropic.claude-3-5-haiku-20241022-v1:0"
NOVA = "us.amazon.nova-pro-v1:0"
MANUAL = "You are a careful assistant for a shipping company. " + " ".join(
    f"Rule {i}: answer only from the manual, section {i}." for i in range(300))
TOOLS = [{"toolSpec": {"name": f"tool_{i}", "description": "Looks something up. " * 40,
                       "inputSchema": {"json": {"type": "object", "properties": {
                           "q": {"type": "string"}}}}}} for i in range(3)]


@pytest.fixture
def server() -> Iterator[ConverseServer]:
    with ConverseServer(clock=ManualClock()) as s:
        yield s


def client(server: ConverseServer) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}))


def sent(server: ConverseServer, n: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = server.requests[n].json()
    return body


def checkpoints(body: Any) -> list[Any]:
    """Every cachePoint block anywhere in a request body."""
    found: list[Any] = []
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "cachePoint" in item:
                found.append(item["cachePoint"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def assert_checkpoints_valid(server: ConverseServer, model: str) -> None:
    """≤ 4 cachePoints per request and none whose prefix is below the model's minimum."""
    minimum = limits_for(model, provider="bedrock_converse").estimated_minimum
    for result in server.results:
        assert result.checkpoints <= 4
        for pos in result.positions:
            if pos.ttl is not None:
                assert pos.end >= minimum, f"{pos.path}: a checkpoint at {pos.end} tokens"


def converse_loop(c: Any, turns: int, *, model: str = SONNET, **extra: Any) -> list[dict[str, Any]]:
    """Quick-start code as boto3's docs write it: no cachePoint anywhere."""
    messages: list[dict[str, Any]] = []
    usages = []
    for turn in range(turns):
        messages.append({"role": "user", "content": [{"text": f"Question {turn}?"}]})
        response = c.converse(modelId=model, system=[{"text": MANUAL}], messages=messages,
                              inferenceConfig={"maxTokens": 200}, **extra)
        messages.append(response["output"]["message"])
        usages.append(response["usage"])
    return usages


# -- the must-show ---------------------------------------------------------------------------


def test_import_promptcache_does_not_import_boto3() -> None:
    code = ("import sys, promptcache, promptcache.testing, promptcache.simulator; "
            "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_wrapped_unmodified_converse_reads_its_prefix_from_the_second_turn(
        server: ConverseServer) -> None:
    c = wrap(client(server), state=CacheState(clock=server.clock))
    usages = converse_loop(c, 4)
    assert usages[0]["cacheReadInputTokens"] == 0
    assert usages[0]["cacheWriteInputTokens"] > 0
    for usage in usages[1:]:
        assert usage["cacheReadInputTokens"] >= usages[0]["cacheWriteInputTokens"]
    assert_checkpoints_valid(server, SONNET)
    assert c.promptcache.planned == 4
    assert c.promptcache.ledger.totals().cache_read_tokens == sum(
        u["cacheReadInputTokens"] for u in usages)


def test_chat_session_on_boto3_reads_its_prefix_from_the_second_turn(
        server: ConverseServer) -> None:
    session = ChatSession(client(server), model=SONNET, system=MANUAL, max_tokens=200,
                          state=CacheState(clock=server.clock))
    replies = [session.send(f"Question {i}?") for i in range(4)]
    assert replies[0].usage.cache_read_tokens == 0
    assert all(r.usage.cache_read_tokens > 0 for r in replies[1:])
    assert replies[0].content == ({"type": "text", "text": "Simulated reply."},)
    assert_checkpoints_valid(server, SONNET)
    assert sent(server)["inferenceConfig"] == {"maxTokens": 200}


def test_chat_session_streams_through_converse_stream(server: ConverseServer) -> None:
    session = ChatSession(client(server), model=SONNET, system=MANUAL, max_tokens=50,
                          state=CacheState(clock=server.clock))
    session.send("First?")
    with session.stream("Second?") as stream:
        text = "".join(stream)
    assert text == "Simulated reply."
    assert server.requests[-1].path.endswith("/converse-stream")
    assert session.replies[-1].usage.cache_read_tokens > 0


def test_wrapped_converse_stream_keeps_boto3_shape_and_accounts_usage(
        server: ConverseServer) -> None:
    c = wrap(client(server), state=CacheState(clock=server.clock))
    converse_loop(c, 1)
    response = c.converse_stream(modelId=SONNET, system=[{"text": MANUAL}],
                                 messages=[{"role": "user", "content": [{"text": "Question 0?"}]}])
    assert "ResponseMetadata" in response
    events = list(response["stream"])
    assert [next(iter(e)) for e in events] == [
        "messageStart", *["contentBlockDelta"] * 2, "contentBlockStop", "messageStop", "metadata"]
    read = events[-1]["metadata"]["usage"]["cacheReadInputTokens"]
    assert read > 0
    assert c.promptcache.ledger.totals().calls == 2
    assert c.promptcache.ledger.totals().cache_read_tokens == read


def test_nova_conversation_caches_without_a_checkpoint_in_tools(server: ConverseServer) -> None:
    c = wrap(client(server), state=CacheState(clock=server.clock))
    usages = converse_loop(c, 3, model=NOVA, toolConfig={"tools": TOOLS})
    assert all(u["cacheReadInputTokens"] > 0 for u in usages[1:])
    for request in server.requests:
        assert checkpoints(request.json()["toolConfig"]) == []
        assert all("ttl" not in p for p in checkpoints(request.json()))
    assert_checkpoints_valid(server, NOVA)


# -- rendering -------------------------------------------------------------------------------


def _prompt(model: str, system: str = MANUAL, tools: bool = True) -> Any:
    b = PromptBuilder(model)
    if tools:
        b.add_tools([{"name": "lookup", "description": "Look up an order. " * 400,
                      "input_schema": {"type": "object", "properties": {}}}])
    b.add_system(system)
    b.add_user_turn("Where is my parcel?")
    b.set_params(max_tokens=100, temperature=0.2)
    return b.build()


def test_render_puts_cachepoints_after_the_blocks_they_cache() -> None:
    kwargs = render_bedrock_converse(_prompt(SONNET))
    assert kwargs["toolConfig"]["tools"][-1] == {"cachePoint": {"type": "default", "ttl": "5m"}}
    assert kwargs["system"][-1]["cachePoint"]["type"] == "default"
    assert kwargs["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.2}
    assert kwargs["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"] == {
        "type": "object", "properties": {}}


def test_render_never_places_a_checkpoint_below_the_minimum() -> None:
    """Bedrock: "a cache checkpoint ... must meet a minimum token threshold"; below it the
    checkpoint does nothing, so promptcache sends none."""
    kwargs = render_bedrock_converse(_prompt(SONNET, system="Be brief.", tools=False))
    assert checkpoints(kwargs) == []


def test_render_writes_ttl_only_where_the_model_takes_the_one_hour_ttl() -> None:
    """Claude 3.5 Haiku on Bedrock has no 1h TTL: the field is left out (5m is the default)."""
    kwargs = render_bedrock_converse(_prompt(HAIKU_35))
    points = checkpoints(kwargs)
    assert points and all(p == {"type": "default"} for p in points)


def test_render_for_nova_leaves_tools_unmarked() -> None:
    kwargs = render_bedrock_converse(_prompt(NOVA))
    assert checkpoints(kwargs["toolConfig"]) == []
    assert checkpoints(kwargs["system"]) == [{"type": "default"}]


def test_rendered_request_is_accepted_by_boto3_and_the_simulator(server: ConverseServer) -> None:
    response = client(server).converse(**render_bedrock_converse(_prompt(SONNET)))
    assert response["usage"]["cacheWriteInputTokens"] > 0
    assert server.results[-1].checkpoints == 2


def test_a_request_promptcache_cannot_plan_goes_as_written(server: ConverseServer) -> None:
    c = wrap(client(server))
    with pytest.warns(UnplannedRequestWarning):
        response = c.converse(modelId="meta.llama3-70b-instruct-v1:0",
                              messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert response["output"]["message"]["content"] == [{"text": "Simulated reply."}]
    assert checkpoints(sent(server)) == []
    assert c.promptcache.unplanned == 1


def test_user_checkpoints_are_kept_and_count_toward_the_four(server: ConverseServer) -> None:
    c = wrap(client(server), state=CacheState(clock=server.clock))
    system = [{"text": MANUAL}, {"cachePoint": {"type": "default"}}]
    c.converse(modelId=SONNET, system=system,
               messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert sent(server)["system"][1] == {"cachePoint": {"type": "default"}}
    assert server.results[-1].checkpoints <= 4
    assert system == [{"text": MANUAL}, {"cachePoint": {"type": "default"}}]  # not mutated


# -- the simulator's rules (docs/bedrock.md lists the sources) -------------------------------


def _request(model: str, points: int, ttl: str | None = None, tools: bool = False) -> dict[str, Any]:
    point: dict[str, Any] = {"type": "default", **({"ttl": ttl} if ttl else {})}
    system: list[Any] = []
    for i in range(points):
        system += [{"text": f"Section {i}. " + MANUAL}, {"cachePoint": point}]
    out: dict[str, Any] = {"modelId": model, "system": system,
                           "messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
    if tools:
        out["toolConfig"] = {"tools": [TOOLS[0], {"cachePoint": point}]}
    return out


def test_more_than_four_checkpoints_is_a_validation_exception(server: ConverseServer) -> None:
    """AWS prompt-caching page: at most 4 cache checkpoints per request."""
    c = client(server)
    c.converse(**_request(SONNET, 4))
    with pytest.raises(ClientError) as error:
        c.converse(**_request(SONNET, 5))
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_nova_rejects_a_checkpoint_in_tools(server: ConverseServer) -> None:
    """AWS prompt-caching page: Nova caches system and messages; tools are not a cache field."""
    with pytest.raises(ClientError) as error:
        client(server).converse(**_request(NOVA, 1, tools=True))
    assert "toolConfig.tools" in str(error.value)


def test_one_hour_ttl_only_on_models_that_take_it(server: ConverseServer) -> None:
    """1h on Bedrock only for Claude 4.5 and later (PROVIDER_FACTS E; AWS blog 2026-09-15)."""
    c = client(server)
    assert c.converse(**_request(SONNET, 1, ttl="1h"))["usage"]["cacheWriteInputTokens"] > 0
    with pytest.raises(ClientError):
        c.converse(**_request(HAIKU_35, 1, ttl="1h"))


def test_below_the_minimum_nothing_is_cached_and_nothing_fails() -> None:
    sim = ConverseCacheSimulator(clock=ManualClock())
    short = {"modelId": SONNET, "system": [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}],
             "messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
    result = sim.converse(short)
    assert result.usage["cacheWriteInputTokens"] == 0
    assert result.usage["inputTokens"] == result.positions[-1].end


def _chat(n: int, point_at: int) -> dict[str, Any]:
    content: list[Any] = [{"text": MANUAL}]
    content += [{"text": f"note {i}"} for i in range(n)]
    content.insert(point_at + 1, {"cachePoint": {"type": "default"}})
    return {"modelId": "", "messages": [{"role": "user", "content": content}]}


@pytest.mark.parametrize(("model", "reads"), [(SONNET, True), (NOVA, False)])
def test_claude_looks_back_about_twenty_blocks_nova_only_at_the_checkpoint(
        model: str, reads: bool) -> None:
    """AWS blog 2026-09-15: Claude's "simplified cache management" checks prefixes up to ~20
    blocks before a checkpoint; no such lookback is documented for Nova."""
    sim = ConverseCacheSimulator(clock=ManualClock())
    first = {**_chat(10, 0), "modelId": model}
    result = sim.converse(first)
    sim.mark_started(result.request_id)
    later = {**_chat(10, 5), "modelId": model}
    assert (sim.converse(later).usage["cacheReadInputTokens"] > 0) is reads


# -- usage, recognition ----------------------------------------------------------------------


def test_usage_is_read_from_converse_fields() -> None:
    response = {"output": {}, "stopReason": "end_turn", "usage": {
        "inputTokens": 28, "outputTokens": 253, "totalTokens": 2179,
        "cacheReadInputTokens": 0, "cacheWriteInputTokens": 1898}}
    usage = parse_usage(response, model=SONNET)
    assert usage.provider == "bedrock_converse"
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_writes["5m"],
            usage.output_tokens) == (28, 0, 1898, 253)
    event = {"metadata": {"usage": {"inputTokens": 1, "outputTokens": 2,
                                    "cacheReadInputTokens": 1898, "cacheWriteInputTokens": 0}}}
    assert usage_from_converse([{"messageStart": {}}, event]).cache_read_tokens == 1898


def test_a_converse_request_is_recognised_and_read_with_its_markers() -> None:
    request = _request(SONNET, 2)
    assert detect_provider(request) == ("bedrock_converse", "converse")
    view = view_of(request)
    assert view.provider == "bedrock_converse"
    assert [b.path for b in view.blocks if b.ttl] == ["system[0]", "system[2]"]
    assert json.dumps(view.fingerprints()) == json.dumps(view_of(request).fingerprints())


def test_a_planned_request_bedrock_refuses_is_sent_again_as_written() -> None:
    """The one promise: a call that succeeds unwrapped succeeds wrapped. Here the simulated
    account accepts no checkpoint at all, so the planned request gets a 400 (a botocore
    ClientError) and the original goes through."""
    strict = ConverseCacheSimulator(limits=ModelLimits(
        provider="bedrock_converse", model="strict", min_cacheable_tokens=1_024,
        max_breakpoints=0, platform="bedrock"))
    with ConverseServer(clock=ManualClock(), simulator=strict) as s:
        c = wrap(client(s), state=CacheState(clock=s.clock))
        with pytest.warns(UnplannedRequestWarning, match="rejected"):
            usages = converse_loop(c, 1)
        planned, resent = (len(checkpoints(r.json())) for r in s.requests)
        assert planned > 0
        assert resent == 0
    assert usages[0]["cacheWriteInputTokens"] == 0
    assert c.promptcache.unplanned == 1


def test_thinking_blocks_leave_the_prompt_as_on_claude() -> None:
    """With thinking on, a user turn that is not only tool results strips earlier thinking
    blocks (Claude's rule; Converse hands the request to Claude)."""
    request = {"modelId": SONNET, "additionalModelRequestFields": {
        "thinking": {"type": "enabled", "budget_tokens": 1024}}, "messages": [
        {"role": "user", "content": [{"text": "Hi"}]},
        {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s"}}},
            {"text": "Hello"}]},
        {"role": "user", "content": [{"text": "And?"}]}]}
    view = view_of(request)
    assert [b.stripped for b in view.blocks] == [False, True, False, False]


def test_diff_and_lint_read_converse_requests_through_the_registry() -> None:
    """No Converse branch in diagnostics/: they ask the registry for the view."""
    from promptcache.diagnostics import diff_requests, lint_request

    a = _request(SONNET, 1)
    b = {**a, "system": [{"text": "Changed. " + MANUAL}, a["system"][1]]}
    changed = diff_requests(a, b)
    assert not changed.hit
    assert "system[0]" in changed.explain()
    short = {"modelId": SONNET, "system": [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}],
             "messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
    assert [f.rule for f in lint_request(short)] == ["below-minimum"]


@pytest.mark.parametrize("block", [
    {"text": "plain"},
    {"toolUse": {"toolUseId": "t1", "name": "track", "input": {"id": 42}}},
    {"toolResult": {"toolUseId": "t1", "content": [{"text": "in transit"}], "status": "error"}},
    {"reasoningContent": {"reasoningText": {"text": "think", "signature": "sig"}}},
    {"image": {"format": "png", "source": {"bytes": b"\x89PNG\r\n"}}},
    {"document": {"format": "pdf", "name": "manual", "source": {"bytes": b"%PDF-1.7"}}},
    {"guardContent": {"text": {"text": "guarded"}}},
])
def test_converse_blocks_round_trip_through_the_prompt_shape(block: dict[str, Any]) -> None:
    from promptcache.providers.bedrock_converse.blocks import from_anthropic, to_anthropic

    assert from_anthropic(to_anthropic(block, "b"), "b") == block
