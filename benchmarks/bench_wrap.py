"""Wrapper overhead: what ``wrap(client)`` adds to a ``messages.create`` call, against the SDK.

Both sides run in the same process on the same request, through the real ``anthropic`` client
with an in-memory transport (``httpx2.MockTransport`` answering a canned Message at once), so
no network or server time is in either number:

* ``sdk``: the unwrapped ``client.messages.create(**kwargs)``: the SDK's own request building
  (argument transformation, JSON, headers), its transport round trip and its response parsing;
* ``wrapped``: the same call on a wrapped client;
* ``plan``: the wrapper's own work alone (``prompt_from_request`` + ``optimize`` + merge), timed
  directly.

The ratio the issue asks for is ``plan / sdk``. Run: ``python benchmarks/bench_wrap.py``
(``--blocks 200 --repeat 100``).

``--cost`` also runs the same conversations through a wrapped client (the caller's own kwargs)
and through PromptBuilder -> optimize -> render_anthropic -> record_sent, against the loopback
server on a manual clock, and compares what each was billed: a 10-turn chat (30 s apart) and a
14-call tool loop.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

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
from promptcache.dropin import wrap
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


def requests(blocks: int, calls: int) -> list[dict[str, Any]]:
    """``calls`` successive requests of one tool loop, the first with ``blocks`` content blocks
    after a 3k-word system prompt and a tool, each next one 3 blocks longer (the same message
    objects, in a new list, as an agent loop that appends to its history sends them)."""
    history: list[dict[str, Any]] = [{"role": "user", "content": "Start: " + text(60)}]
    for i in range((blocks - 1) // 3 + calls):
        history += step(i)
    tools = [{"name": "search", "description": text(120),
              "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    system = text(3_000)
    first = 1 + 2 * ((blocks - 1) // 3)
    return [{"model": MODEL, "max_tokens": 1024, "system": system, "tools": tools,
             "messages": history[:first + 2 * k]} for k in range(calls)]


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
    """Median seconds per call of each of ``fns`` over the conversation's successive requests,
    interleaved call by call so that machine load weighs on all of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for kwargs in calls:
        for fn, out in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn(kwargs)
            out.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=100, help="successive calls")
    parser.add_argument("--cost", action="store_true", help="also compare billed cost")
    args = parser.parse_args()
    if args.cost:
        cost_comparison()
    calls = requests(args.blocks, args.repeat)
    blocks = 2 + sum(1 if isinstance(m["content"], str) else len(m["content"])
                     for m in calls[0]["messages"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback would time the wrong thing
        for _ in range(2):  # a warm-up run (imports, caches), then the measured one on new clients
            plain = client()
            wrapped = wrap(client(), state=CacheState())
            planner = wrap(client(), state=CacheState()).promptcache
            sdk, full, plan = per_call([sender(plain), sender(wrapped), functools.partial(
                planner.plan_call, "messages.create")], calls)
            colds = [wrap(client(), state=CacheState()).promptcache for _ in range(9)]
            cold_plan, cold_sdk = [], []
            for handle in colds:  # each handle sees the conversation for the first time
                start = time.perf_counter()
                handle.plan_call("messages.create", calls[0])
                cold_plan.append(time.perf_counter() - start)
                start = time.perf_counter()
                plain.messages.create(**calls[0])
                cold_sdk.append(time.perf_counter() - start)
            first, first_sdk = statistics.median(cold_plan), statistics.median(cold_sdk)
    assert wrapped.promptcache.unplanned == 0 and planner.unplanned == 0
    print(f"conversation: {blocks} positions at the first call, +3 per call; median of "
          f"{args.repeat} successive calls")
    print(f"  sdk      {sdk * 1e3:8.3f} ms  (unwrapped messages.create, in-memory transport)")
    print(f"  wrapped  {full * 1e3:8.3f} ms  (+{(full - sdk) * 1e3:.3f} ms)")
    print(f"  plan     {plan * 1e3:8.3f} ms  (the wrapper's own work)")
    print(f"  ratio plan/sdk = {plan / sdk:.2f}x   (wrapped - sdk)/sdk = {(full - sdk) / sdk:.2f}x")
    print(f"  first call of a conversation the wrapper has not seen ({blocks} positions, median "
          f"of 9): plan {first * 1e3:.3f} ms, sdk {first_sdk * 1e3:.3f} ms = "
          f"{first / first_sdk:.2f}x")


if __name__ == "__main__":
    main()
