"""Property: whatever the prompt, promptcache never emits a request that breaks a caching rule.

Thousands of generated prompts, of every block type and size, with and without hand-set markers
and history. Each is built, planned and rendered; the request must pass ``validate`` with no
finding, be accepted by the simulated API (which answers 400 like the real one), and write a
cache entry for every breakpoint placed. Malformed input must raise a promptcache exception and
nothing else.
"""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcache import (
    CacheWarning,
    Document,
    PromptBuilder,
    PromptCacheError,
    Reuse,
    optimize,
    render_anthropic,
    validate,
)
from promptcache.limits import TTL_SECONDS
from promptcache.optimizer import DEFAULT_MARGIN
from promptcache.providers.anthropic.simulator import AnthropicCacheSimulator

from ..helpers import text_of

MODELS = ["claude-sonnet-4-6", "claude-opus-4-5", "claude-haiku-4-5", "claude-opus-4-7",
          "claude-fable-5", "claude-opus-4-1"]

sizes = st.sampled_from([1, 5, 40, 300, 900, 1_500, 3_000])
seeds = st.integers(0, 50)
markers = st.sampled_from([None, None, None, {"type": "ephemeral"},
                           {"type": "ephemeral", "ttl": "1h"}])


@st.composite
def text_block(draw: st.DrawFn, marked: bool = True) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text_of(draw(sizes), draw(seeds))}
    marker = draw(markers) if marked else None
    if marker:
        block["cache_control"] = marker
    return block


@st.composite
def user_block(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["text", "image", "document", "tool_result"]))
    if kind == "text":
        return draw(text_block())
    if kind == "image":
        return {"type": "image", "source": {"type": "url", "url": "https://example.invalid/a.png"}}
    if kind == "document":
        return {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                               "data": text_of(draw(sizes), draw(seeds))}}
    return {"type": "tool_result", "tool_use_id": f"t{draw(seeds)}",
            "content": text_of(draw(sizes), draw(seeds))}


@st.composite
def assistant_block(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["text", "tool_use", "thinking", "redacted_thinking"]))
    if kind == "text":
        return draw(text_block())
    if kind == "tool_use":
        return {"type": "tool_use", "id": f"t{draw(seeds)}", "name": "search",
                "input": {"q": text_of(draw(st.sampled_from([1, 20])), draw(seeds))}}
    if kind == "thinking":
        return {"type": "thinking", "thinking": text_of(draw(sizes)), "signature": "sig"}
    return {"type": "redacted_thinking", "data": "x" * draw(st.integers(4, 4_000))}


@st.composite
def prompts(draw: st.DrawFn) -> PromptBuilder:
    b = PromptBuilder(draw(st.sampled_from(MODELS)))
    tools = [{"name": f"tool_{i}", "description": text_of(draw(sizes), i),
              "input_schema": {"type": "object"}} for i in range(draw(st.integers(0, 3)))]
    if tools and draw(st.booleans()):
        tools[-1]["cache_control"] = {"type": "ephemeral"}
    b.add_tools(tools)
    for _ in range(draw(st.integers(0, 3))):
        b.add_system([draw(text_block(marked=False))])
    for i in range(draw(st.integers(0, 2))):
        b.add_documents([Document(id=str(i), text=text_of(draw(sizes), i))],
                        reuse=Reuse(uses=draw(st.sampled_from([1, 3, 50])),
                                    interval=draw(st.sampled_from([30, 600, 3_000]))))
    turns = draw(st.integers(0, 6))
    for t in range(turns):
        b.add_messages([
            {"role": "user", "content": draw(st.lists(user_block(), min_size=1, max_size=4))},
            {"role": "assistant",
             "content": draw(st.lists(assistant_block(), min_size=1, max_size=16))},
        ])
        if t == turns - 1 and draw(st.booleans()):
            b.add_messages([{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": f"r{k}", "content": text_of(30, k)}
                for k in range(draw(st.integers(1, 30)))]}])
    b.add_user_turn(draw(st.lists(user_block(), min_size=1, max_size=3)))
    return b.set_params(max_tokens=16)


def _ttls_ordered(request: dict[str, Any]) -> bool:
    ttls = [b["cache_control"].get("ttl", "5m") for b in request.get("tools", [])
            + request.get("system", []) + [c for m in request["messages"] for c in m["content"]]
            if "cache_control" in b]
    seconds = [TTL_SECONDS[t] for t in ttls]
    return seconds == sorted(seconds, reverse=True)


@settings(max_examples=1_500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(builder=prompts(), automatic=st.sampled_from([None, None, "5m"]))
def test_generated_prompts_never_yield_a_request_that_breaks_a_rule(
    builder: PromptBuilder, automatic: str | None
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)  # hand-set markers below a minimum
        try:
            prompt = builder.build()
            plan = optimize(prompt, automatic=automatic)
        except PromptCacheError:
            return  # e.g. five hand-set markers: refused with a promptcache exception
        request = render_anthropic(prompt, plan)
        report = validate(request, warn=False)
    assert report.breakpoints <= 4
    optimizer_marks = [p for p in plan.placements if p.source == "optimizer"]
    # Every optimizer marker may reach the minimum as the provider counts (the row's ratio band):
    # one that cannot is never placed, one that may costs nothing if it does not.
    assert all(plan.limits.clear_probability(p.prefix_tokens, DEFAULT_MARGIN) > 0
               for p in optimizer_marks)
    assert not {f.path for f in report.findings} & {p.path for p in optimizer_marks}
    assert _ttls_ordered(request)
    for p in plan.placements:
        assert prompt.blocks[p.index].payload.get("type") not in ("thinking", "redacted_thinking")
    result = AnthropicCacheSimulator().create(request, now=0.0)  # raises on what the API rejects
    if any(p.prefix_tokens >= plan.limits.estimated_minimum for p in optimizer_marks):
        assert result.usage["cache_creation_input_tokens"] > 0


bad_values = st.one_of(st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers()),
                       st.dictionaries(st.sampled_from(["type", "text", "role", "content"]),
                                       st.one_of(st.none(), st.text(max_size=3), st.integers())))


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(messages=st.lists(st.one_of(bad_values, st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "x"]), "content": bad_values})), max_size=4),
    system=st.one_of(st.text(max_size=5), st.lists(bad_values, max_size=3)))
def test_malformed_input_raises_only_promptcache_errors(messages: list[Any], system: Any) -> None:
    try:
        b = PromptBuilder("claude-sonnet-4-6").set_params(max_tokens=5)
        b.add_system(system).add_messages(messages)
        prompt = b.build()
        render_anthropic(prompt, optimize(prompt))
    except PromptCacheError:
        pass
