"""lint_request and lint_trace: each rule fires on its mistake and stays quiet on a clean request."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from promptcache.diagnostics import RULES, LintFinding, TraceError, lint_request, lint_trace, load_trace
from promptcache.replay.workloads import sparse_users
from tests.helpers import text_of, tool

MODEL = "claude-sonnet-4-5"
EPHEMERAL = {"type": "ephemeral"}


def clean(**overrides: Any) -> dict[str, Any]:
    """A request with nothing to report: stable tools and system, one marker, a new question."""
    base: dict[str, Any] = {
        "model": MODEL, "max_tokens": 256,
        "tools": [tool("fetch"), tool("search")],
        "system": [{"type": "text", "text": text_of(2_000), "cache_control": dict(EPHEMERAL)}],
        "messages": [{"role": "user", "content": "What changed in the last release?"}],
    }
    base.update(overrides)
    return base


def rules(findings: list[LintFinding]) -> set[str]:
    return {f.rule for f in findings}


def only(findings: list[LintFinding], rule: str) -> LintFinding:
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, findings
    return matching[0]


def test_a_clean_request_has_no_findings() -> None:
    assert lint_request(clean()) == []


def test_a_clean_trace_has_no_findings() -> None:
    trace = [(i * 60.0, clean(messages=[{"role": "user", "content": f"question {i}"}]))
             for i in range(5)]
    assert lint_trace(trace) == []


# -- volatile content ------------------------------------------------------------------------


@pytest.mark.parametrize("volatile", [
    "Current time: 2026-11-23T10:15:00Z",
    "Session 3f2b6c1e-8a4d-4c2b-9e1f-0a7b5c3d2e1f started.",
    "Trace req_01HZX3K9Q2W7 for support.",
    "Today is November 23, 2026.",
    "Generated 2026-11-23.",
    "Nonce 9f86d081884c7d65 for this call.",
    "Epoch 1763892900 at build.",
])
def test_volatile_content_before_the_breakpoint_is_reported(volatile: str) -> None:
    req = clean()
    req["system"].insert(0, {"type": "text", "text": volatile})
    f = only(lint_request(req), "volatile-content")
    assert f.path == "system[0]"
    assert "system[0]" in f.message and "after the last breakpoint" in f.fix


def test_volatile_content_after_the_last_breakpoint_is_fine() -> None:
    req = clean(messages=[{"role": "user", "content": "Current time: 2026-11-23T10:15:00Z. Hi!"}])
    assert lint_request(req) == []


def test_a_date_in_the_conversation_is_a_fact_not_volatile() -> None:
    req = clean(messages=[
        {"role": "user", "content": "What happened on 2024-05-01?"},
        {"role": "assistant", "content": "A release."},
        {"role": "user", "content": [{"type": "text", "text": "More?", "cache_control": EPHEMERAL}]},
    ])
    assert "volatile-content" not in rules(lint_request(req))


def test_volatile_content_before_the_last_openai_turn_is_reported() -> None:
    req = {"model": "gpt-4o", "messages": [
        {"role": "system", "content": f"Request id: {'ab12' * 4}. " + text_of(2_100)},
        {"role": "user", "content": "Today is 2026-11-23, hello"}]}
    f = only(lint_request(req), "volatile-content")
    assert f.path == "messages[0].content"


# -- marker rules ----------------------------------------------------------------------------


def test_more_than_four_breakpoints() -> None:
    req = clean(system=[{"type": "text", "text": text_of(600, seed=i), "cache_control": EPHEMERAL}
                        for i in range(5)])
    f = only(lint_request(req), "too-many-breakpoints")
    assert f.severity == "error" and f.path == "system[4]"


def test_request_level_cache_control_takes_a_slot() -> None:
    req = clean(system=[{"type": "text", "text": text_of(600, seed=i), "cache_control": EPHEMERAL}
                        for i in range(4)], cache_control=EPHEMERAL)
    assert "too-many-breakpoints" in rules(lint_request(req))


def test_a_1h_mark_after_a_5m_one() -> None:
    req = clean()
    req["messages"] = [{"role": "user", "content": [
        {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}]
    f = only(lint_request(req), "ttl-order")
    assert f.path == "messages[0].content[0]" and "system[0]" in f.message


def test_marks_on_thinking_and_empty_blocks() -> None:
    req = clean(messages=[
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hm", "signature": "c2ln", "cache_control": EPHEMERAL},
            {"type": "text", "text": " ", "cache_control": EPHEMERAL}]},
        {"role": "user", "content": "next"}])
    found = [f for f in lint_request(req) if f.rule == "unmarkable-block"]
    assert {f.path for f in found} == {"messages[1].content[0]", "messages[1].content[1]"}


def test_breakpoint_below_the_models_minimum() -> None:
    req = clean(tools=[{**tool("search"), "cache_control": EPHEMERAL}])
    f = only(lint_request(req), "below-minimum")
    assert f.path == "tools[0]" and "1,024" in f.message


# -- trace rules -----------------------------------------------------------------------------


def test_shuffled_tools_across_a_trace() -> None:
    a = clean()
    b = clean(tools=list(reversed(a["tools"])))
    f = only(lint_trace([(0, a), (10, b)]), "tool-order")
    assert f.request == 1 and "Sort" in f.fix


def test_shuffled_json_keys_across_a_trace() -> None:
    a = clean()
    b = copy.deepcopy(a)
    b["tools"][0] = dict(reversed(list(b["tools"][0].items())))
    f = only(lint_trace([(0, a), (10, b)]), "key-order")
    assert f.path == "tools[0]" and f.request == 1


def test_tool_definitions_that_change_across_a_trace() -> None:
    a = clean()
    b = copy.deepcopy(a)
    b["tools"][1]["description"] = "Search, now with filters."
    f = only(lint_trace([(0, a), (10, b)]), "tools-changed")
    assert "'search'" in f.path


def test_cached_content_that_changes_on_every_call() -> None:
    trace = []
    for i in range(4):
        req = clean()
        req["system"].insert(0, {"type": "text", "text": f"User profile #{i}: " + text_of(50, i)})
        trace.append((i * 30.0, req))
    f = only(lint_trace(trace), "changes-every-call")
    assert f.path == "system[0]"


def test_writes_that_expire_unread_are_wasted() -> None:
    trace = [(i * 600.0, clean()) for i in range(3)]  # every 10 min, 5m TTL
    f = only(lint_trace(trace), "wasted-write")
    assert f.path == "system[0]"
    assert "600s" in f.fix and "1h" in f.fix  # it came back, just too late


def test_a_prefix_that_never_recurs_is_a_wasted_write() -> None:
    trace = [(i * 600.0, clean(system=[{"type": "text", "text": text_of(2_000, seed=i),
                                        "cache_control": EPHEMERAL}])) for i in range(3)]
    f = only(lint_trace(trace), "wasted-write")
    assert "never came back" in f.fix


def test_writes_read_within_their_ttl_are_not_wasted() -> None:
    assert "wasted-write" not in rules(lint_trace([(i * 200.0, clean()) for i in range(4)]))
    hour = clean()
    hour["system"][0]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    assert "wasted-write" not in rules(lint_trace([(i * 600.0, hour) for i in range(4)]))


def test_per_request_findings_are_reported_once_per_trace() -> None:
    req = clean(tools=[{**tool("search"), "cache_control": EPHEMERAL}])
    f = only(lint_trace([(i, req) for i in range(3)]), "below-minimum")
    assert "in 3 of 3 requests" in f.message


def test_every_rule_has_a_description() -> None:
    assert set(RULES) >= {"volatile-content", "too-many-breakpoints", "ttl-order",
                          "unmarkable-block", "below-minimum", "tool-order", "key-order",
                          "tools-changed", "changes-every-call", "wasted-write"}


# -- trace input -----------------------------------------------------------------------------


def test_workload_traces_are_accepted() -> None:
    trace = sparse_users(users=2, turns=2)
    findings = lint_trace(trace)
    assert all(f.rule in RULES for f in findings)


def test_load_trace_reads_jsonl_and_keeps_markers(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    lines = [json.dumps({"t": i * 600.0, "request": clean(), "session": "u1"}) for i in range(3)]
    path.write_text("\n".join(lines) + "\n\n")
    entries = load_trace(path)
    assert [e.t for e in entries] == [0.0, 600.0, 1200.0]
    assert "wasted-write" in rules(lint_trace(entries))


def test_load_trace_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"t": 0, "request": clean()}) + "\n{not json\n")
    with pytest.raises(TraceError) as e:
        load_trace(path)
    assert e.value.path == f"{path}:2"


def test_a_malformed_request_in_a_trace_names_its_index_and_path() -> None:
    with pytest.raises(TraceError) as e:
        lint_trace([(0, clean()), (1, {"model": MODEL, "messages": "hi"})])
    assert e.value.path == "trace[1].messages"


def test_a_large_request_with_no_breakpoint_is_reported() -> None:
    request = clean()
    request["system"] = [{"type": "text", "text": text_of(2_000)}]  # marker removed
    finding = only(lint_request(request), "no-breakpoint")
    assert finding.severity == "warning"
    assert "cache_control" in finding.message


def test_a_request_below_the_minimum_needs_no_breakpoint() -> None:
    request = clean(system=[{"type": "text", "text": "Be brief."}])
    assert "no-breakpoint" not in rules(lint_request(request))


def test_the_request_level_marker_counts_as_a_breakpoint() -> None:
    request = clean(system=[{"type": "text", "text": text_of(2_000)}], cache_control=EPHEMERAL)
    assert "no-breakpoint" not in rules(lint_request(request))


def test_openai_caches_without_markers_so_no_breakpoint_is_fine() -> None:
    request = {"model": "gpt-4o", "messages": [{"role": "system", "content": text_of(2_000)},
                                               {"role": "user", "content": "hi"}]}
    assert "no-breakpoint" not in rules(lint_request(request))
