"""The optimizer: every Anthropic rule, and the cost decisions the issue names."""

from __future__ import annotations

import itertools

import pytest

from promptcache import CacheState, CacheWarning, Document, PromptBuilder, Reuse, Volatility, optimize
from promptcache.clock import ManualClock
from promptcache.errors import TooManyBreakpointsError
from promptcache.limits import TTL_SECONDS, limits_for
from promptcache.providers.anthropic.render import render_anthropic
from promptcache.simulator import AnthropicCacheSimulator

from ..helpers import chat_builder, text_of, tool, tool_turns


def _ttls_in_order(plan) -> bool:
    seconds = [TTL_SECONDS[p.ttl] for p in sorted(plan.placements, key=lambda p: p.index)]
    return seconds == sorted(seconds, reverse=True)


def test_more_than_four_candidate_layers_give_at_most_four_marks() -> None:
    b = PromptBuilder("claude-sonnet-4-6").add_tools([tool("a", 1_500)])
    b.add_system(text_of(1_500), volatility=Volatility.STATIC)
    b.add_system(text_of(1_500, 1), volatility=Volatility.DAILY)
    b.add_documents([Document(id="d", text=text_of(1_500, 2))], reuse=Reuse(uses=20))
    b.add_messages([{"role": "user", "content": text_of(1_500, 3)},
                    {"role": "assistant", "content": text_of(1_500, 4)}])
    b.add_user_turn("next?").set_params(max_tokens=10)
    prompt = b.build()
    assert len(prompt.layers) == 5
    plan = optimize(prompt)
    assert 1 <= len(plan.placements) <= 4
    assert any(r.rule == "budget" for r in plan.rejected)


