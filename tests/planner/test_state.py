"""CacheState: learning and unlearning reuse, TTLs per layer, bounded memory, a failing store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from promptcache import CacheState, CacheWarning, PromptBuilder, Volatility, optimize
from promptcache.clock import ManualClock
from promptcache.providers.anthropic.render import record_sent
from promptcache.state import BYTES_PER_CONTENT, BYTES_PER_ENTRY, Sighting, StoreError

from ..helpers import text_of, tool

ROOT = Path(__file__).resolve().parent.parent.parent


def _timestamped(n: int, model: str = "claude-sonnet-4-6") -> PromptBuilder:
    """A system prompt declared static that starts with the current time (changes every call)."""
    b = PromptBuilder(model).add_tools([tool("search", 1_200)])
    b.add_system(f"Current time: 2026-12-01T10:{n:02d}:00Z. " + text_of(2_500),
                 volatility=Volatility.STATIC)
    return b.add_user_turn(f"question {n}").set_params(max_tokens=64)


def test_a_static_layer_that_changes_on_every_request_is_detected_within_five() -> None:
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    plans = []
    for n in range(8):
        prompt = _timestamped(n).build()
        plan = optimize(prompt, state=state)
        plans.append(plan)
        record_sent(state, prompt, plan)
        clock.advance(30)
    detected = next(i for i, p in enumerate(plans) if any("'system'" in w for w in p.warnings))
    assert detected <= 4  # the fifth request at the latest
    for plan in plans[detected:]:
        assert not any(p.layer == "system" for p in plan.placements)
        assert any(r.layer == "system" and r.rule == "volatile" for r in plan.rejected)
        warning = next(w for w in plan.warnings if "'system'" in w)
        assert "declared static" in warning and "Move what changes" in warning
        # the tools before it still cache on their own
        assert [p.layer for p in plan.placements] == ["tools"]


def test_a_layer_that_stops_changing_is_cached_again() -> None:
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    for n in range(6):
        prompt = _timestamped(n).build()
        record_sent(state, prompt, optimize(prompt, state=state))
        clock.advance(30)
    steady = _timestamped(99).build()
    for _ in range(3):
        plan = optimize(steady, state=state)
        record_sent(state, steady, plan)
        clock.advance(30)
    assert any(p.layer == "system" for p in plan.placements)
    assert not plan.warnings


def test_one_hour_ttl_once_a_gap_beyond_five_minutes_is_seen_per_layer() -> None:
    """The shared tools come every minute (other tenants), this tenant's system every 15."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    tools = [tool(f"t{i}", 400) for i in range(4)]

    def tenant(name: str) -> PromptBuilder:
        b = PromptBuilder("claude-sonnet-4-6").add_tools(tools)
        b.add_system(f"You serve tenant {name}. " + text_of(3_000, seed=len(name)))
        return b.add_user_turn("q").set_params(max_tokens=5)

    ttls = []
    for minute in range(46):
        other = tenant(f"other-{minute}").build()  # a new tenant every minute: tools reused
        record_sent(state, other, optimize(other, state=state))
        if minute % 15 == 0:
            prompt = tenant("acme").build()
            plan = optimize(prompt, state=state)
            ttls.append(next(p.ttl for p in plan.placements if p.layer == "system"))
            record_sent(state, prompt, plan)
        clock.advance(60)
    # first visit: hint (5m); from the second on, whose own 15-minute gap is seen when it is
    # planned: 1 hour
    assert ttls == ["5m", "1h", "1h", "1h"]
    assert state.observed_reuse("tools", Volatility.STATIC.default_reuse).hit_probability(300) == 1


def test_a_failing_shared_store_warns_once_and_planning_goes_on() -> None:
    class Down:
        calls = 0

        def fetch(self, *args: object) -> None:
            Down.calls += 1
            raise StoreError("connection refused")

        def push(self, *args: object) -> None:
            Down.calls += 1
            raise StoreError("connection refused")

    clock = ManualClock(0.0)
    state = CacheState(clock=clock, shared=Down(), retry_after=3600)
    prompt = _timestamped(1).build()
    with pytest.warns(CacheWarning, match="shared cache state is unavailable") as caught:
        for _ in range(5):
            plan = optimize(prompt, state=state)
            record_sent(state, prompt, plan)
            clock.advance(10)
    assert len([w for w in caught if "unavailable" in str(w.message)]) == 1
    assert Down.calls == 1  # then left alone until retry_after
    assert plan.expected.cache_read_tokens > 0  # the local view still knows what it wrote


@pytest.mark.slow
def test_a_million_distinct_prefixes_stay_within_the_stated_memory_bound() -> None:
    """What the state holds after a million distinct prefixes (each written and sighted): its
    counts at their bounds, and the memory it retains under bound x the stated bytes per item."""
    entries = contents = 5_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        state = CacheState(clock=ManualClock(0.0), max_entries=entries, max_contents=contents)
        for batch in range(1_000):
            fps = [f"{batch:08x}{i:024x}" for i in range(1_000)]
            state.record_request(None, (), [(fp, "5m", 2_000) for fp in fps], float(batch),
                                 sightings=[Sighting(layer="documents", content=fp,
                                                     at=float(batch)) for fp in fps])
            del fps
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert state.sizes() == {"entries": entries, "contents": contents, "layers": 1}
    assert held <= entries * BYTES_PER_ENTRY + contents * BYTES_PER_CONTENT


def test_memory_stays_under_the_stated_bytes_per_item() -> None:
    """tracemalloc over 20x the bound: growth stays under bound x the stated bytes per item."""
    entries = contents = 2_000
    state = CacheState(clock=ManualClock(0.0), max_entries=entries, max_contents=contents)
    # The warm-up takes every path once (a write and a sighting), so lazily built module-level
    # caches are not counted as the state's growth.
    state.record_request(None, (), [("warm-up", "5m", 1)], 0.0,
                         sightings=[Sighting(layer="warm-up", content="warm-up", at=0.0)])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for batch in range(40):
            fps = [f"{batch:08x}{i:024x}" for i in range(1_000)]
            state.record_request(None, (), [(fp, "1h", 2_000) for fp in fps], float(batch),
                                 sightings=[Sighting(layer=f"layer-{batch % 3}", content=fp,
                                                     at=float(batch)) for fp in fps])
            # The test's own list of the last batch is not the state's memory.
            del fps
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown <= entries * BYTES_PER_ENTRY + contents * BYTES_PER_CONTENT


def test_two_fresh_processes_plan_identical_breakpoints() -> None:
    script = textwrap.dedent("""
        import json
        from promptcache import CacheState, optimize
        from promptcache.clock import ManualClock
        from promptcache.providers.anthropic.render import record_sent
        from promptcache.replay.workloads import agent_tool_loop, sparse_users
        out = []
        for trace in (agent_tool_loop(tasks=1, steps=4), sparse_users(users=2, turns=3)):
            clock = ManualClock(0.0)
            state = CacheState(clock=clock)
            for item in trace.requests:
                clock.set(item.t)
                plan = optimize(item.prompt, state=state)
                record_sent(state, item.prompt, plan)
                out.append([[p.path, p.ttl] for p in plan.placements])
            out.append([[p.path, p.ttl] for p in optimize(item.prompt).placements])
        print(json.dumps(out))
    """)
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=120, check=True)
        runs.append(done.stdout)
    assert runs[0] == runs[1]
    assert '"1h"' in runs[0] and '"5m"' in runs[0]
