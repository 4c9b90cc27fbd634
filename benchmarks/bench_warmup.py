"""Warm-up benchmark: N concurrent requests on one shared prefix, naive fan-out against warm-up.

The loopback simulator holds every response back ``--delay`` seconds before it starts (its time to
first byte); a cache entry becomes readable only then, so a naive fan-out of concurrent requests
pays a write per request, while a warm-up pays one write and one extra first-response time.
``ideal`` is one write of the prefix plus N-1 reads, plus each request's own suffix.
Run: ``python benchmarks/bench_warmup.py`` (``--help`` for the knobs).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import anthropic
from rich.console import Console
from rich.table import Table

from promptcache.clock import ManualClock
from promptcache.limits import limits_for
from promptcache.testing import ScriptedAnthropicServer
from promptcache.warmup import SingleFlight, WarmupResult, warm_up, warm_up_sync

MODEL = "claude-sonnet-4-6"
WORDS = ["cache", "prefix", "token", "layer", "static", "document", "request", "model", "answer"]


def text(tokens: int, seed: int = 0) -> str:
    return " ".join(WORDS[(i * 7 + seed) % len(WORDS)] for i in range(tokens))


def requests(n: int, prefix_tokens: int) -> list[dict[str, Any]]:
    system = text(prefix_tokens)
    return [{"model": MODEL, "max_tokens": 64, "system": system,
             "messages": [{"role": "user", "content": f"question {i}: " + text(30, i)}]}
            for i in range(n)]


def ideal_usd(result: WarmupResult) -> float:
    lim = limits_for(MODEL)
    assert lim.input_price is not None and result.prefix is not None
    n, prefix, u = len(result.responses), result.prefix.tokens, result.usage
    rest = u.prompt_tokens - n * prefix - (prefix if result.warm_response is not None else 0)
    return (prefix * lim.write_multiplier("5m") + (n - 1) * prefix * lim.cache_read_multiplier
            + rest) * lim.input_price / 1e6


def input_usd(result: WarmupResult) -> float:
    lim = limits_for(MODEL)
    assert lim.input_price is not None
    u = result.usage
    units = (u.input_tokens + u.cache_read_tokens * lim.cache_read_multiplier
             + u.cache_write_5m_tokens * lim.write_multiplier("5m")
             + u.cache_write_1h_tokens * lim.write_multiplier("1h"))
    return units * lim.input_price / 1e6


def one(kind: str, mode: str, args: argparse.Namespace) -> WarmupResult:
    reqs = requests(args.requests, args.prefix_tokens)
    with ScriptedAnthropicServer(clock=ManualClock(), response_delay=args.delay) as srv:
        if kind == "sync":
            client = anthropic.Anthropic(base_url=srv.url, api_key="bench", max_retries=0)
            return warm_up_sync(client, reqs, mode=mode,  # type: ignore[arg-type]
                                concurrency=args.concurrency, progress=False, flights=SingleFlight())

        async def go() -> WarmupResult:
            aclient = anthropic.AsyncAnthropic(base_url=srv.url, api_key="bench", max_retries=0)
            try:
                return await warm_up(aclient, reqs, mode=mode,  # type: ignore[arg-type]
                                     concurrency=args.concurrency, progress=False,
                                     flights=SingleFlight())
            finally:
                await aclient.close()

        return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--prefix-tokens", type=int, default=8_000)
    parser.add_argument("--delay", type=float, default=0.3, help="time to first byte, seconds")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    table = Table(title=f"Warm-up: {args.requests} requests, ~{args.prefix_tokens:,}-token prefix, "
                        f"{args.delay:.2f} s to first byte, concurrency {args.concurrency}")
    for col in ("client", "mode", "writes", "written", "read", "input $", "vs ideal",
                "first start s", "wall s"):
        table.add_column(col, justify="left" if col in ("client", "mode") else "right")
    for kind in ("sync", "async"):
        for mode in ("none", "first", "prefix"):
            r = one(kind, mode, args)
            u = r.usage
            table.add_row(kind, "naive fan-out" if mode == "none" else f"warm-up ({mode})",
                          str(r.writes), f"{u.cache_write_tokens:,}", f"{u.cache_read_tokens:,}",
                          f"${input_usd(r):.4f}", f"{input_usd(r) / ideal_usd(r) - 1:+.1%}",
                          f"{r.first_start:.2f}", f"{r.elapsed:.2f}")
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
