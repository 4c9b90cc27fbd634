"""How fast the state learns: the gap a request closes, the provider's answer, conversations starting.

Each test drives the real Anthropic cache simulator, so what is asserted is what the provider's
cache would have done with the plans, not only what the planner believed.
"""

from __future__ import annotations

from promptcache import CacheState, PromptBuilder, optimize
from promptcache.blocks import Document
from promptcache.clock import ManualClock
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import record_sent, render_anthropic
from promptcache.simulator import AnthropicCacheSimulator

from .helpers import text_of, tool

MODEL = "claude-sonnet-4-5"
DOCUMENT = Document(id="contract", text=text_of(6_000, seed=3))


def _question(n: int) -> Prompt:
    b = PromptBuilder(MODEL).add_system(text_of(900, seed=1)).add_documents([DOCUMENT])
    return b.add_user_turn(f"question {n}: " + text_of(30, seed=n)).set_params(max_tokens=64).build()


def _send(state: CacheState, sim: AnthropicCacheSimulator, prompt: Prompt, now: float,
          *, learn: bool = True, started: bool = True) -> tuple[Plan, dict[str, int]]:
    plan = optimize(prompt, state=state, now=now)
    usage = dict(sim.create(render_anthropic(prompt, plan), now=now).usage)
    record_sent(state, prompt, plan, now=now, response_started=started)
    if learn:
        state.record_read(prompt, plan, usage["cache_read_input_tokens"], now)
    return plan, usage


def _ttl(plan: Plan, layer: str) -> str | None:
    return next((p.ttl for p in plan.placements if p.layer == layer), None)


def test_the_request_that_ends_a_long_pause_already_writes_for_an_hour() -> None:
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    plans = []
    for n, t in enumerate((0.0, 30.0, 60.0, 60.0 + 420)):  # quick, quick, then a 7-minute pause
        clock.set(t)
        plans.append(_send(state, sim, _question(n), t)[0])
    assert [_ttl(p, "documents") for p in plans[:3]] == ["5m", "5m", "5m"]
    # The pause is over by the time the fourth question is planned: it is seen now, not on the
    # fifth (whose 5-minute write would be cold again after the next pause).
    assert _ttl(plans[3], "documents") == "1h"


def test_a_worker_learns_a_conversations_pace_from_its_first_miss() -> None:
    """A fleet of private workers: this one never saw the users' earlier turns (another worker
    sent them), so it cannot see their gaps; the provider's answer tells it."""
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock)
    tools = [tool(f"t{i}", 300) for i in range(4)]

    def turn(user: int, history: list[dict[str, str]], question: str) -> Prompt:
        b = PromptBuilder(MODEL).add_tools(tools).add_system(text_of(1_300, seed=2))
        return b.add_messages(history).add_user_turn(question).set_params(max_tokens=64).build()

    def first_and_return(user: int, start: float, worker: CacheState, other: CacheState,
                         ) -> tuple[Plan, dict[str, int]]:
        opening = f"[user {user}] " + text_of(4_000, seed=10 + user)
        clock.set(start)
        _send(other, sim, turn(user, [], opening), start)  # the first visit, on another worker
        history = [{"role": "user", "content": opening},
                   {"role": "assistant", "content": text_of(200, seed=20 + user)}]
        clock.set(start + 900)  # back after 15 minutes, on this worker
        return _send(worker, sim, turn(user, history, "and then?"), start + 900)

    worker = CacheState(clock=clock)
    plan, usage = first_and_return(0, 0.0, worker, CacheState(clock=clock))
    assert any("Assumed the previous request cached" in w for w in plan.warnings)
    assert _ttl(plan, "conversation") == "5m"  # nothing tells it yet that users come back slowly
    assert usage["cache_read_input_tokens"] < plan.expected.cache_read_tokens  # the 5m entry died
    plan, _ = first_and_return(1, 2_000.0, worker, CacheState(clock=clock))
    assert _ttl(plan, "conversation") == "1h"  # learned from the miss

    # Without reading the provider's answer, the same worker would have written 5m again.
    blind = CacheState(clock=clock)
    clock.set(4_000.0)
    plan, _ = first_and_return(2, 4_000.0, blind, CacheState(clock=clock))
    assert _ttl(plan, "conversation") == "5m"


