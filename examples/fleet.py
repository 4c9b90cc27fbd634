"""A fleet: one agent conversation served by three workers behind a load balancer.

Each worker has its own CacheState. With a Redis store shared by all of them (used here when
``redis-server`` is installed; the example starts a throwaway one), every worker knows what the
others wrote and learns from the whole fleet's traffic. Without one, placement is still
deterministic: a worker that never saw the previous step knows where it wrote (the end of the
history this request extends) and bridges the 20-block lookback to it. Runs offline against the
loopback simulator, through the real anthropic client.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from typing import Any

import anthropic

from promptcache import CacheState, PromptBuilder, optimize, record_sent, render_anthropic
from promptcache.clock import ManualClock
from promptcache.testing import AnthropicServer

TOOLS = [{"name": "read_file", "description": "Read a file from the repository. " * 60,
          "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]
SYSTEM = "You are a coding agent. Read files before changing them. " * 100


def tool_turn(step: int, calls: int = 12) -> list[dict[str, Any]]:
    uses = [{"type": "tool_use", "id": f"toolu_{step}_{i}", "name": "read_file",
             "input": {"path": f"src/module_{step}_{i}.py"}} for i in range(calls)]
    results = [{"type": "tool_result", "tool_use_id": f"toolu_{step}_{i}",
                "content": f"# module {step}.{i}\n" + "def f():\n    return 1\n" * 20}
               for i in range(calls)]
    return [{"role": "assistant", "content": uses}, {"role": "user", "content": results}]


def start_redis() -> tuple[subprocess.Popen[bytes], str] | None:
    """A throwaway redis-server on a free port, or None when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    process.kill()
    return None


def run(clock: ManualClock, workers: list[CacheState], label: str) -> None:
    print(f"-- {label}")
    history: list[dict[str, Any]] = [{"role": "user", "content": "Refactor the parser module."}]
    with AnthropicServer(clock=clock) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="offline", max_retries=0)
        for step in range(5):
            worker = step % len(workers)  # the load balancer's choice
            state = workers[worker]
            prompt = (PromptBuilder("claude-sonnet-4-6").add_tools(TOOLS).add_system(SYSTEM)
                      .add_messages(history).set_params(max_tokens=1024).build())
            plan = optimize(prompt, state=state)
            response = client.messages.create(**render_anthropic(prompt, plan))
            u = response.usage
            record_sent(state, prompt, plan, read_tokens=u.cache_read_input_tokens)
            how = ("" if step == 0 else " (previous step's prefix assumed: never seen here)"
                   if any("Assumed" in w for w in plan.warnings) else
                   " (previous step's prefix known)")
            print(f"step {step} on worker {worker}: read {u.cache_read_input_tokens:>6,}, "
                  f"write {u.cache_creation_input_tokens:>6,}{how}")
            history += tool_turn(step)
            clock.advance(15)


def main() -> None:
    clock = ManualClock(0.0)
    run(clock, [CacheState(clock=clock) for _ in range(3)], "three workers, private states")
    redis = start_redis()
    if redis is None:
        print("redis-server not installed: skipping the shared store")
        return
    process, url = redis
    try:
        from promptcache.state_redis import RedisStateStore

        workers = [CacheState(clock=clock, shared=RedisStateStore(url, timeout=0.5))
                   for _ in range(3)]
        run(clock, workers, "three workers sharing a Redis store")
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
