"""Benchmark: a repeated call served from the response cache, end to end.

The SDK client call goes in, the SDK's response object comes out; no request reaches the loopback
server after the first. Side by side with LangChain's ChatAnthropic under
``set_llm_cache(InMemoryCache())`` and ``SQLiteCache`` (and ``RedisCache`` when Redis is up) on the
same request: a ~4k-token system prompt and a short question.

    python benchmarks/bench_response_cache.py [--iterations 5000] [--redis-url redis://...]

Without ``--redis-url`` a private ``redis-server`` is started on a free port if the binary exists.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anthropic

from promptcache.cache import (
    CacheBackend,
    MemoryBackend,
    RedisBackend,
    SQLiteBackend,
    cache_client,
)
from promptcache.testing import AnthropicServer

MODEL = "claude-sonnet-4-6"
SYSTEM = " ".join(f"Rule {i}: answer precisely and cite the handbook section." for i in range(290))
QUESTION = "What is the capital of France?"


def measure(call: Callable[[], Any], iterations: int) -> tuple[float, float]:
    """Median and p95 in microseconds, after a warm-up."""
    for _ in range(min(200, iterations)):
        call()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        call()
        samples.append((clock() - start) / 1_000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def ours(server: AnthropicServer, backend: CacheBackend, iterations: int) -> tuple[float, float]:
    with anthropic.Anthropic(api_key="sk-bench", base_url=server.url, max_retries=0) as client:
        cache_client(client, backend=backend)
        system = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]

        def call() -> Any:
            return client.messages.create(
                model=MODEL,
                max_tokens=256,
                system=system,
                messages=[{"role": "user", "content": QUESTION}],
            )

        before = len(server.requests)
        result = measure(call, iterations)
        assert len(server.requests) - before <= 1, "the cache was bypassed"
        assert isinstance(call(), anthropic.types.Message)
        return result


def langchain(server: AnthropicServer, cache: Any, iterations: int) -> tuple[float, float]:
    from langchain_anthropic import ChatAnthropic
    from langchain_core.globals import set_llm_cache
    from langchain_core.messages import HumanMessage, SystemMessage

    # LangChain's caches warn on every load (allowed_objects); printing that would be measured.
    warnings.filterwarnings("ignore")
    set_llm_cache(cache)
    llm = ChatAnthropic(model=MODEL, api_key="sk-bench", base_url=server.url, max_tokens=256, max_retries=0)
    messages = [SystemMessage(SYSTEM), HumanMessage(QUESTION)]
    before = len(server.requests)
    result = measure(lambda: llm.invoke(messages), iterations)
    assert len(server.requests) - before <= 1, "LangChain's cache was bypassed"
    set_llm_cache(None)
    return result


def start_redis() -> tuple[str, subprocess.Popen[bytes]] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(500):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.01)
    client.close()
    return f"redis://127.0.0.1:{port}/0", proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=5_000)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # LangChain's community package warns about its sunset

    started = None
    redis_url = args.redis_url
    if redis_url is None:
        started = start_redis()
        redis_url = started[0] if started else None

    tmp = Path(tempfile.mkdtemp())
    rows: list[tuple[str, tuple[float, float], tuple[float, float] | None]] = []
    try:
        with AnthropicServer(reply="Paris.") as server:
            from langchain_community.cache import RedisCache, SQLiteCache
            from langchain_core.caches import InMemoryCache

            it = args.iterations
            rows.append(("memory", ours(server, MemoryBackend(), it), langchain(server, InMemoryCache(), it)))
            rows.append(
                (
                    "SQLite",
                    ours(server, SQLiteBackend(tmp / "ours.sqlite3"), it),
                    langchain(server, SQLiteCache(database_path=str(tmp / "lc.db")), it),
                )
            )
            if redis_url:
                import redis

                lc_redis = RedisCache(redis_=redis.Redis.from_url(redis_url))
                rows.append(
                    ("Redis", ours(server, RedisBackend(redis_url), it), langchain(server, lc_redis, it))
                )
    finally:
        if started:
            started[1].terminate()
            started[1].wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"Repeated anthropic messages.create hit, {len(SYSTEM) // 4} approx. tokens of system "
        f"prompt, {args.iterations} iterations, Python {sys.version.split()[0]}"
    )
    print("| backend | promptcache median / p95 | LangChain median / p95 | speed-up (median) |")
    print("|---|---|---|---|")
    for name, (med, p95), lc in rows:
        other = f"{lc[0]:.0f} µs / {lc[1]:.0f} µs" if lc else "n/a"
        ratio = f"{lc[0] / med:.1f}x" if lc else "n/a"
        print(f"| {name} | {med:.0f} µs / {p95:.0f} µs | {other} | {ratio} |")


if __name__ == "__main__":
    main()
