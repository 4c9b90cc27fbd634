"""How fast the state learns: the gap a request closes, the provider's answer, conversations starting.

Each test drives the real Anthropic cache simulator, so what is asserted is what the provider's
cache would have done with the plans, not only what the planner believed.
"""

from __future__ import annotations

import pytest

from promptcache import CacheState, PromptBuilder, optimize
from promptcache.blocks import Document, Reuse
from promptcache.clock import ManualClock
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import record_sent, render_anthropic
from promptcache.simulator import AnthropicCacheSimulator
from promptcache.state_evidence import ReadCause

from ..helpers import text_of, tool

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


# -- evidence before inference: what a short read is attributed to -------------------------------


def _usage_total(usage: dict[str, int]) -> int:
    return (usage["input_tokens"] + usage["cache_read_input_tokens"]
            + usage["cache_creation_input_tokens"])


def test_a_provider_that_counts_differently_from_the_row_does_not_make_the_state_forget() -> None:
    """The model row says Opus 5.5 counts ~1.3x our estimate; this provider counts as we do. Its
    totals say so: a full read is a full read, not an expiry, and the documents stay on 5m."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)

    def question(n: int) -> Prompt:
        b = PromptBuilder("claude-opus-5-5").add_system(text_of(900, seed=1))
        b.add_documents([DOCUMENT]).add_user_turn(f"question {n}: " + text_of(30, seed=n))
        return b.set_params(max_tokens=64).build()

    causes, plans = [], []
    for n in range(6):
        now = n * 40.0
        clock.set(now)
        prompt = question(n)
        plan = optimize(prompt, state=state, now=now)
        usage = dict(sim.create(render_anthropic(prompt, plan), now=now).usage)
        record_sent(state, prompt, plan, now=now)
        causes.append(state.record_read(prompt, plan, usage["cache_read_input_tokens"], now,
                                        total=_usage_total(usage)))
        plans.append(plan)
    assert ReadCause.EXPIRED not in causes
    assert ReadCause.TOKENIZER in causes  # short in the row's units, full in the provider's
    assert state.calibration.ratio("claude-opus-5-5") == pytest.approx(1.0, abs=0.05)
    assert [_ttl(p, "documents") for p in plans] == ["5m"] * 6


def _chat_turns(tools_before: list[dict[str, object]], tools_after: list[dict[str, object]],
                change_at: int, turns: int) -> list[Prompt]:
    history: list[dict[str, str]] = []
    out = []
    for n in range(turns):
        b = PromptBuilder(MODEL).add_tools(tools_after if n >= change_at else tools_before)
        b.add_system(text_of(1_300, seed=2)).add_messages(history)
        question = f"[turn {n}] " + text_of(300, seed=70 + n)
        out.append(b.add_user_turn(question).set_params(max_tokens=64).build())
        history = [*history, {"role": "user", "content": question},
                   {"role": "assistant", "content": text_of(200, seed=80 + n)}]
    return out


def test_a_tool_list_that_grows_mid_conversation_is_an_invalidation_not_an_expiry() -> None:
    """An MCP server connects at turn 3: the prefix changed, so turn 3 writes anew. That teaches
    no gap: the conversation, 40 s a turn, stays on 5m, and the miss is put down to the change."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    tools = [tool(f"t{i}", 300) for i in range(4)]
    mcp = [tool(f"mcp_{i}", 300) for i in range(3)]
    causes, plans = [], []
    for n, prompt in enumerate(_chat_turns(tools, tools + mcp, change_at=3, turns=8)):
        now = n * 40.0
        clock.set(now)
        plan = optimize(prompt, state=state, now=now)
        usage = dict(sim.create(render_anthropic(prompt, plan), now=now).usage)
        record_sent(state, prompt, plan, now=now)
        causes.append(state.record_read(prompt, plan, usage["cache_read_input_tokens"], now,
                                        total=_usage_total(usage)))
        plans.append(plan)
    assert ReadCause.EXPIRED not in causes
    assert not any("Assumed the previous request cached" in w for w in plans[3].warnings)
    assert {_ttl(p, layer) for p in plans for layer in ("tools", "system", "conversation")} \
        == {"5m"}
    assert all(g < 300 for g in state.observed_reuse("conversation", Reuse()).gaps)