@pytest.mark.parametrize(
    ("model", "minimum"),
    [("claude-opus-5", 512), ("claude-sonnet-4-6", 1_024), ("claude-3-5-haiku-20241022", 2_048),
     ("claude-haiku-4-5", 4_096)],
)
def test_minimum_token_boundary_per_model_family(model: str, minimum: int) -> None:
    def plan_with_system(tokens: int):
        b = PromptBuilder(model).add_system(text_of(tokens))
        b.add_messages([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
        return optimize(b.add_user_turn("again").set_params(max_tokens=5).build())

    # Out of reach even as the provider's tokenizer may count it (the row's ratio band): refused.
    below = plan_with_system(int(minimum * 0.6))
    assert not any(p.layer == "system" for p in below.placements)
    assert any(r.rule == "below-minimum" and r.layer == "system" for r in below.rejected)
    # In the middle of the band: placed, with its chance and why it costs nothing if it misses.
    low, high = limits_for(model, provider="anthropic").token_ratio_range
    near = plan_with_system(int(minimum / ((low + high) / 2)))
    near_marks = [p for p in near.placements if p.layer == "system"]
    assert near_marks and "clears it with p~" in near_marks[0].reason
    assert "no cost" in near_marks[0].reason
    above = plan_with_system(int(minimum * 1.2))
    system_marks = [p for p in above.placements if p.layer == "system"]
    assert system_marks and system_marks[0].prefix_tokens >= minimum


def test_a_model_that_counts_more_tokens_caches_a_prefix_we_estimate_below_its_minimum() -> None:
    # Claude 4.7 and later count about 30% more tokens than our estimate (PROVIDER_FACTS E): a
    # system prompt we estimate at 1,850 tokens is ~2,400 for Opus 4.7 (minimum 2,048), so it is
    # a sure breakpoint, and the simulator, which counts as the provider would, caches it.
    b = PromptBuilder("claude-opus-4-7").add_system(text_of(1_850))
    prompt = b.add_user_turn("q").set_params(max_tokens=5).build()
    plan = optimize(prompt)
    system = [p for p in plan.placements if p.layer == "system"]
    assert system and system[0].prefix_tokens < 2_048 and "clears it" not in system[0].reason
    usage = AnthropicCacheSimulator().create(render_anthropic(prompt, plan), now=0.0).usage
    assert usage["cache_creation_input_tokens"] >= system[0].prefix_tokens


def test_candidate_inside_the_safety_margin_is_placed_while_a_slot_is_free() -> None:
    # Issue 12: a marker whose prefix turns out below the minimum costs nothing (the API ignores
    # it), so refusing it is the expensive choice; the margin only matters when slots compete.
    b = PromptBuilder("claude-sonnet-4-6").add_system(text_of(1_060))
    b.add_user_turn("q").set_params(max_tokens=5)
    plan = optimize(b.build())
    system = [p for p in plan.placements if p.layer == "system"]
    assert system and "clears it with p~" in system[0].reason and "no cost" in system[0].reason
    assert not any(r.layer == "system" for r in plan.rejected)


def test_near_minimum_candidates_compete_by_their_chance_of_clearing_it() -> None:
    # Five layers on a 1,024-token model: tools (~1,030, a coin toss), a system layer just after
    # it (as uncertain, and covering the tools), then big layers that each need a slot.
    b = PromptBuilder("claude-sonnet-4-6").add_tools([tool("a", 1_006)])
    b.add_system(text_of(10), volatility=Volatility.STATIC)
    b.add_system(text_of(2_000, 1), volatility=Volatility.DAILY)
    b.add_documents([Document(id="d", text=text_of(3_000, 2))], reuse=Reuse(uses=20))
    b.add_messages([{"role": "user", "content": text_of(2_000, 3)},
                    {"role": "assistant", "content": text_of(500, 4)}])
    prompt = b.add_user_turn("next?").set_params(max_tokens=10).build()
    plan = optimize(prompt)
    assert len(plan.placements) == 4
    tools_end, system_end = prompt.layers[0].stop - 1, prompt.layers[1].stop - 1
    assert 1_024 <= prompt.prefix_tokens[tools_end] < prompt.prefix_tokens[system_end] < 1_024 * 1.1
    placed = {p.index for p in plan.placements}
    assert len(placed & {tools_end, system_end}) == 1, plan.explain()  # one slot for the two
    assert any(r.rule == "safety-margin" and r.layer in ("tools", "system")
               for r in plan.rejected), plan.explain()


def test_exact_counter_settles_a_candidate_inside_the_margin() -> None:
    class Exact:
        def __init__(self, value: int) -> None:
            self.value, self.calls = value, 0

        def count_prefix(self, prompt, index):
            self.calls += 1
            assert any(b.section == "system" for b in prompt.blocks[: index + 1])
            return self.value

    b = PromptBuilder("claude-sonnet-4-6").add_system(text_of(1_060))
    b.add_user_turn("q").set_params(max_tokens=5)
    enough = Exact(1_100)
    assert any(p.layer == "system" for p in optimize(b.build(), exact_counter=enough).placements)
    assert enough.calls >= 1
    short = Exact(1_000)
    assert not any(p.layer == "system" for p in optimize(b.build(), exact_counter=short).placements)


def test_only_prefixes_near_the_minimum_are_counted_exactly_and_the_plan_says_so() -> None:
    class Recording:
        def __init__(self) -> None:
            self.asked: list[int] = []

        def count_prefix(self, prompt, index):
            self.asked.append(index)
            return prompt.prefix_tokens[index]

    # The tools end near the 1,024 minimum; the system and the documents end far above it.
    b = PromptBuilder("claude-sonnet-4-6").add_tools([tool("a", 1_000)])
    b.add_system(text_of(3_000)).add_documents([Document(id="d", text=text_of(3_000, 1))])
    prompt = b.add_user_turn("q").set_params(max_tokens=5).build()
    counter = Recording()
    plan = optimize(prompt, exact_counter=counter)
    tools_end = next(layer.stop - 1 for layer in prompt.layers if layer.name == "tools")
    assert counter.asked == [tools_end]
    assert "1 prefix(es) near the 1,024-token minimum, counted exactly" in plan.counting
    assert "offline estimates" in optimize(prompt).counting
    assert "Counting:" in plan.explain()


def test_a_30_block_tool_turn_still_reads_the_previous_prefix() -> None:
    b = chat_builder(history_turns=2)
    b.add_messages(tool_turns(15, seed=1))  # 15 tool_use + 15 tool_result = 30 blocks
    prompt = b.build()
    previous_end = prompt.turns[-3].stop - 1  # end of the request before this tool turn
    plan = optimize(prompt)
    marks = [p.index for p in plan.placements]
    assert any(m - 20 < previous_end <= m for m in marks), plan.explain()
    assert plan.expected.cache_read_tokens >= prompt.prefix_tokens[previous_end]
    assert any("lookback bridge" in p.reason for p in plan.placements)


def test_tool_loop_with_state_reads_every_turn() -> None:
    clock = ManualClock(1_000.0)
    state = CacheState(clock=clock)
    from promptcache.providers.anthropic.render import record_sent

    messages: list = [{"role": "user", "content": "start " + text_of(50)}]
    reads = []
    for turn in range(4):
        b = chat_builder()
        b.add_messages(messages)
        prompt = b.build()
        plan = optimize(prompt, state=state)
        reads.append(plan.expected.cache_read_tokens)
        record_sent(state, prompt, plan)
        messages += tool_turns(14, seed=turn)
        clock.advance(20)
    assert reads[0] == 0
    assert all(later > earlier for earlier, later in itertools.pairwise(reads[1:]))
    assert reads[1] > 0


def test_one_hour_marks_precede_five_minute_marks() -> None:
    b = PromptBuilder("claude-sonnet-4-6")
    b.add_system(text_of(3_000), reuse=Reuse(uses=500, gaps=(480, 900, 1_500)))
    b.add_documents([Document(id="d", text=text_of(3_000, 1))], reuse=Reuse(uses=10, interval=30))
    b.add_messages([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    b.add_user_turn("c").set_params(max_tokens=5)
    plan = optimize(b.build())
    ttls = {p.layer: p.ttl for p in plan.placements}
    assert ttls["system"] == "1h" and ttls["documents"] == "5m"
    assert _ttls_in_order(plan)


def test_system_reused_every_8_to_25_minutes_gets_one_hour_every_minute_gets_five() -> None:
    def ttl_for(reuse: Reuse) -> str:
        b = PromptBuilder("claude-sonnet-4-6").add_system(text_of(4_000), reuse=reuse)
        plan = optimize(b.add_user_turn("q").set_params(max_tokens=5).build())
        return next(p.ttl for p in plan.placements if p.layer == "system")

    assert ttl_for(Reuse(uses=500, gaps=(480, 700, 1_000, 1_500))) == "1h"
    assert ttl_for(Reuse(uses=500, interval=60)) == "5m"


def test_rotating_documents_get_their_own_layer_behind_tools_and_system() -> None:
    b = PromptBuilder("claude-sonnet-4-6").add_tools([tool("search", 600)])
    b.add_system(text_of(1_500))
    b.add_documents([Document(id="kb", text=text_of(3_000, 5))], reuse=Reuse(uses=4, interval=30))
    plan = optimize(b.add_user_turn("question").set_params(max_tokens=5).build())
    layers = [p.layer for p in plan.placements]
    assert layers == ["system", "documents"]


def test_layer_below_minimum_merges_into_the_next() -> None:
    b = PromptBuilder("claude-sonnet-4-6").add_tools([tool("small", 100)])
    b.add_system(text_of(2_000))
    plan = optimize(b.add_user_turn("q").set_params(max_tokens=5).build())
    assert [p.layer for p in plan.placements] == ["system"]
    assert any(r.layer == "tools" and r.rule == "below-minimum" for r in plan.rejected)
    assert plan.placements[0].prefix_tokens > plan.layers[0].tokens  # covers the tools too


def test_single_question_is_not_cached() -> None:
    b = chat_builder()
    plan = optimize(b.add_user_turn("a one-off question " + text_of(500)).build())
    assert not any(p.layer == "conversation" for p in plan.placements)
    assert any(r.layer == "conversation" and r.rule == "not-worth-it" for r in plan.rejected)


def test_no_mark_on_thinking_or_redacted_thinking_blocks() -> None:
    b = chat_builder(history_turns=3)
    b.add_messages([{"role": "assistant", "content": [
        {"type": "text", "text": "let me think " + text_of(200)},
        {"type": "thinking", "thinking": text_of(300), "signature": "sig"},
        {"type": "redacted_thinking", "data": "abc" * 100},
    ]}])
    b.add_user_turn("go on")
    prompt = b.build()
    plan = optimize(prompt)
    for p in plan.placements:
        assert prompt.blocks[p.index].payload["type"] not in ("thinking", "redacted_thinking")


def test_user_markers_are_counted_and_kept() -> None:
    b = PromptBuilder("claude-sonnet-4-6")
    b.add_system([{"type": "text", "text": text_of(1_500), "cache_control": {"type": "ephemeral"}},
                  {"type": "text", "text": text_of(1_500, 1),
                   "cache_control": {"type": "ephemeral"}},
                  {"type": "text", "text": text_of(1_500, 2),
                   "cache_control": {"type": "ephemeral"}}])
    b.add_documents([Document(id="a", text=text_of(1_500, 3))], reuse=Reuse(uses=20))
    b.add_messages([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}])
    plan = optimize(b.add_user_turn("z").set_params(max_tokens=5).build())
    users = [p for p in plan.placements if p.source == "user"]
    assert [p.path for p in users] == ["system[0]", "system[1]", "system[2]"]
    assert len(plan.placements) <= 4


def test_five_user_markers_raise_naming_the_rule() -> None:
    marked = [{"type": "text", "text": text_of(300, i), "cache_control": {"type": "ephemeral"}}
              for i in range(5)]
    b = PromptBuilder("claude-sonnet-4-6").add_system(marked)
    with pytest.raises(TooManyBreakpointsError, match="at most 4"):
        optimize(b.add_user_turn("q").set_params(max_tokens=5).build())


def test_user_marker_below_minimum_is_kept_with_a_warning() -> None:
    b = PromptBuilder("claude-sonnet-4-6")
    b.add_system([{"type": "text", "text": "short", "cache_control": {"type": "ephemeral"}}])
    with pytest.warns(CacheWarning, match="below"):
        plan = optimize(b.add_user_turn("q").set_params(max_tokens=5).build())
    assert [p.source for p in plan.placements] == ["user"]
    assert plan.warnings


def test_automatic_cache_control_uses_one_of_the_four_slots() -> None:
    b = chat_builder(history_turns=4)
    b.add_documents([Document(id="d", text=text_of(2_000, 9))], reuse=Reuse(uses=30))
    prompt = b.add_user_turn("q").build()
    plan = optimize(prompt, automatic="5m")
    assert plan.automatic_ttl == "5m"
    assert len(plan.placements) <= 4
    assert sum(p.source == "automatic" for p in plan.placements) == 1


def test_state_marks_expired_prefix_as_cold_and_warm_prefix_as_read() -> None:
    from promptcache.providers.anthropic.render import record_sent

    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    prompt = chat_builder().add_user_turn("q").build()
    first = optimize(prompt, state=state)
    assert first.expected.cache_read_tokens == 0
    record_sent(state, prompt, first)
    clock.advance(60)
    warm = optimize(prompt, state=state)
    assert warm.expected.cache_read_tokens > 0
    clock.advance(400)  # past the 5m TTL
    assert state.is_surely_cold(first.fingerprints[first.placements[0].index], clock.now())
    cold = optimize(prompt, state=state)
    assert cold.expected.cache_read_tokens == 0


def test_state_learns_reuse_gaps_and_switches_to_one_hour() -> None:
    from promptcache.providers.anthropic.render import record_sent

    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    ttls = []
    for _ in range(6):
        prompt = chat_builder(system_tokens=3_000).add_user_turn("q").build()
        plan = optimize(prompt, state=state)
        ttls.append(next(p.ttl for p in plan.placements if p.layer == "system"))
        record_sent(state, prompt, plan)
        clock.advance(15 * 60)  # the prompt comes back every 15 minutes
    assert ttls[0] == "5m" and ttls[-1] == "1h"


def test_fingerprints_ignore_cache_control() -> None:

    plain = PromptBuilder("claude-sonnet-4-6").add_system(text_of(50)).add_user_turn("q").build()
    marked = PromptBuilder("claude-sonnet-4-6").add_system(
        [{"type": "text", "text": text_of(50), "cache_control": {"type": "ephemeral"}}]
    ).add_user_turn("q").build()
    assert plain.fingerprints == marked.fingerprints


def test_plan_explains_every_placement_and_rejection() -> None:
    plan = optimize(chat_builder(history_turns=3).add_user_turn("q").build())
    text = plan.explain()
    for p in plan.placements:
        assert p.path in text and p.reason
    for r in plan.rejected:
        assert r.path in text and r.reason


def test_bedrock_has_no_automatic_caching() -> None:
    from promptcache import RuleViolation

    b = PromptBuilder("claude-sonnet-4-6", platform="bedrock").add_system(text_of(2_000))
    prompt = b.add_user_turn("q").set_params(max_tokens=5).build()
    with pytest.raises(RuleViolation, match="not supported on bedrock"):
        optimize(prompt, automatic="5m")
    assert limits_for("claude-fable-5", platform="bedrock").min_cacheable_tokens == 1_024


def test_concurrent_identical_requests_do_not_each_pay_a_write() -> None:
    from promptcache.providers.anthropic.render import record_sent

    clock = ManualClock(0.0)
    state = CacheState(clock=clock, response_latency=1.0)
    prompt = chat_builder(system_tokens=4_000).add_user_turn("q").build()
    first = optimize(prompt, state=state)
    record_sent(state, prompt, first, response_started=False)  # sent, response not started yet
    clock.advance(0.05)  # a second request of the same burst, before the first response started
    second = optimize(prompt, state=state)
    assert first.placements and not second.placements
    assert any(r.rule == "pending-write" for r in second.rejected)
    assert second.expected.cache_read_tokens == 0  # nothing readable yet: no read promised
    clock.advance(2.0)
    third = optimize(prompt, state=state)
    assert third.expected.cache_read_tokens > 0


def test_burst_gaps_are_not_counted_as_reuse_gaps() -> None:
    from promptcache.providers.anthropic.render import record_sent

    clock = ManualClock(0.0)
    state = CacheState(clock=clock, response_latency=1.0)
    prompt = chat_builder(system_tokens=3_000).add_user_turn("q").build()
    for _ in range(10):
        record_sent(state, prompt, optimize(prompt, state=state), response_started=False)
        clock.advance(0.01)
    hint = prompt.layers[1].reuse
    assert state.observed_reuse("system", hint) == hint  # no reuse gap learned from a burst


def test_a_request_level_cache_control_is_honoured_by_a_plan_made_by_hand() -> None:
    from promptcache import prompt_from_request, render_anthropic

    request = {"model": "claude-sonnet-4-6", "max_tokens": 10,
               "cache_control": {"type": "ephemeral", "ttl": "1h"},
               "system": [{"type": "text", "text": text_of(2_000)}],
               "messages": [{"role": "user", "content": "hi"}]}
    prompt = prompt_from_request(request)
    plan = optimize(prompt)
    assert plan.automatic_ttl == "1h"
    assert render_anthropic(prompt, plan)["cache_control"] == {"type": "ephemeral", "ttl": "1h"}


def test_optimize_names_what_it_needs_when_given_a_builder() -> None:
    from promptcache import PromptError

    with pytest.raises(PromptError, match="build"):
        optimize(chat_builder())  # type: ignore[arg-type]


# --- thinking blocks, kept or stripped per model row (PROVIDER_FACTS F) ----------------------

THINKING = {"type": "enabled", "budget_tokens": 1_024}


def _thinking_rounds() -> list[list[dict]]:
    """Three requests of a tool loop with thinking on: the question, the tool's result, then a
    follow-up question (a user turn that is not only tool results)."""
    q = {"role": "user", "content": text_of(1_500, 7)}
    call = {"role": "assistant", "content": [
        {"type": "thinking", "thinking": text_of(600, 8), "signature": "c2ln"},
        {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "x"}}]}
    result = {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": text_of(1_200, 9)}]}
    answer = {"role": "assistant", "content": "Here is what I found."}
    follow_up = {"role": "user", "content": "And what does that mean for us?"}
    return [[q], [q, call, result], [q, call, result, answer, follow_up]]


def _run_thinking_loop(model: str) -> tuple[list[dict], list]:
    import anthropic

    from promptcache import record_sent
    from promptcache.testing import AnthropicServer

    clock = ManualClock()
    state = CacheState(clock=clock)
    usages, plans = [], []
    with AnthropicServer(clock=clock) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)
        for messages in _thinking_rounds():
            prompt = (PromptBuilder(model).add_tools([tool("search", 1_200)])
                      .add_system(text_of(3_000)).add_messages(messages)
                      .set_params(max_tokens=2_048, thinking=THINKING).build())
            plan = optimize(prompt, state=state)
            response = client.messages.create(**render_anthropic(prompt, plan))
            record_sent(state, prompt, plan)
            usages.append(response.usage.model_dump())
            plans.append(plan)
            clock.advance(20)
    return usages, plans


def _through_tool_result(model: str) -> int:
    prompt = (PromptBuilder(model).add_tools([tool("search", 1_200)])
              .add_system(text_of(3_000)).add_messages(_thinking_rounds()[1])
              .set_params(max_tokens=2_048, thinking=THINKING).build())
    return prompt.total_tokens


@pytest.mark.parametrize("model", ["claude-sonnet-4-6", "claude-opus-4-8"])
def test_a_model_that_keeps_thinking_reads_the_tool_loop_after_a_new_question(model: str) -> None:
    # Opus 4.5+ and Sonnet 4.6+ keep earlier thinking blocks after a non-tool-result user turn:
    # the prefix the tool loop wrote (thinking included) is still the prefix, and is read.
    assert limits_for(model, provider="anthropic").keeps_thinking
    usages, plans = _run_thinking_loop(model)
    loop = _through_tool_result(model)
    assert usages[2]["cache_read_input_tokens"] >= 0.9 * loop
    # The planner saw it coming: it expected to read what the simulator read.
    assert plans[2].expected.cache_read_tokens >= 0.9 * loop


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-haiku-4-5"])
def test_a_model_that_strips_thinking_loses_the_tool_loop_after_a_new_question(
        model: str) -> None:
    # Older Opus/Sonnet and Haiku through 4.5 drop the earlier thinking blocks: the prefix
    # changes at the first of them, so the follow-up reads at most what came before it.
    assert not limits_for(model, provider="anthropic").keeps_thinking
    usages, plans = _run_thinking_loop(model)
    before_thinking = PromptBuilder(model).add_tools([tool("search", 1_200)]).add_system(
        text_of(3_000)).add_messages(_thinking_rounds()[0]).build().total_tokens
    assert 0.9 * before_thinking <= usages[2]["cache_read_input_tokens"] <= before_thinking
    assert plans[2].expected.cache_read_tokens <= before_thinking
