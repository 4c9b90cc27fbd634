"""An agent tool loop with ChatSession.run: every step adds 14 tool calls and their results.

The provider only looks 20 blocks back from a breakpoint, and each step adds 28 blocks, so a
single marker at the end would miss the previous step's cache every time. The session's
optimizer places a lookback bridge instead; this example prints what each step read from the
cache, and the whole run's bill. Runs offline: a scripted loopback server plays the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anthropic

from promptcache.clock import ManualClock
from promptcache.plan import Plan
from promptcache.session import ChatSession, ToolCall
from promptcache.testing import ScriptedAnthropicServer

TOOLS = [{"name": "read_file", "description": "Read a file from the repository. " * 60,
          "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]
SYSTEM = "You are a coding agent. Read files before changing them. " * 100
STEPS, CALLS = 5, 14


def model(body: Mapping[str, Any]) -> Any:
    """The fake model: reads 14 files per step for five steps, then answers."""
    step = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if step >= STEPS:
        return "The parser is refactored."
    return [{"type": "tool_use", "id": f"toolu_{step}_{i}", "name": "read_file",
             "input": {"path": f"src/module_{step}_{i}.py"}} for i in range(CALLS)]


def read_file(call: ToolCall) -> str:
    return f"# {call.input['path']}\n" + "def f():\n    return 1\n" * 20


def main() -> None:
    clock = ManualClock(0.0)
    with ScriptedAnthropicServer(clock=clock, responder=model) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="offline", max_retries=0)
        chat = ChatSession(client, model="claude-sonnet-4-6", tools=TOOLS, system=SYSTEM,
                           clock=clock)
        reply = chat.run("Refactor the parser module.", read_file)
        for step, s in enumerate(reply.steps):
            u = s.usage
            marks = [p.path for p in s.plan.placements] if isinstance(s.plan, Plan) else []
            print(f"step {step}: read {u.cache_read_tokens:>6,}, write {u.cache_write_tokens:>6,}, "
                  f"marks {marks}")
        u = reply.usage
        print(f"whole run ({len(reply.steps)} requests): read {u.cache_read_tokens:,}, "
              f"written {u.cache_write_tokens:,}, ${reply.cost_usd:.4f} -> {reply.text}")


if __name__ == "__main__":
    main()
