"""Chat helper benchmark: what ChatSession pays against hand-placed breakpoints, offline.

Every request goes through the real ``anthropic`` client to the loopback simulator, on a manual
clock, so the numbers are deterministic. Scenarios:

* chat: 10 turns, 30 s apart, 4k-token system prompt and two tools;
* agent: 3 user turns, each a tool loop of 3 steps with 14 tool calls per step;
* slow user: 8 turns 10 minutes apart (the 5-minute TTL always expires).

Strategies: no caching; "by hand", the common recipe (a 5m marker on the system prompt and one on
the last message); ChatSession (optimizer + CacheState). Run: ``python benchmarks/bench_chat.py``
(``--overhead`` for the planning time per send alone).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

import anthropic
from rich.console import Console
from rich.table import Table

from promptcache.clock import ManualClock
from promptcache.limits import limits_for
from promptcache.providers.anthropic.scripted import ScriptedAnthropicServer
from promptcache.session import ChatSession, TurnUsage
from promptcache.session._anthropic import turn_usage

MODEL = "claude-sonnet-4-6"
WORDS = ["cache", "prefix", "token", "layer", "static", "document", "request", "model", "answer"]


def text(tokens: int, seed: int = 0) -> str:
    return " ".join(WORDS[(i * 7 + seed) % len(WORDS)] for i in range(tokens))


SYSTEM = text(4_000)
TOOLS = [{"name": n, "description": text(120, k), "input_schema": {"type": "object", "properties": {}}}
         for k, n in enumerate(("search", "fetch"))]
EPH = {"type": "ephemeral", "ttl": "5m"}


def responder(calls: int, steps: int) -> Callable[[Mapping[str, Any]], Any]:
    """``calls`` tool calls per step for ``steps`` steps after each user question, then text."""

    def respond(body: Mapping[str, Any]) -> Any:
        answered = 0
        for m in reversed(body["messages"]):
            c = m["content"]
            if m["role"] == "user" and isinstance(c, list) and c[0].get("type") == "tool_result":
                answered += 1
            elif m["role"] == "user":
                break
        if answered >= steps:
            return "Here is the answer: " + text(60, len(body["messages"]))
        n = len(body["messages"])
        return [{"type": "tool_use", "id": f"t{n}_{i}", "name": "search", "input": {"q": f"{n}.{i}"}}
                for i in range(calls)]

    return respond


def by_hand(client: Any, clock: ManualClock, turns: int, gap: float, cached: bool,
            calls: int, steps: int) -> TurnUsage:
    """The baseline: the same conversation with no markers, or with the two-marker recipe."""
    history: list[dict[str, Any]] = []
    total = TurnUsage()
    for turn in range(turns):
        history.append({"role": "user", "content": f"question {turn}: " + text(50, turn)})
        while True:
            messages = [dict(m) for m in history]
            last = messages[-1]
            content = last["content"] if isinstance(last["content"], list) else [
                {"type": "text", "text": last["content"]}]
            if cached:
                content = [*content[:-1], {**content[-1], "cache_control": EPH}]
            messages[-1] = {"role": last["role"], "content": content}
            system = [{"type": "text", "text": SYSTEM, **({"cache_control": EPH} if cached else {})}]
            reply = client.messages.create(model=MODEL, max_tokens=512, tools=TOOLS, system=system,
                                           messages=messages)
            total = total + turn_usage(reply.usage)
            blocks = [b.model_dump(exclude_none=True) for b in reply.content]
            history.append({"role": "assistant", "content": blocks})
            uses = [b for b in blocks if b["type"] == "tool_use"]
            if not uses:
                break
            history.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": u["id"], "content": text(40, i)}
                for i, u in enumerate(uses)]})
            clock.advance(2)
        clock.advance(gap)
    return total


def with_session(client: Any, clock: ManualClock, turns: int, gap: float) -> TurnUsage:
    chat = ChatSession(client, model=MODEL, tools=TOOLS, system=SYSTEM, max_tokens=512, clock=clock)
    for turn in range(turns):
        chat.run(f"question {turn}: " + text(50, turn), lambda c: text(40, len(c.id)))
        clock.advance(gap)
    return chat.stats.usage


SCENARIOS = {
    "chat": {"turns": 10, "gap": 30.0, "calls": 0, "steps": 0},
    "agent": {"turns": 3, "gap": 30.0, "calls": 14, "steps": 3},
    "slow user": {"turns": 8, "gap": 600.0, "calls": 0, "steps": 0},
}


def run(console: Console) -> list[tuple[str, str, TurnUsage]]:
    rows = []
    for name, sc in SCENARIOS.items():
        for strategy in ("no caching", "by hand", "ChatSession"):
            clock = ManualClock()
            with ScriptedAnthropicServer(clock=clock, responder=responder(int(sc["calls"]),
                                                                          int(sc["steps"]))) as srv:
                client = anthropic.Anthropic(base_url=srv.url, api_key="bench", max_retries=0)
                turns, gap = int(sc["turns"]), float(sc["gap"])
                if strategy == "ChatSession":
                    usage = with_session(client, clock, turns, gap)
                else:
                    usage = by_hand(client, clock, turns, gap, strategy != "no caching",
                                    int(sc["calls"]), int(sc["steps"]))
            rows.append((name, strategy, usage))
    lim = limits_for(MODEL)
    table = Table(title=f"Chat helper on {MODEL} (loopback simulator, manual clock)")
    for col in ("scenario", "strategy", "read", "written (1h)", "uncached", "hit rate", "input $",
                "vs no caching"):
        table.add_column(col, justify="left" if col in ("scenario", "strategy") else "right")
    base: dict[str, float] = {}
    for name, strategy, u in rows:
        # Input dollars only: the strategies differ in what they cache, not in what they generate.
        cost = TurnUsage(model=MODEL, input_tokens=u.input_tokens,
                         cache_read_tokens=u.cache_read_tokens,
                         cache_writes=u.cache_writes).cost_usd(lim) or 0.0
        base.setdefault(name, cost)
        table.add_row(name, strategy, f"{u.cache_read_tokens:,}",
                      f"{u.cache_write_tokens:,} ({u.cache_write_1h_tokens:,})", f"{u.input_tokens:,}",
                      f"{u.cache_read_tokens / u.prompt_tokens:.0%}", f"${cost:.4f}",
                      f"{cost / base[name] - 1:+.0%}")
    console.print(table)
    return rows


# -- planning overhead per send, no network ---------------------------------------------------------


def overhead(console: Console, sizes: tuple[int, ...] = (100, 1_000), sends: int = 20) -> None:
    """Per-send planning time (extend + optimize + render + commit) against one json.dumps.

    The session runs its real core and Anthropic adapter on a conversation of ``n`` turns (2
    blocks each); only the HTTP call is replaced by a canned reply. "rebuild" is what each send
    cost before the session extended its Prompt: PromptBuilder over the whole history.
    """
    import json
    import time

    from promptcache.session._anthropic import AnthropicAdapter, parse_message

    table = Table(title="ChatSession planning per send (median of "
                        f"{sends} sends; ratio to json.dumps of the same request)")
    for col in ("blocks", "json.dumps", "send (extend)", "ratio", "rebuild only", "ratio"):
        table.add_column(col, justify="right")
    for turns in sizes:
        history: list[dict[str, Any]] = []
        for t in range(turns):
            history += [{"role": "user", "content": f"question {t}: " + text(30, t)},
                        {"role": "assistant", "content": [{"type": "text", "text": text(40, t)}]}]
        chat = ChatSession(anthropic.Anthropic(api_key="bench", base_url="http://127.0.0.1:9"),
                           model=MODEL, tools=TOOLS, system=SYSTEM, history=history,
                           clock=ManualClock())
        adapter = AnthropicAdapter()
        dumps, sends_t, rebuild = [], [], []
        for k in range(sends):
            start = time.perf_counter()
            pending = chat.core.prepare(chat.core.user_message(f"new question {turns} {k}"))
            request = adapter.render(pending, previous_message_id=None, diagnostics=True)
            message = {"id": f"msg_{k}", "type": "message", "role": "assistant", "model": MODEL,
                       "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
                       "usage": {"input_tokens": 10, "output_tokens": 1}}
            chat.core.commit(pending, request, parse_message(message))
            sends_t.append(time.perf_counter() - start)
            start = time.perf_counter()
            json.dumps(request.kwargs)
            dumps.append(time.perf_counter() - start)
            start = time.perf_counter()
            chat.core.build(list(chat.history))
            rebuild.append(time.perf_counter() - start)

        def med(xs: list[float]) -> float:
            return sorted(xs)[len(xs) // 2]

        d, s, r = med(dumps), med(sends_t), med(rebuild)
        table.add_row(f"{len(chat.prompt.blocks):,}", f"{d * 1e3:.2f} ms", f"{s * 1e3:.2f} ms",
                      f"{s / d:.1f}x", f"{r * 1e3:.2f} ms", f"{r / d:.1f}x")
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--overhead", action="store_true",
                        help="only measure the planning time per send (no cost scenarios)")
    args = parser.parse_args()
    if not args.overhead:
        run(Console(width=120))
    overhead(Console(width=120))
