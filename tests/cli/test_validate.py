"""validate(): any Anthropic request, hand-written or built, checked against every rule."""

from __future__ import annotations

import pytest

from promptcache import CacheWarning, RuleViolation, validate
from promptcache.errors import TooManyBreakpointsError

from ..helpers import text_of

EPH = {"type": "ephemeral"}
ONE_HOUR = {"type": "ephemeral", "ttl": "1h"}


def request(system: list[dict], **extra: object) -> dict:
    return {"model": "claude-sonnet-4-6", "max_tokens": 10, "system": system,
            "messages": [{"role": "user", "content": "hi"}], **extra}


def big(seed: int, marker: dict | None = None) -> dict:
    block = {"type": "text", "text": text_of(1_200, seed)}
    if marker:
        block["cache_control"] = marker
    return block


def test_clean_request_passes() -> None:
    report = validate(request([big(0, EPH)]))
    assert report.ok and report.breakpoints == 1


def test_five_breakpoints_raise() -> None:
    with pytest.raises(TooManyBreakpointsError) as info:
        validate(request([big(i, EPH) for i in range(5)]))
    assert info.value.rule == "max-breakpoints"
    assert info.value.path == "system[4]"


def test_automatic_cache_control_counts_as_a_breakpoint() -> None:
    with pytest.raises(TooManyBreakpointsError):
        validate(request([big(i, EPH) for i in range(4)], cache_control=EPH))


def test_one_hour_after_five_minutes_raises() -> None:
    with pytest.raises(RuleViolation) as info:
        validate(request([big(0, EPH), big(1, ONE_HOUR)]))
    assert info.value.rule == "ttl-order" and info.value.path == "system[1]"


def test_one_hour_before_five_minutes_passes() -> None:
    assert validate(request([big(0, ONE_HOUR), big(1, EPH)])).ok


def test_automatic_ttl_conflicting_with_last_block_raises() -> None:
    req = request([big(0)])
    req["messages"] = [{"role": "user", "content": [
        {"type": "text", "text": "q", "cache_control": ONE_HOUR}]}]
    req["cache_control"] = EPH
    with pytest.raises(RuleViolation) as info:
        validate(req)
    assert info.value.rule in ("automatic-ttl-conflict", "ttl-order")


def test_marker_below_minimum_warns_naming_the_block() -> None:
    short = request([{"type": "text", "text": "short", "cache_control": EPH}])
    with pytest.warns(CacheWarning, match=r"system\[0\]") as record:
        report = validate(short)
    assert report.findings[0].rule == "below-minimum"
    assert record[0].message.path == "system[0]"  # type: ignore[union-attr]


def test_margin_flags_markers_just_above_the_minimum() -> None:
    req = request([{"type": "text", "text": text_of(1_040), "cache_control": EPH}])
    assert validate(req, warn=False).ok
    assert not validate(req, margin=0.1, warn=False).ok


def test_thinking_marker_raises() -> None:
    req = request([big(0)])
    req["messages"] = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "x", "signature": "s",
                                           "cache_control": EPH}]},
        {"role": "user", "content": "r"},
    ]
    with pytest.raises(RuleViolation, match="thinking"):
        validate(req)


def test_bedrock_rejects_automatic_caching() -> None:
    with pytest.raises(RuleViolation, match="bedrock"):
        validate(request([big(0)], cache_control=EPH), platform="bedrock")