def test_a_write_still_in_flight_is_not_taken_for_an_expiry() -> None:
    """This provider starts answering 0.5 s after a request, later than the state assumed: a
    request 0.3 s after the write is told it wrote again. That is a write in flight, so the
    state learns the provider's latency, not a gap of more than 5 minutes."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock, response_latency=0.2)
    sim = AnthropicCacheSimulator(clock=clock, response_start_delay=0.5)
    causes, plans = [], []
    for n, now in enumerate((0.0, 0.3, 30.0, 60.0)):
        clock.set(now)
        prompt = _question(n)
        plan = optimize(prompt, state=state, now=now)
        usage = dict(sim.create(render_anthropic(prompt, plan), now=now).usage)
        state.record_request(prompt, plan.fingerprints,
                             [(plan.fingerprints[p.index], p.ttl, p.prefix_tokens)
                              for p in plan.placements], now)
        causes.append(state.record_read(prompt, plan, usage["cache_read_input_tokens"], now,
                                        total=_usage_total(usage)))
        plans.append(plan)
    assert causes[1] is ReadCause.IN_FLIGHT
    assert state.latency.low >= 0.3
    assert [_ttl(p, "documents") for p in plans] == ["5m"] * 4


def test_a_burst_on_a_cold_prefix_reads_the_first_write_once_the_provider_serves_it() -> None:
    """Twenty requests within 2 s on a cold prefix: the first writes, the ones sent before its
    response starts pay as they must, and from the first answer on the others read it (the
    state learns when the provider serves a write, instead of waiting out its own guess)."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock, response_latency=3.0)
    sim = AnthropicCacheSimulator(clock=clock, response_start_delay=0.5)
    reads = []
    for n in range(20):
        now = n * 0.1
        clock.set(now)
        prompt = _question(n)
        usage = _sent_by(state, sim, prompt, now)
        reads.append(usage["cache_read_input_tokens"] >= _document_prefix(prompt))
    assert sum(reads) >= 12  # with a 3 s guess and no learning: none before 3 s, so none at all


