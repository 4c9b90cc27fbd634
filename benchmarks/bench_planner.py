"""Per-request planner overhead as conversations grow, as a ratio to one ``json.dumps``.

    python benchmarks/bench_planner.py [--repeat 15] [--turns 10 50 200 1000]
    python benchmarks/bench_planner.py --candidates 2 9 13 17 [--repeat 200]

For a chat (one user and one assistant text block a turn) and an agent (12 tool_use /
tool_result pairs a turn) of 10, 50, 200 and 1,000 turns, each request appends a turn whose text
was never seen before (nothing memoised), and we time:

(a) ``Prompt.extend`` + ``optimize`` with a ``CacheState`` + ``render_anthropic`` +
    ``record_sent``: the path the docs recommend for a service;
(b) ``ChatSession.send`` against a stub client that returns a canned reply at once, so only
    promptcache's own work is timed.

Each is divided by one ``json.dumps`` of the same rendered request, timed in the same run: the
least any client does with a request. The per-block slope is fitted by least squares over the
sizes, for both promptcache and ``json.dumps``. Reported: medians over ``--repeat`` requests.

``--candidates`` times ``optimize`` alone on prompts with that many breakpoint candidates (one
~1,200-token layer per candidate: tools, instructions, examples and documents at each volatility,
then the conversation), without a state and with a ``CacheState`` that saw the previous request,
4 slots. Reported: median and minimum over ``--repeat`` calls, and the time of a 1M-step Python
loop on the same machine, to scale the figures to another one.
"""

from __future__ import annotations

import argparse
import itertools
import json
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


def history(kind: str, turns: int) -> list[dict[str, Any]]:
    return [m for _ in range(turns) for m in KINDS[kind]()]


def blocks_of(request: dict[str, Any]) -> int:
    return len(request.get("tools", ())) + len(request.get("system", ())) + sum(
        1 if isinstance(m["content"], str) else len(m["content"]) for m in request["messages"])


def dumps_time(request: dict[str, Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        json.dumps(request)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_pipeline(kind: str, turns: int, repeat: int) -> tuple[int, float, float]:
    """(blocks, seconds per request for (a), seconds per json.dumps) at ``turns`` turns."""
    clock = ManualClock()
    state = CacheState(clock=clock)
    prompt: Prompt = (PromptBuilder(MODEL).add_tools(TOOLS).add_system(SYSTEM)
                      .add_messages(history(kind, turns)).set_params(max_tokens=256).build())
    request = render_anthropic(prompt, optimize(prompt, state=state))
    record_sent(state, prompt, optimize(prompt, state=state))
    times, dumps = [], []
    for _ in range(repeat):
        turn = KINDS[kind]()
        clock.advance(30)
        start = time.perf_counter()
        nxt = prompt.extend(turn)
        plan = optimize(nxt, state=state)
        request = render_anthropic(nxt, plan)
        record_sent(state, nxt, plan)
        times.append(time.perf_counter() - start)
        dumps.append(dumps_time(request, 5))
        prompt = nxt  # the conversation grows by one turn a request, as a service sees it
    return blocks_of(request), statistics.median(times), statistics.median(dumps)


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


def bench_session(kind: str, turns: int, repeat: int) -> tuple[int, float, float]:
    client = StubAnthropic()
    session = ChatSession(client, model=MODEL, tools=TOOLS, system=SYSTEM,
                          history=history(kind, turns), max_tokens=256)
    session.send(prose(20))
    times, dumps = [], []
    for _ in range(repeat):
        turn = KINDS[kind]()
        # The earlier parts of the turn arrive as history the way a tool loop adds them; the
        # last user message is what send() is timed on.
        start = time.perf_counter()
        session.send(turn[0]["content"])
        times.append(time.perf_counter() - start)
        dumps.append(dumps_time(client._stub.last, 5))
    return blocks_of(client._stub.last), statistics.median(times), statistics.median(dumps)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--turns", type=int, nargs="+", default=[10, 50, 200, 1000])
    parser.add_argument("--candidates", type=int, nargs="+", default=None)
    args = parser.parse_args()
    if args.candidates:
        bench_candidates(args.candidates, args.repeat)
        return
    print("| path | conversation | turns | blocks | promptcache µs | json.dumps µs | ratio |")
    print("|---|---|---|---|---|---|---|")
    for label, bench in (("(a) extend+optimize+render+record", bench_pipeline),
                         ("(b) ChatSession.send", bench_session)):
        for kind in KINDS:
            rows = [(t, *bench(kind, t, args.repeat)) for t in args.turns]
            for turns, blocks, ours, dumps in rows:
                print(f"| {label} | {kind} | {turns} | {blocks:,} | {ours * 1e6:,.0f} | "
                      f"{dumps * 1e6:,.0f} | {ours / dumps:.2f}x |")
            xs = [r[1] for r in rows]
            ours_slope = slope(xs, [r[2] for r in rows])
            dumps_slope = slope(xs, [r[3] for r in rows])
            print(f"| {label} | {kind} | slope | per block | {ours_slope * 1e9:,.0f} ns | "
                  f"{dumps_slope * 1e9:,.0f} ns | {ours_slope / dumps_slope:.2f}x |")


if __name__ == "__main__":
    main()
