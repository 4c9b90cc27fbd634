"""Per-request planner overhead at the sizes the goals name, as a ratio to one ``json.dumps``.

    python benchmarks/bench_planner.py [--repeat 15] [--blocks 200 2000] [--profile agent:200]
    python benchmarks/bench_planner.py --candidates 2 9 13 17 [--repeat 200]

The goals (issue 20): planning a never-seen turn costs <= 1.0x ``json.dumps`` of the request at
200 chat blocks, <= 1.5x for a 12-tool-call agent step at 200 blocks, <= 0.5x at 2,000. So each
timed request has exactly ``--blocks`` blocks (one tool and one system block first): ``chat``
appends one user and one assistant text block to a conversation of chat turns; ``agent`` appends
a step of 26 blocks (a user text, an assistant turn of 12 ``tool_use`` blocks, a user turn of
their 12 ``tool_result`` blocks, an assistant text) to a history of such steps, padded with chat
turns to the size. For every timed request a new conversation is built (its text never seen
before in this process, so no count or digest is memoised) and sent twice through the planning
path first, so the ``CacheState`` has seen it as a service would; then we time:

(a) ``Prompt.extend(new turn)`` + ``optimize`` with the ``CacheState`` + ``render_anthropic`` +
    ``record_sent``: the path the docs recommend for a service;
(b) ``ChatSession.send`` of a new user message against a stub client that returns a canned reply
    at once, so only promptcache's own work is timed.

Each is divided by one ``json.dumps`` of the same rendered request (the least any client does
with a request), timed right after it (median of 5, so warm: the goals' yardstick); the last two
columns divide by one ``json.dumps`` timed right after a ``gc.collect()`` instead, the condition
(a) and (b) are timed in, which leaves the CPU caches cold. Times are this thread's CPU time
(``time.thread_time``: a shared machine's other load is left out); medians over ``--repeat``
requests. The per-block slope is fitted by least squares over the sizes. ``--profile
kind:blocks`` prints a cProfile of (a) instead.

``--candidates`` times ``optimize`` alone on prompts with that many breakpoint candidates (one
~1,200-token layer per candidate: tools, instructions, examples and documents at each volatility,
then the conversation), without a state and with a ``CacheState`` that saw the previous request,
4 slots. Reported: median and minimum over ``--repeat`` calls (wall time), and the time of a
1M-step Python loop on the same machine.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import itertools
import json
import pstats
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import anthropic
from anthropic.types import Message

from promptcache import (
    CacheState,
    ChatSession,
    Prompt,
    PromptBuilder,
    Volatility,
    optimize,
    record_sent,
    render_anthropic,
)
from promptcache.clock import ManualClock

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon"]
_fresh = itertools.count()


def prose(n: int) -> str:
    """``n`` words never produced before in this process (so no count or digest is memoised)."""
    seed = next(_fresh)
    return f"r{seed} " + " ".join(WORDS[(i * 7 + seed) % len(WORDS)] for i in range(n))


def chat_turn() -> list[dict[str, Any]]:
    return [{"role": "user", "content": prose(60)},
            {"role": "assistant", "content": prose(120)}]


def agent_turn(calls: int = 12) -> list[dict[str, Any]]:
    ids = [f"toolu_{next(_fresh)}" for _ in range(calls)]
    return [
        {"role": "user", "content": prose(40)},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": i, "name": "search", "input": {"q": prose(6)}} for i in ids]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": i, "content": prose(80)} for i in ids]},
        {"role": "assistant", "content": prose(60)},
    ]


KINDS: dict[str, Callable[[], list[dict[str, Any]]]] = {"chat": chat_turn, "agent": agent_turn}
TOOLS = [{"name": "search", "description": "Search the knowledge base. " * 60,
          "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]
SYSTEM = "You are a careful assistant. " * 400
MODEL = "claude-sonnet-4-6"


#: Blocks before the conversation (one tool, one system block) and in each kind of turn.
HEAD_BLOCKS = 2
TURN_BLOCKS = {"chat": 2, "agent": 26}


def history(kind: str, blocks: int) -> list[dict[str, Any]]:
    """Messages that, with the head and one more turn of ``kind``, make ``blocks`` blocks:
    turns of ``kind``, after as many chat turns as it takes to fill the rest."""
    room = blocks - HEAD_BLOCKS - TURN_BLOCKS[kind]
    if room < TURN_BLOCKS[kind] or room % 2:
        raise SystemExit(f"--blocks {blocks}: needs an even number >= "
                         f"{HEAD_BLOCKS + 2 * TURN_BLOCKS[kind]} for {kind}")
    steps, rest = divmod(room, TURN_BLOCKS[kind])
    return ([m for _ in range(rest // 2) for m in chat_turn()]
            + [m for _ in range(steps) for m in KINDS[kind]()])


def blocks_of(request: dict[str, Any]) -> int:
    return len(request.get("tools", ())) + len(request.get("system", ())) + sum(
        1 if isinstance(m["content"], str) else len(m["content"]) for m in request["messages"])


def cpu_time(call: Callable[[], Any]) -> tuple[float, Any]:
    """(this thread's CPU seconds, result) of ``call``."""
    start = time.thread_time()
    out = call()
    return time.thread_time() - start, out


def dumps_time(request: dict[str, Any], repeat: int = 5) -> float:
    return statistics.median(cpu_time(lambda: json.dumps(request))[0] for _ in range(repeat))


def cold_dumps_time(request: dict[str, Any]) -> float:
    """One ``json.dumps`` right after ``gc.collect()``, the condition the planning is timed in
    (the collection walks the heap and leaves the CPU caches cold for what runs next)."""
    gc.collect()
    return cpu_time(lambda: json.dumps(request))[0]


def conversation(kind: str, blocks: int) -> tuple[Prompt, CacheState]:
    """A new conversation one turn short of ``blocks``, sent twice through the planning path
    (without its last turn, then whole), so the state has seen it as a service would."""
    clock = ManualClock()
    state = CacheState(clock=clock)
    messages = history(kind, blocks)
    last = len(KINDS[kind]())
    prompt: Prompt = (PromptBuilder(MODEL).add_tools(TOOLS).add_system(SYSTEM)
                      .add_messages(messages[:-last]).set_params(max_tokens=256).build())
    for step in range(2):
        nxt = prompt.extend(messages[-last:]) if step else prompt  # after the render, as live
        clock.advance(30)
        plan = optimize(nxt, state=state)
        render_anthropic(nxt, plan)
        record_sent(state, nxt, plan)
        prompt = nxt
    clock.advance(30)
    return prompt, state


def plan_turn(prompt: Prompt, state: CacheState, turn: list[dict[str, Any]]) -> dict[str, Any]:
    """Path (a): what a service does with a new turn."""
    nxt = prompt.extend(turn)
    plan = optimize(nxt, state=state)
    request = render_anthropic(nxt, plan)
    record_sent(state, nxt, plan)
    return request


def bench_pipeline(kind: str, blocks: int, repeat: int) -> tuple[int, float, float, float]:
    """(blocks, seconds per request for (a), seconds per json.dumps warm, and cold) at
    ``blocks`` blocks."""
    times, dumps, cold = [], [], []
    request: dict[str, Any] = {}
    for _ in range(repeat):
        prompt, state = conversation(kind, blocks)
        turn = KINDS[kind]()
        gc.collect()
        took, request = cpu_time(lambda p=prompt, s=state, t=turn: plan_turn(p, s, t))
        times.append(took)
        dumps.append(dumps_time(request))
        cold.append(cold_dumps_time(request))
    return (blocks_of(request), statistics.median(times), statistics.median(dumps),
            statistics.median(cold))


def profile_pipeline(kind: str, blocks: int, repeat: int) -> None:
    """cProfile of (a), summed over ``repeat`` requests of ``blocks`` blocks."""
    prof = cProfile.Profile()
    for _ in range(repeat):
        prompt, state = conversation(kind, blocks)
        turn = KINDS[kind]()
        prof.enable()
        plan_turn(prompt, state, turn)
        prof.disable()
    stats = pstats.Stats(prof).strip_dirs().sort_stats("tottime")
    stats.print_stats(40)
    stats.sort_stats("cumulative").print_stats(40)


class _Messages:
    def __init__(self) -> None:
        self.last: dict[str, Any] = {}
        self._reply = Message.model_validate({
            "id": "msg_stub", "type": "message", "role": "assistant", "model": MODEL,
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1,
                                             "cache_creation_input_tokens": 0,
                                             "cache_read_input_tokens": 0}})

    def create(self, **kwargs: Any) -> Message:
        self.last = kwargs
        return self._reply


