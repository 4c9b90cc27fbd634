"""An agent tool loop: every turn adds 14 tool calls and their results (28 blocks).

The provider only looks 20 blocks back from a breakpoint, so a single marker at the end would
miss the previous turn's cache on every step. promptcache places a lookback bridge instead;
this example prints what each turn read from the cache. Runs offline against the simulator.
"""

from __future__ import annotations

from typing import Any

import anthropic

from promptcache import CacheState, PromptBuilder, optimize, record_sent, render_anthropic
from promptcache.clock import ManualClock
from promptcache.testing import AnthropicServer

TOOLS = [{"name": "read_file", "description": "Read a file from the repository. " * 60,
          "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]
SYSTEM = "You are a coding agent. Read files before changing them. " * 100


def tool_turn(step: int, calls: int = 14) -> list[dict[str, Any]]:
    uses = [{"type": "tool_use", "id": f"toolu_{step}_{i}", "name": "read_file",
             "input": {"path": f"src/module_{step}_{i}.py"}} for i in range(calls)]
    results = [{"type": "tool_result", "tool_use_id": f"toolu_{step}_{i}",
                "content": f"# module {step}.{i}\n" + "def f():\n    return 1\n" * 20}
               for i in range(calls)]
    return [{"role": "assistant", "content": uses}, {"role": "user", "content": results}]


def main() -> None:
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    history: list[dict[str, Any]] = [{"role": "user", "content": "Refactor the parser module."}]
    with AnthropicServer(clock=clock) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="offline", max_retries=0)
        for step in range(6):
            b = PromptBuilder("claude-sonnet-4-6").add_tools(TOOLS).add_system(SYSTEM)
            prompt = b.add_messages(history).set_params(max_tokens=1024).build()
            plan = optimize(prompt, state=state)
            response = client.messages.create(**render_anthropic(prompt, plan))
            record_sent(state, prompt, plan)
            u = response.usage
            print(f"step {step}: {len(prompt.blocks):>3} blocks, read {u.cache_read_input_tokens:>6,}, "
                  f"write {u.cache_creation_input_tokens:>6,}, marks {[p.path for p in plan.placements]}")
            history += tool_turn(step)
            clock.advance(15)


if __name__ == "__main__":
    main()
