"""Planner overhead on a 200-block, ~100k-token conversation, as a ratio to one json.dumps.

    python benchmarks/bench_planner.py [--repeat 30]

"First" builds, plans and renders the conversation from scratch in a fresh process state (token
counts and digests not yet memoised). "Rebuild" builds the conversation again from scratch after
one more turn (memoised counts help). "Incremental" is what a chat service does on every request:
``prompt.extend(new_turn)`` reuses the previous Prompt's validated, counted blocks, then plans and
renders. Each is compared with one ``json.dumps`` of the rendered request, measured in the same
run (the least any client does with a request). Reported: median over ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from promptcache.fingerprint import _MEMO

from promptcache import CacheState, Prompt, PromptBuilder, optimize, render_anthropic
from promptcache.clock import ManualClock
from promptcache.tokens import default_counter

WORDS = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda",
    "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
]


def prose(n: int, seed: int) -> str:
    return " ".join(WORDS[(i * 7 + seed) % len(WORDS)] + str((i + seed) % 97) for i in range(n))


def conversation(turns: int, seed: int = 0) -> list[dict[str, Any]]:
    """``turns`` user/assistant pairs of tool calls: 2 blocks each way, ~520 tokens a block."""
    out: list[dict[str, Any]] = []
    for t in range(turns):
        out.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"t{t}a", "content": prose(260, t + seed)},
            {"type": "text", "text": prose(260, t + seed + 1)}]})
        out.append({"role": "assistant", "content": [
            {"type": "text", "text": prose(260, t + seed + 2)},
            {"type": "tool_use", "id": f"t{t + 1}a", "name": "search", "input": {"q": prose(8, t)}}]})
    return out


TOOLS = [{"name": f"tool_{i}", "description": prose(200, i),
          "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}
         for i in range(4)]
SYSTEM = prose(3_000, 99)


def build(history: list[dict[str, Any]]) -> Prompt:
    b = PromptBuilder("claude-sonnet-4-6").add_tools(TOOLS).add_system(SYSTEM)
    return b.add_messages(history).set_params(max_tokens=512).build()


def plan_and_render(prompt: Prompt, state: CacheState | None) -> dict[str, Any]:
    return render_anthropic(prompt, optimize(prompt, state=state))


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    history = conversation(48)  # 192 message blocks + tools and system: ~200 positions
    new_turn = conversation(1, seed=1_000)
    request = plan_and_render(build(history), None)
    blocks = len(request["tools"]) + len(request["system"]) + sum(
        len(m["content"]) for m in request["messages"])
    tokens = build(history).total_tokens

    rows: dict[str, list[float]] = {"json.dumps": [], "first": [], "rebuild": [],
                                    "incremental": [], "incremental + CacheState": []}
    for _ in range(args.repeat):
        default_counter()._memo.clear()
        _MEMO.clear()
        rows["json.dumps"].append(timed(lambda: json.dumps(request)))
        rows["first"].append(timed(lambda: plan_and_render(build(history), None)))
        rows["rebuild"].append(timed(lambda: plan_and_render(build(history + new_turn), None)))
        previous = build(history)
        rows["incremental"].append(
            timed(lambda p=previous: plan_and_render(p.extend(new_turn), None)))
        state = CacheState(clock=ManualClock())
        plan_and_render(previous, state)
        rows["incremental + CacheState"].append(
            timed(lambda p=previous, s=state: plan_and_render(p.extend(new_turn), s)))
    base = statistics.median(rows["json.dumps"])
    print(f"request: {blocks} blocks, ~{tokens:,} tokens, {len(json.dumps(request)):,} bytes")
    print(f"{'step':<26}{'median ms':>10}{'x json.dumps':>14}")
    for name, samples in rows.items():
        med = statistics.median(samples)
        print(f"{name:<26}{med * 1e3:>10.2f}{med / base:>14.2f}")


if __name__ == "__main__":
    main()