def test_a_marker_that_read_another_workers_entry_is_readable_at_once() -> None:
    """A private worker records its markers as writes in flight; the response shows they were
    reads, so its next request (a moment later, same prefix) reads them rather than paying the
    whole prefix unmarked for fear of a second write."""
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock)
    _send(CacheState(clock=clock), sim, _question(0), 0.0)
    worker = CacheState(clock=clock)
    clock.set(10.0)
    _, usage = _send(worker, sim, _question(1), 10.0, started=False)
    assert usage["cache_read_input_tokens"] > 0  # its markers read the other worker's entry
    clock.set(10.2)
    _, usage = _send(worker, sim, _question(2), 10.2, started=False)
    assert usage["cache_read_input_tokens"] >= _document_prefix(_question(2))

    # The same worker without the response's usage leaves the prefix unmarked: no read at all.
    blind = CacheState(clock=clock)
    clock.set(20.0)
    _send(blind, sim, _question(3), 20.0, learn=False, started=False)
    clock.set(20.2)
    _, usage = _send(blind, sim, _question(4), 20.2, learn=False, started=False)
    assert usage["cache_read_input_tokens"] == 0


def _document_prefix(prompt: Prompt) -> int:
    layer = next(la for la in prompt.layers if la.name == "documents")
    return prompt.prefix_tokens[layer.stop - 1]


def test_conversations_that_all_start_at_once_are_still_cached() -> None:
    """Sub-agents started together: at first every sighting is a new conversation, which says
    nothing yet about how long each will run; each one's opening brief is still written."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    tools = [tool(f"t{i}", 300) for i in range(4)]
    plans = []
    for agent in range(6):
        b = PromptBuilder(MODEL).add_tools(tools).add_system(text_of(1_300, seed=2))
        b.add_user_turn(f"[agent {agent}] " + text_of(3_000, seed=40 + agent))
        prompt = b.set_params(max_tokens=64).build()
        now = agent * 0.15
        clock.set(now)
        plan = optimize(prompt, state=state, now=now)
        record_sent(state, prompt, plan, now=now, response_started=False)
        plans.append(plan)
    assert all(_ttl(p, "conversation") is not None for p in plans)


def test_a_worker_that_missed_the_turns_in_between_does_not_take_them_for_one_long_gap() -> None:
    """Turns come every 90 s; this worker got turn 0 and turn 4 (others served 1-3). The 6
    minutes between its two sightings are four gaps, not one: the conversation stays on 5m."""
    clock = ManualClock(0.0)
    tools = [tool(f"t{i}", 300) for i in range(4)]
    history: list[dict[str, str]] = []
    prompts = []
    for n in range(5):
        b = PromptBuilder(MODEL).add_tools(tools).add_system(text_of(1_300, seed=2))
        b.add_messages(history).add_user_turn(f"[turn {n}] " + text_of(400, seed=50 + n))
        prompts.append(b.set_params(max_tokens=64).build())
        history = [*history, {"role": "user", "content": f"[turn {n}] " + text_of(400, seed=50 + n)},
                   {"role": "assistant", "content": text_of(300, seed=60 + n)}]

    def plan_on(state: CacheState, n: int) -> Plan:
        clock.set(n * 90.0)
        plan = optimize(prompts[n], state=state, now=n * 90.0)
        record_sent(state, prompts[n], plan, now=n * 90.0)
        return plan

    one = CacheState(clock=clock)  # a single process sees every turn: 90 s gaps, 5m
    assert [_ttl(plan_on(one, n), "conversation") for n in range(5)][-1] == "5m"
    worker = CacheState(clock=clock)
    plan_on(worker, 0)
    assert _ttl(plan_on(worker, 4), "conversation") == "5m"