def test_conversations_that_start_together_on_shared_documents_keep_the_documents_cached() -> None:
    """A RAG service with one state for all: 8 conversations start at once, each on its own
    documents, and come back a minute later. Starting together is not volatility: every
    conversation's documents are written on its first turn, and read on its second."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    documents = [Document(id=f"doc-{k}", text=text_of(3_000, seed=90 + k)) for k in range(8)]

    def turn(k: int, history: list[dict[str, str]], question: str) -> Prompt:
        b = PromptBuilder(MODEL).add_system(text_of(900, seed=1)).add_documents([documents[k]])
        return b.add_messages(history).add_user_turn(question).set_params(max_tokens=64).build()

    first, second = [], []
    for k in range(8):
        now = k * 0.05
        clock.set(now)
        plan, _ = _send(state, sim, turn(k, [], f"[user {k}] first"), now)
        first.append(plan)
    for k in range(8):
        now = 60.0 + k * 0.05
        clock.set(now)
        history = [{"role": "user", "content": f"[user {k}] first"},
                   {"role": "assistant", "content": text_of(100, seed=k)}]
        _, usage = _send(state, sim, turn(k, history, "and then?"), now)
        second.append(usage["cache_read_input_tokens"])
    assert all(_ttl(p, "documents") is not None for p in first)
    assert not any("volatile" in w or "not cached" in w for p in first for w in p.warnings)
    assert all(read >= 3_000 for read in second)


# -- self-correction: the duel of fixed TTL policies ---------------------------------------------


def _phase_workload() -> list[tuple[float, int]]:
    """(time, document set) of 36 questions in three phases, each won by a different policy:
    A: a new document set every 3 questions, 30 s apart (5m is cheaper: 1h writes cost 2x);
    B: one set, a question every 20 minutes (only 1h entries survive the gaps);
    C: like A again."""
    out, t = [], 0.0
    for n in range(12):
        out.append((t, n // 3))
        t += 30.0
    for _ in range(12):
        t += 1_200.0
        out.append((t, 100))
    for n in range(12):
        t += 30.0
        out.append((t, 200 + n // 3))
    return out


def test_the_duel_follows_whichever_fixed_policy_is_cheaper_as_the_traffic_changes() -> None:
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    documents: dict[int, Document] = {}
    ttls = []
    for n, (now, k) in enumerate(_phase_workload()):
        doc = documents.setdefault(k, Document(id=f"set-{k}", text=text_of(4_000, seed=k)))
        b = PromptBuilder(MODEL).add_system(text_of(900, seed=1)).add_documents([doc])
        prompt = b.add_user_turn(f"question {n}: " + text_of(30, seed=n)).set_params(
            max_tokens=64).build()
        clock.set(now)
        plan, _ = _send(state, sim, prompt, now)
        ttls.append(_ttl(plan, "documents"))
        duel = state.observed_duel("documents")
        if n in (11, 23, 35):  # the end of each phase: the duel's verdict
            assert duel is not None
            assert duel.winner() == ("1h" if n == 23 else "5m")
    assert ttls[9:12] == ["5m"] * 3  # phase A: new sets reused within seconds
    assert ttls[20:24] == ["1h"] * 4  # phase B: 20-minute gaps
    # Phase C: back to 5m within a few requests, for the new sets the verdict governs (a set's
    # first return is priced by its own evidence, not the family's).
    assert ttls[33] == ttls[35] == "5m"


def _sent_by(state: CacheState, sim: AnthropicCacheSimulator, prompt: Prompt, now: float,
             ) -> dict[str, int]:
    """One request planned and recorded by ``state`` (a worker) on the shared ``sim``."""
    plan = optimize(prompt, state=state, now=now)
    usage = dict(sim.create(render_anthropic(prompt, plan), now=now).usage)
    state.record_request(prompt, plan.fingerprints,
                         [(plan.fingerprints[p.index], p.ttl, p.prefix_tokens)
                          for p in plan.placements], now)
    state.record_read(prompt, plan, usage["cache_read_input_tokens"], now,
                      total=_usage_total(usage))
    return usage


def _on(document: Document, n: int) -> Prompt:
    b = PromptBuilder(MODEL).add_system(text_of(900, seed=1)).add_documents([document])
    return b.add_user_turn(f"question {n}: " + text_of(30, seed=n)).set_params(max_tokens=64).build()


def test_a_worker_that_reads_another_workers_entry_learns_no_latency_from_it() -> None:
    """Two private workers on one provider that serves a write 0.5 s after it is sent. Worker B
    marks a prefix it never saw, taking the marker for a write; the provider reads worker A's
    entry. B's record of a write at that moment is not a write: a read of the same entry 0.2 s
    later shows nothing about how soon the provider serves one. Taken as one, B believed writes
    readable after ~0.1 s, and the request right after its next write of a cold prefix paid a
    second write of a prefix still in flight (g030-burst's private fleet: 1.100x one process,
    1.000x without)."""
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock, response_start_delay=0.5)
    a, b = CacheState(clock=clock), CacheState(clock=clock)
    _sent_by(a, sim, _on(DOCUMENT, 0), 0.0)
    clock.set(5.0)
    first = _sent_by(b, sim, _on(DOCUMENT, 1), 5.0)
    clock.set(5.2)
    again = _sent_by(b, sim, _on(DOCUMENT, 2), 5.2)
    assert first["cache_read_input_tokens"] > 0 and again["cache_read_input_tokens"] > 0
    assert b.latency.high >= 0.5
    # B's own write of a cold prefix, then a request 0.15 s later: still in flight, so it is
    # sent unmarked (1x) rather than marked again (a second write).
    other = Document(id="other", text=text_of(6_000, seed=4))
    clock.set(10.0)
    _sent_by(b, sim, _on(other, 3), 10.0)
    clock.set(10.15)
    follower = _sent_by(b, sim, _on(other, 4), 10.15)
    assert follower["cache_creation_input_tokens"] < 1_000


def test_one_shot_requests_sent_together_teach_that_their_conversations_end() -> None:
    """Two bursts of one-shot questions an hour apart, each question its own conversation, each a
    few tenths of a second after the last: every sighting of the conversation is a new one
    started with the others, so none entered its rate, which kept the session prior (8 uses) for
    good. The second burst then wrote its whole prefix (tools and system) under the tail marker of
    each question, read by nobody, instead of marking the static layers (g237-burst, 2.37x hand
    placement). Counted once they have had time to go on, the first burst's questions show that
    conversations here end at once: the second burst writes the static prefix and reads it."""
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    sim = AnthropicCacheSimulator(clock=clock)
    tools = [tool(f"t{i}", 1_500) for i in range(3)]
    reads = []
    for burst in range(2):
        for n in range(18):
            now = burst * 3_700.0 + n * 0.2
            clock.set(now)
            b = PromptBuilder(MODEL).add_tools(tools).add_system(text_of(6_000, seed=5))
            prompt = b.add_user_turn(f"[{burst}.{n}] " + text_of(40, seed=100 * burst + n)) \
                .set_params(max_tokens=64).build()
            _, usage = _send(state, sim, prompt, now)
            if burst == 1:
                reads.append(usage["cache_read_input_tokens"] >= 6_000)
    assert sum(reads) >= 12  # the previous code: 0 (every question wrote ~11k tokens for itself)
