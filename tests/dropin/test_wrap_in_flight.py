"""wrap() records a planned call's writes as in flight when it sends it.

Calls planned while another call's response has not started yet (a fan-out burst on threads)
must not pay to write the same prefix again: the provider makes a write readable only once its
response starts, so the second write buys nothing. The wrapper tells its state at send time;
the writes become readable when the response starts. ``plan_call`` sends nothing and records
nothing.
"""

from __future__ import annotations

from typing import Any

import anthropic

from promptcache import CacheState
from promptcache.clock import ManualClock
from promptcache.dropin import handle_of, wrap
from promptcache.dropin._core import wrapped_method
from promptcache.providers.registry import spec_named
from promptcache.testing import AnthropicServer

REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-5", "max_tokens": 64,
    "system": "You answer from the manual. " + " ".join(f"rule{i}" for i in range(2_000)),
    "messages": [{"role": "user", "content": "What does rule 7 say?"}]}


def _create() -> Any:
    spec = spec_named("anthropic")
    method = next(m for m in spec.methods if m.path == "messages.create")
    return wrapped_method(spec, method)


def _rules(prepared: Any) -> set[str]:
    return {r.rule for r in prepared.plan.rejected}


def test_a_call_planned_while_another_is_in_flight_does_not_write_the_same_prefix() -> None:
    clock = ManualClock()
    with AnthropicServer(clock=clock) as server:
        handle = handle_of(wrap(anthropic.Anthropic(base_url=server.url, api_key="t"),
                                state=CacheState(clock=clock)))
        first = handle.prepare(_create(), dict(REQUEST))  # sent: its response has not started
        assert first.plan is not None and first.plan.placements
        clock.advance(0.1)
        second = handle.plan_call("messages.create", REQUEST)
        assert "pending-write" in _rules(second)
        assert not [p for p in second.plan.placements if p.source == "optimizer"]
        handle.started(first)  # the first response starts: its writes are readable
        third = handle.plan_call("messages.create", REQUEST)
        assert "pending-write" not in _rules(third)
        assert third.plan.placements


def test_plan_call_records_nothing() -> None:
    clock = ManualClock()
    with AnthropicServer(clock=clock) as server:
        handle = handle_of(wrap(anthropic.Anthropic(base_url=server.url, api_key="t"),
                                state=CacheState(clock=clock)))
        handle.plan_call("messages.create", REQUEST)
        again = handle.plan_call("messages.create", REQUEST)
    assert "pending-write" not in _rules(again)
    assert again.plan is not None and again.plan.placements
