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
(``--blocks 200 --repeat 200``).
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

from promptcache import CacheState
from promptcache.dropin import wrap
from promptcache.dropin._wrap import _MESSAGES_CREATE

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


def per_call(fn: Callable[[dict[str, Any]], Any], calls: list[dict[str, Any]]) -> float:
    """Median seconds per call over the conversation's successive requests."""
    times = []
    for kwargs in calls:
        start = time.perf_counter()
        fn(kwargs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=100, help="successive calls")
    args = parser.parse_args()
    calls = requests(args.blocks, args.repeat)
    blocks = 2 + sum(1 if isinstance(m["content"], str) else len(m["content"])
                     for m in calls[0]["messages"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback would time the wrong thing
        for _ in range(2):  # a warm-up run (imports, caches), then the measured one on new clients
            plain = client()
            wrapped = wrap(client(), state=CacheState())
            planner = wrap(client(), state=CacheState()).promptcache
            sdk = per_call(sender(plain), calls)
            full = per_call(sender(wrapped), calls)
            plan = per_call(functools.partial(planner.prepare, _MESSAGES_CREATE), calls)
            cold = wrap(client(), state=CacheState()).promptcache
            start = time.perf_counter()
            cold.prepare(_MESSAGES_CREATE, calls[0])
            first = time.perf_counter() - start
            start = time.perf_counter()
            plain.messages.create(**calls[0])
            first_sdk = time.perf_counter() - start
    assert wrapped.promptcache.unplanned == 0 and planner.unplanned == 0
    print(f"conversation: {blocks} positions at the first call, +3 per call; median of "
          f"{args.repeat} successive calls")
    print(f"  sdk      {sdk * 1e3:8.3f} ms  (unwrapped messages.create, in-memory transport)")
    print(f"  wrapped  {full * 1e3:8.3f} ms  (+{(full - sdk) * 1e3:.3f} ms)")
    print(f"  plan     {plan * 1e3:8.3f} ms  (the wrapper's own work)")
    print(f"  ratio plan/sdk = {plan / sdk:.2f}x   (wrapped - sdk)/sdk = {(full - sdk) / sdk:.2f}x")
    print(f"  first call of a conversation the wrapper has not seen ({blocks} positions): plan "
          f"{first * 1e3:.3f} ms, sdk {first_sdk * 1e3:.3f} ms = {first / first_sdk:.2f}x")


if __name__ == "__main__":
    main()
