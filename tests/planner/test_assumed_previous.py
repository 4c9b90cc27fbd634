"""A worker assumes the previous request of a conversation it did not see cached that
conversation, unless that request was below the model's minimum and so could cache nothing.

Each test drives the real Anthropic cache simulator, on a model with a 4,096-token minimum.
"""

from __future__ import annotations

from promptcache import CacheState, PromptBuilder, optimize
from promptcache.clock import ManualClock
from promptcache.limits import limits_for
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import record_sent, render_anthropic
from promptcache.simulator import AnthropicCacheSimulator

from ..helpers import text_of

MODEL = "claude-haiku-4-5"
ASSUMED = "Assumed the previous request cached"


def _turn(opening_tokens: int, answered: bool) -> Prompt:
    opening = "[user 1] " + text_of(opening_tokens, seed=7)
    b = PromptBuilder(MODEL).add_system(text_of(400, seed=2))
    if not answered:
        return b.add_user_turn(opening).set_params(max_tokens=64).build()
    history = [{"role": "user", "content": opening},
               {"role": "assistant", "content": text_of(200, seed=8)}]
    question = "and the details? " + text_of(3_000, seed=9)
    return b.add_messages(history).add_user_turn(question).set_params(max_tokens=64).build()


def _second_turn_on_a_fresh_worker(opening_tokens: int) -> tuple[Plan, dict[str, int], Prompt]:
    """Turn 1 goes to another worker; turn 2 reaches a worker with a state of its own."""
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock)
    other, worker = CacheState(clock=clock), CacheState(clock=clock)
    first = _turn(opening_tokens, answered=False)
    plan = optimize(first, state=other, now=0.0)
    sim.create(render_anthropic(first, plan), now=0.0)
    record_sent(other, first, plan, now=0.0, response_started=True)
    clock.set(30.0)
    second = _turn(opening_tokens, answered=True)
    plan = optimize(second, state=worker, now=30.0)
    usage = dict(sim.create(render_anthropic(second, plan), now=30.0).usage)
    return plan, usage, second


def test_a_previous_request_below_the_minimum_is_not_assumed_cached() -> None:
    plan, usage, second = _second_turn_on_a_fresh_worker(opening_tokens=1_500)
    lim = limits_for(MODEL)
    turn_one_end = second.turns[0].stop - 1
    # Turn 1 could not be cached, even counted at the top of the token-ratio band.
    assert lim.provider_tokens(second.prefix_tokens[turn_one_end])[2] < lim.min_cacheable_tokens
    assert not any(ASSUMED in w for w in plan.warnings)
    # So the worker writes the conversation, as one process that saw turn 1 would.
    assert any(p.path.startswith("messages[") for p in plan.placements), plan.placements
    assert usage["cache_creation_input_tokens"] > lim.min_cacheable_tokens
    assert usage["cache_read_input_tokens"] == 0


def test_a_previous_request_above_the_minimum_is_still_assumed_cached() -> None:
    plan, usage, _ = _second_turn_on_a_fresh_worker(opening_tokens=6_000)
    assert any(ASSUMED in w for w in plan.warnings)
    assert usage["cache_read_input_tokens"] > 0  # the other worker did write it
