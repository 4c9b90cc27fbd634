"""One test per documented provider statement (December 2026), each naming its source.

"PF-E" is the "December 2026 update" section of ``shared/PROVIDER_FACTS.md``, checked 2026-12-01
against the providers' pages quoted in each docstring. Where the installed SDK disagrees with
the sheet, the SDK wins and the test says so.
"""

from __future__ import annotations

from typing import Any

import pytest

from promptcache.errors import UnknownModelError
from promptcache.limits import FACTS_CHECKED, limits_for
from promptcache.providers.usage import parse_usage
from promptcache.simulator import AnthropicCacheSimulator, ManualClock, SimulatedAPIError
from promptcache.tokens import count_block, count_tool
from promptcache.usage import cost_of

MODEL = "claude-sonnet-4-5"  # minimum 1,024 tokens
EPH = {"type": "ephemeral"}
EPH_1H = {"type": "ephemeral", "ttl": "1h"}
THINKING = {"type": "enabled", "budget_tokens": 2_048}


def words(n: int, seed: str = "w") -> str:
    return " ".join(f"{seed}{i}" for i in range(n))


@pytest.fixture
def sim(clock: ManualClock) -> AnthropicCacheSimulator:
    return AnthropicCacheSimulator(clock=clock)


# -- Anthropic: what invalidates the cache (simulator) --------------------------------------------

SYSTEM = [{"type": "text", "text": words(1_500, "sys"), "cache_control": EPH}]
TOOL = {"name": "get_weather", "description": "Current weather for a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def _tool_loop(*, marker_on_result: bool = True) -> list[dict[str, Any]]:
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": "toolu_1",
                              "content": words(300, "obs")}
    if marker_on_result:
        result["cache_control"] = EPH
    return [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": words(400, "think"), "signature": "sig"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
             "input": {"city": "Paris"}}]},
        {"role": "user", "content": [result]},
    ]


def _request(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "system": SYSTEM, "tools": [TOOL],
            "thinking": THINKING, "messages": messages, **extra}


def test_tool_results_alone_keep_the_thinking_blocks_cached(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    """Source: platform.claude.com/docs/en/build-with-claude/prompt-caching, "Caching with
    thinking blocks": "Cache remains valid when only tool results are provided as user messages"."""
    first = sim.create(_request(_tool_loop()))
    clock.advance(5)
    follow = [
        *_tool_loop(marker_on_result=False),
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": words(50, "more"), "signature": "sig2"},
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2",
                                      "content": "20 C", "cache_control": EPH}]},
    ]
    second = sim.create(_request(follow))
    assert second.usage["cache_read_input_tokens"] == first.positions[-1].end