class StubAnthropic(anthropic.Anthropic):
    """A real ``anthropic.Anthropic`` whose ``messages.create`` answers at once, offline."""

    def __init__(self) -> None:
        super().__init__(api_key="stub", base_url="http://127.0.0.1:9", max_retries=0)
        self._stub = _Messages()

    @property  # type: ignore[override]
    def messages(self) -> _Messages:  # the SDK's request building is not promptcache's cost
        return self._stub


StubAnthropic.__module__ = "anthropic.stub"  # the session recognises the SDK by its package


def bench_session(kind: str, blocks: int, repeat: int) -> tuple[int, float, float, float]:
    """(blocks, seconds per send, seconds per json.dumps): a session of about ``blocks`` blocks
    (the history, one send and its reply) sends one new user message."""
    times, dumps, cold = [], [], []
    client = StubAnthropic()
    for _ in range(repeat):
        messages = history(kind, blocks)
        messages += [m for _ in range((TURN_BLOCKS[kind] - 2) // 2) for m in chat_turn()]
        session = ChatSession(client, model=MODEL, tools=TOOLS, system=SYSTEM,
                              history=messages, max_tokens=256)
        session.send(prose(20))  # the state sees the conversation first
        gc.collect()
        took, _ = cpu_time(lambda s=session: s.send(prose(20)))
        times.append(took)
        dumps.append(dumps_time(client._stub.last))
        cold.append(cold_dumps_time(client._stub.last))
    return (blocks_of(client._stub.last), statistics.median(times), statistics.median(dumps),
            statistics.median(cold))


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def layered(candidates: int) -> Prompt:
    """A prompt whose every layer ends in a breakpoint candidate (``candidates`` of them)."""
    b = PromptBuilder(MODEL)
    slots = [("tools", v) for v in Volatility] + [
        (kind, v) for v in Volatility for kind in ("system", "examples", "documents")]
    if candidates - 1 > len(slots):
        raise SystemExit(f"at most {len(slots) + 1} candidates")
    for j, (kind, vol) in enumerate(slots[:candidates - 1]):
        if kind == "tools":
            b.add_tools([{"name": f"tool_{j}", "description": prose(900),
                          "input_schema": {"type": "object"}}], volatility=vol)
        elif kind == "system":
            b.add_system(prose(900), volatility=vol)
        elif kind == "examples":
            b.add_examples([(prose(450), prose(450))], volatility=vol)
        else:
            b.add_documents([{"id": f"doc_{j}", "text": prose(900)}], volatility=vol)
    b.add_messages([{"role": "user", "content": prose(300)},
                    {"role": "assistant", "content": prose(300)}])
    return b.add_user_turn(prose(20)).set_params(max_tokens=256).build()


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, minimum) seconds of ``call``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def reference_loop() -> float:
    """Seconds for a 1M-step Python loop (best of 5): what this machine does per step."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return best


def bench_candidates(sizes: Sequence[int], repeat: int) -> None:
    print("| candidates | layers | state | optimize median µs | optimize min µs | breakpoints |")
    print("|---|---|---|---|---|---|")
    for size in sizes:
        prompt = layered(size)
        clock = ManualClock()
        state = CacheState(clock=clock)
        record_sent(state, prompt, optimize(prompt, state=state))
        clock.advance(30)
        for label, with_state in (("none", None), ("CacheState", state)):
            plan = optimize(prompt, state=with_state)
            median, least = timed(
                lambda p=prompt, s=with_state: optimize(p, state=s), repeat)
            print(f"| {size} | {len(prompt.layers)} | {label} | {median * 1e6:,.0f} | "
                  f"{least * 1e6:,.0f} | {len(plan.placements)} |")
    print(f"\nReference: a 1M-step Python loop takes {reference_loop() * 1e3:,.0f} ms here.")


#: Issue 20's goals for path (a), as the largest ratio to json.dumps: (kind, blocks) -> ratio.
GOALS = {("chat", 200): 1.0, ("agent", 200): 1.5, ("chat", 2000): 0.5, ("agent", 2000): 0.5}


def verdict(kind: str, blocks: int, ratio: float) -> str:
    goal = GOALS.get((kind, blocks))
    if goal is None:
        return ""
    return f"<= {goal:g}x: {'met' if ratio <= goal else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--blocks", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=list(KINDS))
    parser.add_argument("--no-session", action="store_true", help="time path (a) only")
    parser.add_argument("--profile", default=None, metavar="KIND:BLOCKS",
                        help="cProfile path (a) at this size instead, e.g. agent:200")
    parser.add_argument("--candidates", type=int, nargs="+", default=None)
    args = parser.parse_args()
    if args.candidates:
        bench_candidates(args.candidates, args.repeat)
        return
    if args.profile:
        kind, blocks = args.profile.split(":")
        profile_pipeline(kind, int(blocks), args.repeat)
        return
    print("| path | conversation | blocks | promptcache µs | json.dumps µs | ratio | goal "
          "| json.dumps after gc µs | ratio to it |")
    print("|---|---|---|---|---|---|---|---|---|")
    benches: list[tuple[str, Callable[[str, int, int], tuple[int, float, float, float]]]] = [
        ("(a) extend+optimize+render+record", bench_pipeline)]
    if not args.no_session:
        benches.append(("(b) ChatSession.send", bench_session))
    for label, bench in benches:
        for kind in args.kinds:
            rows = [bench(kind, size, args.repeat) for size in args.blocks]
            for size, (blocks, ours, dumps, cold) in zip(args.blocks, rows, strict=True):
                goal = verdict(kind, size, ours / dumps) if bench is bench_pipeline else ""
                print(f"| {label} | {kind} | {blocks:,} | {ours * 1e6:,.0f} | "
                      f"{dumps * 1e6:,.0f} | {ours / dumps:.2f}x | {goal} | "
                      f"{cold * 1e6:,.0f} | {ours / cold:.2f}x |")
            if len(rows) > 1:
                xs = [r[0] for r in rows]
                ours_slope = slope(xs, [r[1] for r in rows])
                dumps_slope = slope(xs, [r[2] for r in rows])
                print(f"| {label} | {kind} | slope per block | {ours_slope * 1e9:,.0f} ns | "
                      f"{dumps_slope * 1e9:,.0f} ns | {ours_slope / dumps_slope:.2f}x | | | |")


if __name__ == "__main__":
    main()
