"""A burst of one content (requests each sooner than the response latency after the one before)
is reuse once the run outlasts the latency: its later requests read the first one's write.

Counted as concurrency, a burst left its layers with no rate at all; after a pause past the
horizon the first sighting (new, as every content then is) made them look single-use, and a
restarted process (or the same one, a day later) wrote and read nothing after its first request
(g003 of the generated set: 2.3x the cheapest fixed policy on its second pass). Over the real
Anthropic cache simulator, and a real ``redis-server`` for the fleet's store.
"""

from __future__ import annotations

import pytest

from promptcache import CacheState, PromptBuilder, optimize
from promptcache.blocks import Reuse
from promptcache.clock import ManualClock
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import record_sent, render_anthropic
from promptcache.simulator import AnthropicCacheSimulator
from promptcache.state_redis import RedisStateStore

from ..helpers import text_of, tool

#: g003's shape: tools and a system prompt that clear the 4,096-token minimum only together.
MODEL = "claude-opus-4-5"
#: A burst: 20 requests 0.15 s apart (3 s in all, the response latency being 1 s).
BURST = [k * 0.15 for k in range(20)]
DAY = 86_400.0


def _prompt(n: int) -> Prompt:
    return (PromptBuilder(MODEL).add_tools([tool(f"tool_{i}", size=260) for i in range(7)])
            .add_system(text_of(2_850, seed=3)).add_user_turn(f"burst question {n}")
            .set_params(max_tokens=64).build())


def _burst(state: CacheState, sim: AnthropicCacheSimulator, clock: ManualClock,
           start: float) -> int:
    """Send the burst from ``start``; returns the tokens the provider read."""
    read = 0
    for n, dt in enumerate(BURST):
        now = start + dt
        clock.set(now)
        prompt = _prompt(n)
        plan = optimize(prompt, state=state, now=now)
        usage = sim.create(render_anthropic(prompt, plan), now=now).usage
        got = int(usage.get("cache_read_input_tokens") or 0)
        record_sent(state, prompt, plan, now=now, read_tokens=got)
        read += got
    return read


def test_a_burst_is_reuse_of_its_content() -> None:
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    _burst(state, sim, clock, 0.0)
    # A day later its content is new (past the horizon), once: the 13 requests of the burst from
    # 1 s on, which could read the first one's write, still say the layer is reused.
    clock.set(DAY)
    prompt = _prompt(0)
    state.observe(prompt, prompt.fingerprints, DAY)
    assert state.observed_reuse("system", Reuse(uses=20.0)).uses > 5.0


def test_the_same_burst_a_day_later_reads_its_first_write() -> None:
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    first = _burst(state, sim, clock, 0.0)
    second = _burst(state, sim, clock, DAY)
    assert first > 0
    assert second >= first


@pytest.mark.redis
def test_a_restarted_process_reads_its_bursts_first_write(redis_url: str) -> None:
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock)

    def process() -> CacheState:
        return CacheState(clock=clock, shared=RedisStateStore(redis_url, namespace="burst"))

    first = _burst(process(), sim, clock, 0.0)
    second = _burst(process(), sim, clock, DAY)  # a deploy restarted it: only the store remains
    assert first > 0
    assert second >= first
