"""diff_requests: the shared prefix, the first difference, and every row of Anthropic's table."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from promptcache import PromptError
from promptcache.diagnostics.diff import INVALIDATION_TABLE, diff_requests
from promptcache.limits import limits_for
from promptcache.providers.registry import view_of
from tests.helpers import chat_builder, text_of, tool

MODEL = "claude-sonnet-4-5"
ALL = ("tools", "system", "messages")


def request(**overrides: Any) -> dict[str, Any]:
    """Tools (last one marked), a large marked system prompt and a short conversation."""
    base: dict[str, Any] = {
        "model": MODEL, "max_tokens": 256,
        "tools": [tool("search"), {**tool("fetch"), "cache_control": {"type": "ephemeral"}}],
        "system": [{"type": "text", "text": text_of(2_000),
                    "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "first question " + text_of(50)}]},
            {"role": "assistant", "content": [{"type": "text", "text": "an answer " + text_of(50)}]},
            {"role": "user", "content": [{"type": "text", "text": "next question",
                                          "cache_control": {"type": "ephemeral"}}]},
        ],
    }
    base.update(overrides)
    return base


def changed(fn: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    b = copy.deepcopy(base or request())
    fn(b)
    return b


def system_start(req: dict[str, Any]) -> int:
    return next(i for i, b in enumerate(view_of(req).blocks) if b.level != "tools")


# -- the table, row by row ------------------------------------------------------------------------


def test_tool_definition_change_invalidates_every_level() -> None:
    a = request()
    b = changed(lambda r: r["tools"][0].update(description="A different description."))
    d = diff_requests(a, b)
    assert d.invalidated == ALL
    assert d.change.rows == ("tool definitions",)
    assert d.change.path_b == "tools[0]"
    assert d.shared_blocks == 0 and d.read_tokens == 0


def test_web_search_toggle_keeps_the_tools_cache_but_invalidates_system_and_messages() -> None:
    a = request()
    b = changed(lambda r: r["tools"].append({"type": "web_search_20250305", "name": "web_search"}))
    d = diff_requests(a, b)
    assert d.change.rows == ("web search toggle",)
    assert d.invalidated == ("system", "messages")
    assert d.shared_path == "tools[1]"  # every other tool is still shared
    assert diff_requests(b, a).invalidated == ("system", "messages")  # and toggling it off


def test_citations_toggle_invalidates_system_and_messages() -> None:
    doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                          "data": text_of(300)}, "title": "Manual"}
    a = changed(lambda r: r["messages"][0]["content"].insert(0, dict(doc)))
    b = changed(lambda r: r["messages"][0]["content"][0].update(citations={"enabled": True}), a)
    d = diff_requests(a, b)
    assert d.change.rows == ("citations toggle",)
    assert d.invalidated == ("system", "messages")
    assert d.shared_blocks == system_start(b)


def test_switching_speed_invalidates_system_and_messages() -> None:
    a, b = request(), request()
    b["speed"] = "fast"
    d = diff_requests(a, b)
    assert d.change.rows == ("speed",)
    assert d.invalidated == ("system", "messages")
    assert d.shared_blocks == system_start(b)


@pytest.mark.parametrize(("param", "value_a", "value_b", "row"), [
    ("tool_choice", None, {"type": "any"}, "tool_choice"),
    ("tool_choice", {"type": "auto"}, {"type": "tool", "name": "search"}, "tool_choice"),
    ("thinking", None, {"type": "enabled", "budget_tokens": 2_000}, "thinking settings"),
    ("thinking", {"type": "enabled", "budget_tokens": 2_000},
     {"type": "enabled", "budget_tokens": 4_000}, "thinking settings"),
    ("output_config", None, {"effort": "low"}, "effort"),
])
def test_message_level_settings_invalidate_only_messages(param: str, value_a: Any, value_b: Any,
                                                         row: str) -> None:
    a, b = request(), request()
    for r, v in ((a, value_a), (b, value_b)):
        if v is not None:
            r[param] = v
    d = diff_requests(a, b)
    assert d.change.kind == "setting"
    assert d.change.rows == (row,)
    assert d.invalidated == ("messages",)
    assert d.change.path_b == "messages[0].content[0]"
    # tools and system are still read: the miss is only what A had cached after them
    assert d.read_tokens == view_of(a).prefix_tokens[system_start(a)]


def test_adding_an_image_anywhere_invalidates_messages() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    a = request()
    b = changed(lambda r: r["messages"][2]["content"].insert(0, image))
    d = diff_requests(a, b)
    assert d.change.rows == ("images",)
    assert d.invalidated == ("messages",)
    assert d.shared_blocks == system_start(b) + 1  # through the system block


def thinking_turns(last_user: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": [{"type": "text", "text": "look it up"}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should search.", "signature": "c2ln"},
            {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "x"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": text_of(200),
                                      "cache_control": {"type": "ephemeral"}}]},
        *last_user,
    ]


def test_non_tool_result_content_with_thinking_strips_thinking_and_invalidates_messages() -> None:
    thinking = {"type": "enabled", "budget_tokens": 2_000}
    a = request(thinking=thinking, messages=thinking_turns([]))
    b = request(thinking=thinking, messages=thinking_turns([
        {"role": "assistant", "content": [{"type": "text", "text": "Found it."}]},
        {"role": "user", "content": [{"type": "text", "text": "thanks, and now?"}]},
    ]))
    d = diff_requests(a, b)
    assert d.change.rows == ("non-tool-result content with thinking",)
    assert d.invalidated == ("messages",)
    assert d.change.path_a == "messages[1].content[0]"
    assert d.shared_path == "messages[0].content[0]"


def test_tool_results_with_thinking_keep_the_cache() -> None:
    thinking = {"type": "enabled", "budget_tokens": 2_000}
    a = request(thinking=thinking, messages=thinking_turns([]))
    b = request(thinking=thinking, messages=thinking_turns([
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Again.", "signature": "c2ln"},
            {"type": "tool_use", "id": "toolu_2", "name": "search", "input": {"q": "y"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2",
                                      "content": "more"}]},
    ]))
    d = diff_requests(a, b)
    assert d.change.kind == "extended"
    assert d.invalidated == ()


def test_system_content_change_keeps_tools_and_invalidates_the_rest() -> None:
    a = request()
    b = changed(lambda r: r["system"][0].update(text=r["system"][0]["text"] + " Be brief."))
    d = diff_requests(a, b)
    assert d.change.kind == "changed"
    assert d.change.rows == ("system content",)
    assert d.invalidated == ("system", "messages")
    assert "Be brief." in d.change.detail


def test_every_table_row_is_covered_by_a_level_list() -> None:
    assert INVALIDATION_TABLE["tool definitions"] == ALL
    for row in ("tool_choice", "images", "thinking settings",
                "non-tool-result content with thinking"):
        assert INVALIDATION_TABLE[row] == ("messages",)


# -- kinds of change ---------------------------------------------------------------------------


def test_moving_a_marker_never_invalidates() -> None:
    a = request()
    b = changed(lambda r: r["tools"][1].pop("cache_control"))
    d = diff_requests(a, b)
    assert d.change.kind == "marker-only"
    assert d.invalidated == () and d.hit
    assert d.marker_changes == ("tools[1]",)


def test_dropping_the_only_marker_invalidates_nothing_but_reads_nothing() -> None:
    a = request()
    b = changed(lambda r: [block.pop("cache_control", None)
                           for block in (*r["tools"], *r["system"], *r["messages"][2]["content"])])
    d = diff_requests(a, b)
    assert d.change.kind == "marker-only" and d.invalidated == ()
    assert d.read_tokens == 0 and not d.hit
    assert "no breakpoint" in d.explain()


def test_identical_requests() -> None:
    d = diff_requests(request(), request())
    assert d.change.kind == "identical" and d.hit and d.miss_tokens == 0


def test_appending_a_turn_reads_everything_a_cached() -> None:
    a = request()
    b = changed(lambda r: r["messages"].extend([
        {"role": "assistant", "content": "sure"},
        {"role": "user", "content": [{"type": "text", "text": "and then?",
                                      "cache_control": {"type": "ephemeral"}}]}]))
    d = diff_requests(a, b)
    assert d.change.kind == "extended" and d.hit
    assert d.read_tokens == d.cached_tokens_a == view_of(a).total_tokens
    assert d.miss_tokens == 0


def test_a_change_after_the_last_cache_entry_loses_nothing() -> None:
    a = request()
    a["messages"][2]["content"][0].pop("cache_control")
    b = changed(lambda r: r["messages"][2]["content"][0].update(text="another question"), a)
    d = diff_requests(a, b)
    assert d.invalidated == ("messages",)  # the table's answer for a message change...
    assert d.hit and d.miss_tokens == 0  # ...but A had nothing cached there
    assert "nothing is lost" in d.explain()


def test_json_key_order_is_a_different_prompt() -> None:
    a = request()
    b = changed(lambda r: r["tools"].__setitem__(0, dict(reversed(list(r["tools"][0].items())))))
    d = diff_requests(a, b)
    assert d.change.kind == "key-order"
    assert d.invalidated == ALL


def test_shuffled_tools_are_reported_as_reordered() -> None:
    a = request()
    b = changed(lambda r: r["tools"].reverse())
    d = diff_requests(a, b)
    assert d.change.kind == "reordered"
    assert "sort tools" in d.change.detail


def test_inserted_and_removed_blocks() -> None:
    a = request()
    extra = {"type": "text", "text": "Injected note " + text_of(30)}
    b = changed(lambda r: r["system"].insert(0, extra))
    assert diff_requests(a, b).change.kind == "inserted"
    assert diff_requests(b, a).change.kind == "removed"


def test_model_change_shares_nothing() -> None:
    d = diff_requests(request(), request(model="claude-opus-4-1"))
    assert d.change.kind == "model" and d.invalidated == ALL and d.shared_blocks == 0


# -- cost ------------------------------------------------------------------------------------


def test_miss_cost_prices_the_lost_tokens_as_writes_instead_of_reads() -> None:
    a = request()
    # same length, so B writes back exactly what A had cached
    b = changed(lambda r: r["tools"][0].update(
        description=r["tools"][0]["description"].replace("cache", "token", 1)))
    d = diff_requests(a, b)
    assert d.rewrite_tokens == d.miss_tokens
    lim = limits_for(MODEL)
    assert lim.input_price is not None
    assert d.miss_tokens == d.cached_tokens_a > lim.min_cacheable_tokens
    expected = d.miss_tokens * (lim.write_multiplier("5m") - lim.cache_read_multiplier) \
        * lim.input_price / 1e6
    assert d.miss_cost == pytest.approx(expected)


def test_a_1h_write_makes_the_miss_dearer_than_a_5m_one() -> None:
    def one_hour(r: dict[str, Any]) -> None:
        for block in (*r["tools"], *r["system"], *r["messages"][2]["content"]):
            if "cache_control" in block:
                block["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
        r["tools"][0]["description"] = "changed"

    five = diff_requests(request(), changed(lambda r: r["tools"][0].update(description="changed")))
    hour = diff_requests(request(), changed(one_hour))
    assert five.miss_cost is not None and hour.miss_cost is not None
    assert hour.miss_cost > five.miss_cost


def test_prefix_below_the_minimum_caches_nothing_so_nothing_is_missed() -> None:
    small = request(system=[{"type": "text", "text": "short", "cache_control": {"type": "ephemeral"}}],
                    tools=[tool("search")])
    small["messages"][2]["content"][0].pop("cache_control")
    d = diff_requests(small, changed(lambda r: r["system"][0].update(text="other"), small))
    assert d.cached_tokens_a == 0 and d.miss_tokens == 0
    assert d.invalidated == ("system", "messages")


# -- other inputs ------------------------------------------------------------------------------


def test_openai_chat_system_change_invalidates_from_the_system_level() -> None:
    a = {"model": "gpt-4o", "messages": [{"role": "system", "content": text_of(2_500)},
                                         {"role": "user", "content": "hello"}]}
    b = copy.deepcopy(a)
    b["messages"][0]["content"] += " v2"
    d = diff_requests(a, b)
    assert d.provider == "openai"
    assert d.invalidated == ("system", "messages")
    assert d.change.path_b == "messages[0].content"
    assert diff_requests(a, {**a, "messages": [*a["messages"], {"role": "user", "content": "more"}]}).hit


def test_openai_responses_and_gemini_requests_are_read() -> None:
    a = {"model": "gpt-4.1", "instructions": text_of(2_500), "input": "question one"}
    d = diff_requests(a, {**a, "input": "question two"})
    assert d.provider == "openai" and d.invalidated == ("messages",)
    assert d.read_tokens > 0 and d.read_tokens % 128 == 0  # OpenAI rounds to 128 tokens
    g = {"model": "gemini-2.5-flash", "system_instruction": {"parts": [{"text": text_of(3_000)}]},
         "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    g2 = copy.deepcopy(g)
    g2["system_instruction"]["parts"][0]["text"] = "changed"
    dg = diff_requests(g, g2)
    assert dg.provider == "gemini"
    assert dg.invalidated == ("system", "tools", "messages")  # Gemini caches system first


def test_prompts_built_by_promptcache_can_be_compared() -> None:
    a = chat_builder(history_turns=1).add_user_turn("one").build()
    b = chat_builder(history_turns=1).add_user_turn("two").build()
    d = diff_requests(a, b)
    assert d.change.kind == "changed" and d.invalidated == ("messages",)


def test_explain_names_the_block_the_row_and_the_cost() -> None:
    d = diff_requests(request(), changed(lambda r: r.update(tool_choice={"type": "any"})))
    text = d.explain()
    assert "messages[0].content[0]" in text
    assert "tool_choice" in text and "messages" in text
    assert d.to_dict()["invalidated"] == ["messages"]


def test_malformed_request_raises_naming_the_path() -> None:
    with pytest.raises(PromptError) as e:
        diff_requests(request(), {"model": MODEL, "messages": [{"role": "user", "content": 3}]})
    assert e.value.path == "messages[0].content"


def test_the_docs_show_what_the_example_prints(capsys: pytest.CaptureFixture[str]) -> None:
    import runpy
    from pathlib import Path

    root = Path(__file__).parent.parent.parent
    runpy.run_path(str(root / "examples" / "why_did_my_cache_miss.py"), run_name="__main__")
    printed = capsys.readouterr().out
    page = (root / "docs" / "diff-and-lint.md").read_text()
    shown = page.split("Cache diff (anthropic", 1)[1].split("```", 1)[0]
    for line in ("Cache diff (anthropic" + shown).strip().splitlines():
        assert line in printed


def test_settings_whose_keys_mix_types_are_compared_not_crashed_on() -> None:
    """Issue 21 item 4: ``sort_keys`` cannot order ``None`` and ``1`` (a bare TypeError); the
    SDKs send such a mapping as ``{"null": .., "1": ..}``, so it is compared in that form."""
    from promptcache.diagnostics import lint_request, lint_trace

    a, b = request(), request()
    a["thinking"] = {None: 1, 1: 2}
    b["thinking"] = {None: 1, 1: 3}
    d = diff_requests(a, b)
    assert d.change.kind == "setting" and d.change.rows == ("thinking settings",)
    same = request() | {"thinking": {1: 2, None: 1}}
    assert diff_requests(a, same).change.kind == "identical"
    lint_request(a | {"tool_choice": {None: "auto", 1: 2}})
    assert not [f for f in lint_trace([(0, a), (1, same)]) if "thinking" in f.message]
