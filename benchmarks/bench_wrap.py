"""Wrapper overhead: what ``wrap(client)`` adds to a ``messages.create`` call, against the SDK.

Both sides run in the same process on the same requests, through the real ``anthropic`` client
with an in-memory transport (``httpx2.MockTransport`` answering a canned Message at once), so
no network or server time is in either number. For each size (``--sizes``, content blocks at the
first call) and shape (``chat``: one text turn each way per call, +2 blocks; ``agent``: an
assistant text + ``tool_use`` and its ``tool_result`` per call, +3 blocks) it times, call by call
and interleaved so that machine load weighs on all of them alike:

* ``sdk``: the unwrapped ``client.messages.create(**kwargs)``: the SDK's own request building
  (argument transformation, JSON, headers), the in-memory round trip and parsing the canned
  reply (a few dozen µs of the total);
* ``own``: the wrapper's own work alone (``WrapHandle.plan_call``: read the request, extend the
  previous Prompt, optimize with the CacheState, set the markers; then ``started`` and
  ``account``: record the writes in the CacheState, add the usage to the ledger);
* ``dumps``: ``json.dumps`` of the request, the yardstick for a per-block slope.

The goals (issue 19): ``own / sdk`` <= 0.3 at 200 blocks and <= 0.1 at 2,000; the slope of
``own`` per block <= 0.05x that of ``dumps``.

``--hits`` also times a repeated call served by the response cache through
``wrap(client, response_cache=...)`` against LangChain's ChatAnthropic under
``set_llm_cache`` with the matching backend (memory, SQLite, Redis when ``redis-server`` is
installed), same run, same request, alternating batches (see ``bench_response_cache.py``).

``--cost`` also runs the same conversations through a wrapped client (the caller's own kwargs)
and through PromptBuilder -> optimize -> render_anthropic -> record_sent, against the loopback
server on a manual clock, and compares what each was billed: a 10-turn chat (30 s apart) and a
14-call tool loop.

    python benchmarks/bench_wrap.py --hits [--sizes 200 2000 5000] [--repeat 30] [--cost]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anthropic
import httpx2

from promptcache import (
    CacheState,
    PromptBuilder,
    optimize,
    parse_usage,
    record_sent,
    render_anthropic,
)
from promptcache.clock import ManualClock
from promptcache.dropin import WrapHandle, wrap
from promptcache.limits import limits_for
from promptcache.testing import ScriptedAnthropicServer
from promptcache.usage import cost_of

MODEL = "claude-sonnet-4-6"
WORDS = ["cache", "prefix", "token", "layer", "static", "document", "request", "model", "answer"]
REPLY = {"id": "msg_1", "type": "message", "role": "assistant", "model": MODEL,
         "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
         "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1,
                                          "cache_read_input_tokens": 0,
                                          "cache_creation_input_tokens": 0}}


def text(words: int, seed: int = 0) -> str:
    return " ".join(WORDS[(i * 7 + seed) % len(WORDS)] for i in range(words))


def step(i: int) -> list[dict[str, Any]]:
    """One tool-loop step: an assistant text + tool_use, then the user's tool_result (3 blocks)."""
    return [{"role": "assistant", "content": [
                {"type": "text", "text": "Let me check. " + text(40, i)},
                {"type": "tool_use", "id": f"toolu_{i}", "name": "search",
                 "input": {"q": text(5, i)}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": text(80, i)}]}]


def chat_turn(i: int) -> list[dict[str, Any]]:
    """One chat exchange: the assistant's answer, then the user's next question (2 blocks)."""
    return [{"role": "assistant", "content": [{"type": "text", "text": "Answer: " + text(60, i)}]},
            {"role": "user", "content": [{"type": "text", "text": f"Question {i}: " + text(20, i)}]}]


def requests(blocks: int, calls: int, shape: str = "agent") -> list[dict[str, Any]]:
    """``calls`` successive requests of one conversation, the first with about ``blocks`` content
    blocks after a 3k-word system prompt and a tool, each next one a step longer (the same
    message objects, in a new list, as code that appends to its history sends them)."""
    more, per = (step, 3) if shape == "agent" else (chat_turn, 2)
    history: list[dict[str, Any]] = [{"role": "user", "content": "Start: " + text(60)}]
    for i in range((blocks - 1) // per + calls):
        history += more(i)
    tools = [{"name": "search", "description": text(120),
              "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    system = text(3_000)
    first = 1 + 2 * ((blocks - 1) // per)
    return [{"model": MODEL, "max_tokens": 1024, "system": system, "tools": tools,
             "messages": history[:first + 2 * k]} for k in range(calls)]


def n_blocks(request: dict[str, Any]) -> int:
    return 2 + sum(1 if isinstance(m["content"], str) else len(m["content"])
                   for m in request["messages"])


def client() -> anthropic.Anthropic:
    body = json.dumps(REPLY).encode()
    transport = httpx2.MockTransport(lambda request: httpx2.Response(
        200, content=body, headers={"content-type": "application/json"}))
    return anthropic.Anthropic(api_key="bench", max_retries=0,
                               http_client=httpx2.Client(transport=transport))


def sender(c: anthropic.Anthropic) -> Callable[[dict[str, Any]], Any]:
    return lambda kwargs: c.messages.create(**kwargs)


def per_call(fns: list[Callable[[dict[str, Any]], Any]],
             calls: list[dict[str, Any]]) -> list[float]:
    """Median CPU seconds (this thread's, so time the shared machine gives to others is left
    out) per call of each of ``fns`` over the conversation's successive requests, interleaved
    call by call so that machine load weighs on all of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    clock = time.thread_time
    for kwargs in calls:
        for fn, out in zip(fns, times, strict=True):
            start = clock()
            fn(kwargs)
            out.append(clock() - start)
    return [statistics.median(t) for t in times]


def own_work(handle: WrapHandle) -> Callable[[dict[str, Any]], Any]:
    """What the wrapper itself does for one call: plan it, then (as after a response) record
    the writes in the CacheState and add the usage to the ledger."""
    response = anthropic.types.Message.model_validate(REPLY)

    def run(kwargs: dict[str, Any]) -> None:
        prepared = handle.plan_call("messages.create", kwargs)
        handle.started(prepared)
        handle.account(prepared, response)

    return run


def _send_wrapped(server: ScriptedAnthropicServer) -> Callable[[dict[str, Any]], Any]:
    state = CacheState(clock=server.clock)
    c = wrap(anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0), state=state)
    return lambda kwargs: c.messages.create(**kwargs)


def _send_plain(server: ScriptedAnthropicServer) -> Callable[[dict[str, Any]], Any]:
    c = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    return lambda kwargs: c.messages.create(**kwargs)


def _send_built(server: ScriptedAnthropicServer) -> Callable[[dict[str, Any]], Any]:
    state = CacheState(clock=server.clock)
    c = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)

    def send(kwargs: dict[str, Any]) -> Any:
        prompt = PromptBuilder(kwargs["model"]).add_tools(kwargs["tools"]) \
            .add_system(kwargs["system"]).add_messages(kwargs["messages"]) \
            .set_params(max_tokens=kwargs["max_tokens"]).build()
        plan = optimize(prompt, state=state)
        response = c.messages.create(**render_anthropic(prompt, plan))
        record_sent(state, prompt, plan)
        return response

    return send


def _conversation(send: Callable[[dict[str, Any]], Any], clock: ManualClock, *, turns: int,
                  tool_loop: bool) -> float:
    """Dollars billed for a chat (``turns`` questions, 30 s apart) or a tool loop of ``turns``
    calls (one tool_use per call, 5 s apart), written the way the SDK docs write them."""
    tools = [{"name": "search", "description": text(300),
              "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    system = text(3_000)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Start: " + text(60)}]
    limits = limits_for(MODEL, provider="anthropic")
    billed = 0.0
    for turn in range(turns):
        response = send({"model": MODEL, "max_tokens": 512, "system": system, "tools": tools,
                         "messages": messages})
        billed += cost_of(parse_usage(response), limits).billed
        messages.append({"role": "assistant", "content": response.content})
        if tool_loop:
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": b.id, "content": text(150, turn)}
                for b in response.content if b.type == "tool_use"]})
            clock.advance(5)
        else:
            messages.append({"role": "user", "content": f"Question {turn}: " + text(40, turn)})
            clock.advance(30)
    return billed


def _reply(body: Any) -> Any:
    last = body["messages"][-1]["content"]
    if (isinstance(last, list) and last and last[0].get("type") == "tool_result") or \
            len(body["messages"]) == 1:
        n = len(body["messages"])
        return [{"type": "text", "text": "Searching. " + text(30, n)},
                {"type": "tool_use", "id": f"toolu_{n}", "name": "search", "input": {"q": str(n)}}]
    return "Answer: " + text(80, len(body["messages"]))


def cost_comparison() -> None:
    print("cost through the wrapper vs the same conversation built with PromptBuilder:")
    for name, turns, tool_loop in (("10-turn chat", 10, False), ("14-call tool loop", 14, True)):
        billed = {}
        for label, make in (("wrapper", _send_wrapped), ("builder", _send_built),
                            ("unwrapped", _send_plain)):
            clock = ManualClock()
            reply = _reply if tool_loop else (lambda body: "Answer: " + text(80, len(
                body["messages"])))
            with ScriptedAnthropicServer(clock=clock, responder=reply) as server:
                billed[label] = _conversation(make(server), clock, turns=turns,
                                              tool_loop=tool_loop)
        print(f"  {name:18} wrapper ${billed['wrapper']:.5f}  builder ${billed['builder']:.5f}"
              f"  ratio {billed['wrapper'] / billed['builder']:.3f}x  (no caching: "
              f"${billed['unwrapped']:.5f})")


def overhead(blocks: int, shape: str, repeat: int) -> dict[str, float]:
    """Median seconds per call of the SDK, the wrapper's own work and json.dumps, one size."""
    calls = requests(blocks, repeat, shape)
    plain = client()
    handle: WrapHandle = wrap(client(), state=CacheState()).promptcache  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback would time the wrong thing
        own_work(handle)(calls[0])  # the memo has seen the conversation's start
        sdk, own, dumps = per_call([sender(plain), own_work(handle), json.dumps],
                                   calls[1:])
    assert handle.unplanned == 0
    return {"blocks": n_blocks(calls[1]), "sdk": sdk, "own": own, "dumps": dumps}


def curves(sizes: list[int], repeat: int) -> None:
    print(f"wrapper overhead: median of {repeat - 1} successive calls per size "
          "(own = the wrapper's own work; sdk = unwrapped messages.create, in-memory transport)")
    print("| shape | blocks | sdk | own | own / sdk | json.dumps | own / dumps |")
    print("|---|---|---|---|---|---|---|")
    for shape in ("chat", "agent"):
        rows = [overhead(b, shape, repeat) for b in sizes]
        for r in rows:
            print(f"| {shape} | {r['blocks']:,} | {r['sdk'] * 1e3:.3f} ms | {r['own'] * 1e3:.3f} ms"
                  f" | {r['own'] / r['sdk']:.3f}x | {r['dumps'] * 1e3:.3f} ms | "
                  f"{r['own'] / r['dumps']:.3f}x |")
        lo, hi = rows[0], rows[-1]
        span = hi["blocks"] - lo["blocks"]
        if span <= 0:
            continue
        own_slope = (hi["own"] - lo["own"]) / span
        dumps_slope = (hi["dumps"] - lo["dumps"]) / span
        print(f"| {shape} | slope {lo['blocks']:,}->{hi['blocks']:,} | "
              f"{(hi['sdk'] - lo['sdk']) / span * 1e6:.3f} µs/block | "
              f"{own_slope * 1e6:.4f} µs/block | | {dumps_slope * 1e6:.3f} µs/block | "
              f"{own_slope / dumps_slope:.4f}x |")


def profile(blocks: int, shape: str, repeat: int) -> None:
    """cProfile of the wrapper's own work over ``repeat`` successive calls."""
    calls = requests(blocks, repeat, shape)
    handle: WrapHandle = wrap(client(), state=CacheState()).promptcache  # type: ignore[attr-defined]
    run = own_work(handle)
    run(calls[0])
    gc.collect()

    with cProfile.Profile() as prof:
        for kwargs in calls[1:]:
            run(kwargs)
    pstats.Stats(prof).sort_stats("tottime").print_stats(22)


def hits(iterations: int) -> None:
    """A response-cache hit through ``wrap`` against LangChain's ChatAnthropic, same run."""
    from bench_response_cache import SYSTEM, compare_with
    from redis_server import optional_redis

    from promptcache.cache import MemoryBackend, RedisBackend, SQLiteBackend

    def through_wrap(c: anthropic.Anthropic, backend: Any) -> Callable[[], Any]:
        wrap(c, state=CacheState(), response_cache=backend)
        system = SYSTEM

        def call() -> Any:
            return c.messages.create(model=MODEL, max_tokens=256, system=system,
                                     messages=[{"role": "user", "content": "What is the capital "
                                                "of France?"}])

        return call

    warnings.simplefilter("ignore")  # LangChain's community package warns about its sunset
    tmp = Path(tempfile.mkdtemp())
    rows = []
    try:
        with optional_redis(enabled=True) as redis_url:
            from langchain_community.cache import RedisCache, SQLiteCache
            from langchain_core.caches import InMemoryCache

            warnings.simplefilter("ignore")
            rows.append(("memory", *compare_with(through_wrap, MemoryBackend(), InMemoryCache(),
                                                 iterations)))
            rows.append(("SQLite", *compare_with(through_wrap, SQLiteBackend(tmp / "ours.db"),
                                                 SQLiteCache(database_path=str(tmp / "lc.db")),
                                                 iterations)))
            if redis_url:
                import redis

                rows.append(("Redis", *compare_with(
                    through_wrap, RedisBackend(redis_url),
                    RedisCache(redis_=redis.Redis.from_url(redis_url)), iterations)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"response-cache hit through wrap(client, response_cache=...) vs LangChain "
          f"ChatAnthropic + set_llm_cache, {iterations} iterations, load average {load} "
          f"(1/5/15 min) on {os.cpu_count()} cores")
    print("| backend | wrap hit median / p95 | LangChain median / p95 | speed-up (median) |")
    print("|---|---|---|---|")
    goals = {"memory": 10, "SQLite": 10, "Redis": 5}
    for name, (med, p95), (lc_med, lc_p95) in rows:
        ratio = lc_med / med
        verdict = "met" if ratio >= goals[name] else "MISSED"
        print(f"| {name} | {med:.0f} µs / {p95:.0f} µs | {lc_med:.0f} µs / {lc_p95:.0f} µs | "
              f"{ratio:.1f}x (goal {goals[name]}x: {verdict}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2_000, 5_000])
    parser.add_argument("--repeat", type=int, default=30, help="successive calls per size")
    parser.add_argument("--hits", action="store_true", help="also time response-cache hits")
    parser.add_argument("--iterations", type=int, default=3_000, help="hits per side")
    parser.add_argument("--cost", action="store_true", help="also compare billed cost")
    parser.add_argument("--profile", metavar="SHAPE", choices=("chat", "agent"),
                        help="cProfile the wrapper's own work at the largest size, and stop")
    args = parser.parse_args()
    if args.profile:
        profile(max(args.sizes), args.profile, args.repeat)
        return
    if args.cost:
        cost_comparison()
    curves(args.sizes, args.repeat)
    if args.hits:
        hits(args.iterations)


if __name__ == "__main__":
    main()