def test_a_user_turn_that_is_not_a_tool_result_strips_thinking_and_misses_the_messages(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    """Source: prompt-caching page, "Caching with thinking blocks": "Cache gets invalidated when
    non-tool-result user content is added, causing all previous thinking blocks to be stripped";
    PF-E "What invalidates". The messages after the stripped blocks are no longer the cached
    prefix: only the system entry (before any thinking block) is read."""
    first = sim.create(_request(_tool_loop()))
    assert first.usage["cache_creation_input_tokens"] == first.positions[-1].end
    clock.advance(5)
    follow = [
        *_tool_loop(marker_on_result=False),
        {"role": "assistant", "content": "It is 18 C in Paris."},
        {"role": "user", "content": [{"type": "text", "text": "And in Rome?", "cache_control": EPH}]},
    ]
    second = sim.create(_request(follow))
    system_tokens = sum(count_tool(t) for t in [TOOL]) + sum(count_block(b) for b in SYSTEM)
    assert second.usage["cache_read_input_tokens"] == system_tokens
    stripped = [p for p in second.positions if p.stripped]
    assert [p.kind for p in stripped] == ["thinking"]
    assert all(p.tokens == 0 for p in stripped)  # dropped from the context, so not counted


def test_toggling_citations_invalidates_system_and_messages_but_not_tools(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    """Source: prompt-caching page, "What invalidates the cache": "Citations toggle — tools ✓,
    system ✘, messages ✘: Enabling/disabling citations modifies the system prompt"; PF-E."""
    tools = [{**TOOL, "description": words(1_200, "doc"), "cache_control": EPH}]

    def request(citations: bool) -> dict[str, Any]:
        document = {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                                   "data": words(200, "kb")},
                    "citations": {"enabled": citations}}
        return {"model": MODEL, "max_tokens": 64, "tools": tools, "system": SYSTEM,
                "messages": [{"role": "user", "content": [
                    document, {"type": "text", "text": "Quote it.", "cache_control": EPH}]}]}

    sim.create(request(citations=False))
    clock.advance(5)
    assert sim.create(request(citations=False)).usage["cache_read_input_tokens"] > count_tool(
        tools[0])
    toggled = sim.create(request(citations=True))
    assert toggled.usage["cache_read_input_tokens"] == count_tool(tools[0])


def test_a_read_keeps_the_entry_s_own_ttl_by_default(
    sim: AnthropicCacheSimulator, clock: ManualClock
) -> None:
    """Source: none — the prompt-caching page does not say whether reading a 5m entry through a
    1h marker makes it a 1h entry (issue 15, PF-E). Where the docs are silent the simulator
    must not assume the reading that saves money: the entry lives 5 minutes from the read."""
    five = {"model": MODEL, "max_tokens": 64, "system": SYSTEM,
            "messages": [{"role": "user", "content": "hi"}]}
    one_hour = {**five, "system": [{**SYSTEM[0], "cache_control": EPH_1H}]}
    sim.create(five)
    clock.advance(60)
    assert sim.create(one_hour).usage["cache_read_input_tokens"] > 0
    clock.advance(600)
    assert sim.create(five).usage["cache_read_input_tokens"] == 0


def test_extend_ttl_on_read_is_the_option_for_users_who_confirm_it(clock: ManualClock) -> None:
    """Source: as above; ``extend_ttl_on_read=True`` models the other reading of the docs."""
    sim = AnthropicCacheSimulator(clock=clock, extend_ttl_on_read=True)
    five = {"model": MODEL, "max_tokens": 64, "system": SYSTEM,
            "messages": [{"role": "user", "content": "hi"}]}
    one_hour = {**five, "system": [{**SYSTEM[0], "cache_control": EPH_1H}]}
    sim.create(five)
    clock.advance(60)
    sim.create(one_hour)
    clock.advance(600)
    assert sim.create(five).usage["cache_read_input_tokens"] > 0


# -- Anthropic: pre-warming with max_tokens=0 (simulator) ------------------------------------------

_PREWARM = {"model": MODEL, "max_tokens": 0, "system": SYSTEM,
            "messages": [{"role": "user", "content": "."}]}


def test_prewarming_with_max_tokens_0_writes_and_is_accepted(sim: AnthropicCacheSimulator) -> None:
    """Source: prompt-caching page, "Pre-warming the cache"; SDK 2.15.0 ``max_tokens`` docstring:
    "Set to `0` to populate the prompt cache without generating a response"."""
    assert sim.create(_PREWARM).usage["cache_creation_input_tokens"] > 0


@pytest.mark.parametrize("setting", [
    {"stream": True},
    {"thinking": THINKING},
    {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
    {"tools": [TOOL], "tool_choice": {"type": "tool", "name": "get_weather"}},
], ids=["stream", "thinking", "structured-outputs", "forced-tool_choice"])
def test_prewarming_is_refused_with_these_settings(
    sim: AnthropicCacheSimulator, setting: dict[str, Any]
) -> None:
    """Source: PF-E, "Pre-warming with max_tokens: 0 ... refused with streaming, extended
    thinking, structured outputs, a forced tool_choice, and inside Message Batches"."""
    with pytest.raises(SimulatedAPIError) as info:
        sim.create({**_PREWARM, **setting})
    assert info.value.rule == "prewarm"


def test_prewarming_is_refused_inside_a_message_batch(sim: AnthropicCacheSimulator) -> None:
    """Source: PF-E, as above ("and inside Message Batches")."""
    with pytest.raises(SimulatedAPIError):
        sim.create(_PREWARM, batch=True)
    assert sim.create({**_PREWARM, "max_tokens": 16}, batch=True).usage is not None


# -- Anthropic: the limits table ------------------------------------------------------------------

def test_the_tables_were_checked_on_the_day_of_the_december_update() -> None:
    """Source: PF-E header, "Checked 2026-12-01"."""
    assert FACTS_CHECKED.isoformat() == "2026-12-01"


@pytest.mark.parametrize(("model", "minimum"), [
    ("claude-opus-5", 512), ("claude-fable-5", 512), ("claude-mythos-5", 512),
    ("claude-opus-4-8", 1_024), ("claude-sonnet-5", 1_024), ("claude-sonnet-4-6", 1_024),
    ("claude-sonnet-4-5", 1_024), ("claude-opus-4-7", 2_048), ("claude-mythos-preview", 2_048),
    ("claude-3-5-haiku", 2_048), ("claude-opus-4-6", 4_096), ("claude-opus-4-5", 4_096),
    ("claude-haiku-4-5", 4_096),
])
def test_anthropic_minimums_follow_the_august_2026_page(model: str, minimum: int) -> None:
    """Source: prompt-caching page (August 2026 revision), minimum cacheable prompt length; PF-E."""
    assert limits_for(model, provider="anthropic").min_cacheable_tokens == minimum


def test_the_claude_5_5_family_has_rows_with_unpublished_figures_marked() -> None:
    """Source: PF-E: "Sonnet 5.5 and Haiku 5.5 minimums: unconfirmed"; "Haiku 5.5 is priced in
    tiers". No figure is invented: a missing price is None, and cost_of prints no dollars."""
    for model in ("claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"):
        assert limits_for(f"{model}-20261001").model == model
    haiku = limits_for("claude-haiku-5-5")
    assert haiku.input_price is None and "min_cacheable_tokens" in haiku.unconfirmed
    usage = parse_usage({"model": "claude-haiku-5-5", "usage": {
        "input_tokens": 10, "cache_read_input_tokens": 5_000, "cache_creation_input_tokens": 0,
        "output_tokens": 3}})
    assert not cost_of(usage).priced  # no dollar figure rather than an invented one


def test_opus_5_5_reads_at_0_05x_of_its_4_dollar_input() -> None:
    """Source: PF-E: "Opus 5.5 reads at $0.20 on $4 input (0.05x, its model page)"."""
    row = limits_for("claude-opus-5-5")
    assert row.input_price == 4.0
    assert row.input_price * row.cache_read_multiplier == pytest.approx(0.20)
    assert row.output_price is None and "output_price" in row.unconfirmed


@pytest.mark.parametrize("model", ["claude-fable-5-1", "claude-mythos-5-1"])
def test_fable_and_mythos_5_1_read_at_0_025x(model: str) -> None:
    """Source: PF-E: "Fable 5.1 and Mythos 5.1 read at 0.025x (pricing page)"; the pricing page
    lists Fable 5.1 reads at $0.25 against $10 input."""
    assert limits_for(model).cache_read_multiplier == 0.025
    assert limits_for("claude-fable-5-1").input_price == 10.0


def test_haiku_3_writes_0_30_and_reads_0_03_per_mtok() -> None:
    """Source: PF-E: "Haiku 3: $0.30 5m write, $0.03 read per MTok"; and the per-row multipliers
    are what usage.cost_of bills with."""
    row = limits_for("claude-3-haiku-20240307")
    assert row.input_price is not None
    assert row.input_price * row.write_multiplier("5m") == pytest.approx(0.30)
    assert row.input_price * row.cache_read_multiplier == pytest.approx(0.03)
    usage = parse_usage({"model": "claude-3-haiku-20240307", "usage": {
        "input_tokens": 0, "cache_read_input_tokens": 1_000_000, "cache_creation_input_tokens": 0,
        "output_tokens": 0}})
    assert cost_of(usage).billed == pytest.approx(0.03)


def test_the_simulator_bills_with_the_row_s_multipliers(sim: AnthropicCacheSimulator,
                                                        clock: ManualClock) -> None:
    """Source: PF-E prices; the simulator's usage, priced by cost_of, reads at the row's rate."""
    request = {"model": "claude-opus-5-5", "max_tokens": 64, "system": SYSTEM,
               "messages": [{"role": "user", "content": "hi"}]}
    sim.create(request)
    clock.advance(5)
    usage = parse_usage({"model": "claude-opus-5-5", "usage": sim.create(request).usage})
    assert usage.cache_read_tokens > 0
    expected = (usage.cache_read_tokens * 0.05 + usage.input_tokens) * 4.0 / 1e6
    assert cost_of(usage).billed == pytest.approx(expected)


def test_claude_4_7_and_later_count_about_30_percent_more_tokens() -> None:
    """Source: PF-E: "Claude 4.7 and later count about 30% more tokens than earlier Claude models
    for the same text". The planner reads token_ratio and which way the band leans."""
    old, new = limits_for("claude-opus-4-6"), limits_for("claude-opus-4-7")
    assert new.token_ratio / old.token_ratio == pytest.approx(1.3)
    low, expected, high = new.provider_tokens(1_000)
    assert low < expected < high and expected == 1_300
    assert "token_ratio" in new.unconfirmed


def test_bedrock_accepts_the_1h_ttl_only_on_claude_4_5_and_later() -> None:
    """Source: PF-E: "Bedrock accepts it only on Claude 4.5 and later (since 2026-01-26)"."""
    assert "1h" in limits_for("claude-sonnet-4-5", platform="bedrock").ttls
    assert "1h" in limits_for("claude-opus-4-8", platform="bedrock").ttls
    assert limits_for("claude-sonnet-4", platform="bedrock").ttls == ("5m",)
    assert "1h" in limits_for("claude-sonnet-4", platform="api").ttls


def test_bedrock_has_its_own_minimums_and_no_automatic_caching() -> None:
    """Source: PF-A/E: "Bedrock differs (Fable 5 and Mythos 5 are 1,024 there)"; automatic
    caching "Not on the legacy Bedrock integration (400)"."""
    bedrock = limits_for("us.anthropic.claude-mythos-5-v1:0", platform="bedrock")
    assert bedrock.min_cacheable_tokens == 1_024 and not bedrock.automatic_caching
    assert limits_for("claude-mythos-5", platform="vertex").min_cacheable_tokens == 512


def test_cache_diagnostics_are_claude_api_only() -> None:
    """Source: PF-E: "Cache diagnostics (beta, 2026-05-13): header cache-diagnosis-2026-04-07 ...
    Claude API only — not Bedrock, not Vertex"; the beta literal is in anthropic 2.15.0."""
    assert limits_for("claude-sonnet-4-6").diagnostics_beta == "cache-diagnosis-2026-04-07"
    assert limits_for("claude-sonnet-4-6", platform="bedrock").diagnostics_beta is None
    assert limits_for("claude-sonnet-4-6", platform="vertex").diagnostics_beta is None


def test_caches_are_isolated_per_workspace_on_the_claude_api() -> None:
    """Source: PF-E: "per workspace on the Claude API ... per organisation on Bedrock and Google
    Cloud"."""
    assert limits_for("claude-opus-4-8").isolation == "workspace"
    assert limits_for("claude-opus-4-8", platform="bedrock").isolation == "organisation"
    assert limits_for("claude-opus-4-8", platform="vertex").isolation == "organisation"


def test_what_invalidates_is_recorded_in_the_row() -> None:
    """Source: PF-E "What invalidates": speed -> system and messages, effort and thinking ->
    messages, citations -> system; mid-conversation system messages from Opus 4.8, tool changes
    behind the beta header mid-conversation-tool-changes-2026-07-01."""
    row = limits_for("claude-opus-4-8")
    assert row.invalidated_by["speed"] == "system"
    assert row.invalidated_by["citations"] == "system"
    assert row.invalidated_by["effort"] == "messages"
    assert "mid_conversation_system" in row.cache_preserving
    assert "mid_conversation_system" not in limits_for("claude-opus-4-7").cache_preserving
    assert row.cache_preserving["mid_conversation_tools"] == "mid-conversation-tool-changes-2026-07-01"
    assert limits_for("claude-sonnet-5-5").thinking_bound_to_model


def test_an_unknown_claude_model_still_raises() -> None:
    """A guessed row would silently waste breakpoints: only documented families have rows."""
    with pytest.raises(UnknownModelError):
        limits_for("claude-nonesuch-9", provider="anthropic")


# -- OpenAI ---------------------------------------------------------------------------------------


def test_openai_before_gpt_5_6_uses_the_guide_s_1024_minimum_and_says_so() -> None:
    """Source: PF-E: "Before GPT-5.6: the guide says caching starts at 1,024 tokens ... (a later
    revision: 'can range from 1,024 to 2,048')"."""
    row = limits_for("gpt-5-mini")
    assert row.min_cacheable_tokens == 1_024 and "1,024 to 2,048" in row.note
    assert row.rounds_to_128 and row.ttl_parameter == "prompt_cache_retention"


def test_gpt_5_6_sets_its_ttl_with_prompt_cache_options_and_prices_writes() -> None:
    """Source: PF-E: "prompt_cache_retention is deprecated in favour of prompt_cache_options.ttl";
    "GPT-5.6 family: writes 1.25x, reads 0.1x ... requests above 272K tokens pay doubled";
    openai 3.57.0 docstring: "Deprecated. Use `prompt_cache_options.ttl` instead"."""
    row = limits_for("gpt-5.6")
    assert row.ttl_parameter == "prompt_cache_options.ttl"
    assert row.write_multiplier("30m") == 1.25 and row.cache_read_multiplier == 0.1
    assert row.long_context_threshold == 272_000 and row.max_breakpoints == 4


def test_gpt_5_6_reports_cache_write_tokens() -> None:
    """Source: PF-E: "writes reported as cache_write_tokens" (chat: prompt_tokens_details)."""
    usage = parse_usage({"model": "gpt-5.6", "object": "chat.completion", "usage": {
        "prompt_tokens": 3_000, "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 1_024, "cache_write_tokens": 1_500}}})
    assert usage.cache_read_tokens == 1_024
    assert usage.cache_writes == {"30m": 1_500}
    assert usage.input_tokens == 3_000 - 1_024 - 1_500


# -- Gemini ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "minimum"), [
    ("gemini-2.5-flash", 2_048), ("gemini-2.5-pro", 2_048), ("gemini-3.1-pro-preview", 4_096),
    ("gemini-3.5-flash", 4_096), ("gemini-3.8-flash", 4_096),
])
def test_gemini_implicit_minimums_follow_the_newest_page(model: str, minimum: int) -> None:
    """Source: ai.google.dev/gemini-api/docs/caching ("Last updated 2026-10-13"); PF-E."""
    assert limits_for(model, provider="gemini").min_cacheable_tokens == minimum


def test_the_interactions_api_reports_total_cached_tokens() -> None:
    """Source: PF-E: "The Interactions API ... reports usage.total_cached_tokens"; google-genai
    3.6.1 ``_gaos/types/interactions/usage.py`` (total_input_tokens includes the cached part)."""
    from google.genai._gaos.types.interactions.interaction import Interaction

    interaction = Interaction.model_validate({
        "id": "int_1", "status": "completed", "usage": {
            "total_input_tokens": 5_000, "total_cached_tokens": 4_096,
            "total_output_tokens": 20, "total_thought_tokens": 7}})
    usage = parse_usage(interaction, model="gemini-3.5-flash")
    assert usage.provider == "gemini"
    assert usage.cache_read_tokens == 4_096
    assert usage.input_tokens == 5_000 - 4_096
    assert usage.output_tokens == 27
    as_dict = parse_usage(interaction.model_dump(mode="json"), model="gemini-3.5-flash")
    assert as_dict == usage  # the wire dict is recognised as Gemini too, no provider= needed


def test_bedrock_rejects_a_1h_marker_before_claude_4_5() -> None:
    """Source: PF-E: "1-hour TTL ... Bedrock accepts it only on Claude 4.5 and later (since
    2026-01-26)". Through the real AnthropicBedrock client and the loopback server."""
    import anthropic

    from promptcache.testing import AnthropicServer

    system = [{"type": "text", "text": words(1_500, "sys"), "cache_control": EPH_1H}]
    with AnthropicServer(clock=ManualClock()) as server:
        client = anthropic.AnthropicBedrock(api_key="test", aws_region="us-east-1",
                                            base_url=server.url, max_retries=0)
        ok = client.messages.create(model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                    max_tokens=16, system=system,
                                    messages=[{"role": "user", "content": "hi"}])
        assert ok.usage.cache_creation_input_tokens
        with pytest.raises(anthropic.BadRequestError, match="not supported"):
            client.messages.create(model="anthropic.claude-sonnet-4-20250514-v1:0",
                                   max_tokens=16, system=system,
                                   messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize("toggle", ["web_search", "citations"])
def test_diagnostics_blame_the_system_for_a_web_search_or_citations_toggle(
    sim: AnthropicCacheSimulator, toggle: str
) -> None:
    """Source: prompt-caching page, "What invalidates the cache": web search and citations
    toggles modify the system prompt; PF-E lists ``system_changed`` among the diagnostics reasons."""
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                               "data": words(100, "kb")}}
    base = {"model": MODEL, "max_tokens": 64, "tools": [TOOL], "system": SYSTEM,
            "messages": [{"role": "user", "content": [document, {"type": "text", "text": "?"}]}]}
    if toggle == "web_search":
        edited = {**base, "tools": [TOOL, {"type": "web_search_20250305", "name": "web_search"}]}
    else:
        cited = {**document, "citations": {"enabled": True}}
        edited = {**base, "messages": [{"role": "user", "content": [cited, {"type": "text",
                                                                             "text": "?"}]}]}
    first = sim.create(base)
    result = sim.create({**edited, "diagnostics": {"previous_message_id": first.message_id}})
    assert result.diagnostics is not None
    assert result.diagnostics["cache_miss_reason"]["type"] == "system_changed"


def test_validate_refuses_a_1h_marker_bedrock_would_reject_before_sending() -> None:
    """Source: PF-E (as above). ``validate`` says so before the request leaves the process, naming
    the block and the rule, where the server above answers 400."""
    from promptcache import RuleViolation, validate

    request = {"model": "anthropic.claude-sonnet-4-20250514-v1:0", "max_tokens": 16,
               "system": [{"type": "text", "text": words(1_500, "sys"), "cache_control": EPH_1H}],
               "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(RuleViolation) as refused:
        validate(request, platform="bedrock")
    assert (refused.value.rule, refused.value.path) == ("ttl-unsupported", "system[0]")
    later = {**request, "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}
    assert validate(later, platform="bedrock", warn=False).ok
