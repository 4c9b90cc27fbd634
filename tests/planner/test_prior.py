"""The first write of a layer with no gap of its own: a prior from layers like it, and the
provider's token totals calibrating every caller's state.

Driven through the real Anthropic cache simulator, so the TTLs asserted are the ones the
simulator was sent.
"""

from __future__ import annotations

from promptcache import CacheState, PromptBuilder, optimize
from promptcache.clock import ManualClock
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import record_sent, render_anthropic
from promptcache.simulator import AnthropicCacheSimulator
from promptcache.state_evidence import ReadCause

from .._prior_apps import MODEL, catalogue, handbook, ttl_of
from ..helpers import text_of, tool, tool_turns


def _send(state: CacheState, sim: AnthropicCacheSimulator, prompt: Prompt, now: float) -> Plan:
    plan = optimize(prompt, state=state, now=now)
    usage = sim.create(render_anthropic(prompt, plan), now=now).usage
    total = sum(int(usage.get(k) or 0) for k in
                ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"))
    record_sent(state, prompt, plan, now=now,
                read_tokens=int(usage.get("cache_read_input_tokens") or 0), total_tokens=total)
    return plan


def test_a_large_static_layer_on_sparse_traffic_is_written_for_an_hour_at_first_sight() -> None:
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    for n in range(4):  # app A's catalogue comes back every 20 minutes
        clock.set(n * 1_200.0)
        _send(state, sim, catalogue(n), n * 1_200.0)
    now = 4 * 1_200.0 + 60.0
    clock.set(now)
    first = _send(state, sim, handbook(0), now)
    # No gap of its own yet: layers like it (static, about as large) come back after 20 minutes.
    assert ttl_of(first, "system") == "1h"
    clock.set(now + 1_500.0)
    second = _send(state, sim, handbook(1), now + 1_500.0)
    assert second.expected.cache_read_tokens > 25_000


def test_without_evidence_the_first_write_follows_the_hint() -> None:
    """Dense traffic is the hint's assumption for a static layer: a fresh state writes 5m."""
    state = CacheState(clock=ManualClock(0.0))
    assert ttl_of(optimize(handbook(0), state=state, now=0.0), "system") == "5m"


def test_dense_traffic_elsewhere_keeps_the_first_write_short() -> None:
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    for n in range(6):  # app A every 30 seconds
        clock.set(n * 30.0)
        _send(state, sim, catalogue(n), n * 30.0)
    clock.set(200.0)
    assert ttl_of(_send(state, sim, handbook(0), 200.0), "system") == "5m"


def test_the_prior_comes_from_layers_of_a_similar_size_only() -> None:
    """A small layer's 20-minute gaps say little about a 30k-token one of another size class."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    for n in range(4):
        clock.set(n * 1_200.0)
        small = (PromptBuilder(MODEL).add_tools([tool("lookup", size=1_200)])
                 .add_user_turn(f"q {n}").set_params(max_tokens=64).build())
        _send(state, sim, small, n * 1_200.0)
    clock.set(5_000.0)
    assert ttl_of(_send(state, sim, handbook(0), 5_000.0), "system") == "5m"


def test_record_sent_with_the_usage_total_calibrates_the_token_ratio() -> None:
    state = CacheState(clock=ManualClock(0.0))
    prompt = handbook(0)
    plan = optimize(prompt, state=state, now=0.0)
    assert state.calibration.ratio(MODEL) is None
    reported = int(prompt.total_tokens * 1.2)
    record_sent(state, prompt, plan, now=0.0, read_tokens=0, total_tokens=reported)
    ratio = state.calibration.ratio(MODEL)
    assert ratio is not None and abs(ratio - reported / prompt.total_tokens) < 1e-9


def test_an_assumed_entry_younger_than_any_ttl_is_not_taken_for_an_expiry() -> None:
    """A history with a turn nobody sent (the app appended it): the previous request the
    conversation's shape implies never ran, so its entry is missing, but this state saw the
    conversation 4 seconds ago: whatever was written since cannot have expired."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    base = PromptBuilder(MODEL).add_tools([tool("search", size=1_500)])
    first = base.add_user_turn("start " + text_of(200, seed=1)).set_params(max_tokens=64)
    _send(state, sim, first.build(), 0.0)
    history = [{"role": "user", "content": "start " + text_of(200, seed=1)}, *tool_turns(3),
               {"role": "assistant", "content": "Done with those."}]
    later = (base.add_messages(history).add_user_turn("Continue.").set_params(max_tokens=64)
             .build())
    clock.set(4.0)
    plan = optimize(later, state=state, now=4.0)
    read = int(sim.create(render_anthropic(later, plan), now=4.0).usage["cache_read_input_tokens"])
    record_sent(state, later, plan, now=4.0)
    assert plan.expected.cache_read_tokens > read  # it counted on the unsent request's entry
    assert state.record_read(later, plan, read, 4.0) is ReadCause.NOT_WRITTEN
    # No gap was learned: the conversation is still written for 5 minutes.
    clock.set(8.0)
    nxt = later.extend([{"role": "assistant", "content": "ok"},
                        {"role": "user", "content": "more"}])
    assert ttl_of(optimize(nxt, state=state, now=8.0), "conversation") == "5m"


def _document_question(n: int) -> Prompt:
    return (PromptBuilder(MODEL).add_system(text_of(6_000, seed=11))
            .add_user_turn(f"document question {n}").set_params(max_tokens=64).build())


def test_one_stream_of_gaps_alike_weighs_its_last_gap_less() -> None:
    """Gaps of 35-95 minutes drawn alike (about 4 in 10 within the hour). Their correlation is
    about 0, so a last gap of 35 minutes counts for less than a verdict; shrunk toward 1 by how
    few pairs back it (OWN_SHRINK: ~10 weighted pairs at most), it still counts for about a
    third, which puts this stream just past the 1h break-even (53%)."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    t = 0.0
    plans = []
    for n, minutes in enumerate((80, 40, 90, 45, 85, 50, 95, 70, 35, 75, 40)):
        clock.set(t)
        plans.append(_send(state, sim, _document_question(n), t))
        t += minutes * 60.0
    # The last request's own previous gap was 35 minutes: a full verdict would give
    # (0.4 + 1) / 2 = 0.7 within the hour; weighed by the shrunk correlation, well below that.
    assert 0.5 < plans[-1].layers[0].p_within_1h < 0.62, plans[-1].layers[0].p_within_1h


def _tenant(k: int, n: int, *, seed: int) -> Prompt:
    """Tenant ``k``'s ``n``-th question over its own 6k-token system prompt."""
    return (PromptBuilder(MODEL).add_system(f"[tenant {k}] " + text_of(6_000, seed=seed))
            .add_user_turn(f"tenant {k} question {n}").set_params(max_tokens=64).build())


def test_contents_that_keep_their_own_pace_follow_their_own_gap() -> None:
    """Two tenants, one every 10 minutes, one every 90: each one's own gap foretells its next."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)

    def tenant(k: int, n: int) -> Prompt:
        return _tenant(k, n, seed=20 + k)

    events = sorted([(n * 600.0, 0, n) for n in range(18)] + [(n * 5_400.0 + 30.0, 1, n)
                                                             for n in range(2)])
    for at, k, n in events:
        clock.set(at)
        _send(state, sim, tenant(k, n), at)
    clock.set(18 * 600.0)
    assert ttl_of(optimize(tenant(0, 99), state=state, now=18 * 600.0), "system") == "1h"


def test_a_tenant_that_comes_back_after_more_than_an_hour_is_not_written_for_an_hour() -> None:
    """Other tenants come back within 20 minutes; this one comes back for the first time after
    100: the gap it just closed is its own evidence, and a 1h write that its next visit (at
    its pace, too late again) cannot read costs twice the input for nothing."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)

    def tenant(k: int, n: int) -> Prompt:
        return _tenant(k, n, seed=30 + k)

    events = sorted([(k * 60.0 + n * 1_200.0, k, n) for k in range(3) for n in range(3)]
                    + [(200.0, 3, 0)])
    for at, k, n in events:
        clock.set(at)
        _send(state, sim, tenant(k, n), at)
    now = 200.0 + 6_000.0
    clock.set(now)
    slow = optimize(tenant(3, 1), state=state, now=now)
    assert ttl_of(slow, "system") != "1h"
    assert slow.layers[0].p_within_1h < 0.5, slow.layers[0].p_within_1h
    # A tenant at the common pace still is.
    assert ttl_of(optimize(tenant(0, 3), state=state, now=3 * 1_200.0), "system") == "1h"


def test_a_conversation_weighs_the_gap_its_request_just_closed() -> None:
    """A user who answered every 30 minutes, then after 70: the pause just ended is the
    freshest evidence of the user's pace, not the 30 minutes before it."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    history: list[dict[str, str]] = []
    t, plans = 0.0, []
    for n, minutes in enumerate((30, 30, 30, 70, 0)):
        question = (text_of(3_000, seed=42) + " " if n == 0 else "") + f"turn {n}"
        prompt = (PromptBuilder(MODEL).add_system(text_of(3_000, seed=41)).add_messages(history)
                  .add_user_turn(question).set_params(max_tokens=64).build())
        clock.set(t)
        plans.append(_send(state, sim, prompt, t))
        history = [*history, {"role": "user", "content": question},
                   {"role": "assistant", "content": text_of(200, seed=50 + n)}]
        t += minutes * 60.0
    after_30, after_70 = (next(s for s in p.layers if s.name == "conversation")
                          for p in plans[-2:])
    assert after_30.p_within_1h > 0.8, after_30.p_within_1h
    assert after_70.p_within_1h < 0.6, after_70.p_within_1h
    assert ttl_of(plans[-1], "conversation") != "1h"


def test_one_question_conversations_that_never_went_on_are_not_written() -> None:
    """A service whose users each ask one question, 40 minutes apart. The conversation prior is
    firm while conversations may still go on; one that did not come back within the longest TTL
    can read nothing written for it, and writing each new question for a next turn that never
    comes costs 1.25x for nothing."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    plans = []
    for n in range(12):
        prompt = (PromptBuilder(MODEL).add_system(text_of(3_000, seed=61))
                  .add_user_turn(f"user {n}: " + text_of(1_500, seed=70 + n))
                  .set_params(max_tokens=64).build())
        clock.set(n * 2_400.0)
        plans.append(_send(state, sim, prompt, n * 2_400.0))
    assert ttl_of(plans[0], "conversation") is not None  # nothing seen yet: the prior's bet
    assert [ttl_of(p, "conversation") for p in plans[-3:]] == [None, None, None]
    assert all(ttl_of(p, "system") == "1h" for p in plans[-3:])  # the shared prompt still is
