"""Why did my cache miss? Diff two requests, lint the culprit, check the fix. Offline.

A support bot puts "Current time: ..." at the top of its system prompt. Every call then writes a
new cache entry and reads nothing. ``diff_requests`` shows where two consecutive calls part,
``lint_request`` catches the cause in a single request, and the offline simulator confirms that
the fixed request is read from the cache.

Run: python examples/why_did_my_cache_miss.py
"""

from __future__ import annotations

from typing import Any

from promptcache.diagnostics import lint_request
from promptcache.diagnostics.diff import diff_requests
from promptcache.simulator import AnthropicCacheSimulator, ManualClock

MODEL = "claude-sonnet-4-5"
MANUAL = " ".join(f"Rule {i}: answer from the product manual, cite the section." for i in range(250))
TOOLS = [{"name": "lookup_order", "description": "Find an order by its id.",
          "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}}}]


def buggy(now: str, question: str) -> dict[str, Any]:
    """The timestamp sits ahead of the breakpoint, inside the cached prefix."""
    return {
        "model": MODEL, "max_tokens": 512, "tools": TOOLS,
        "system": [{"type": "text", "text": f"Current time: {now}"},
                   {"type": "text", "text": MANUAL, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": question}],
    }


def fixed(now: str, question: str) -> dict[str, Any]:
    """Same content; the timestamp moves after the breakpoint, into the user turn."""
    return {
        "model": MODEL, "max_tokens": 512, "tools": TOOLS,
        "system": [{"type": "text", "text": MANUAL, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": f"(Current time: {now})\n{question}"}],
    }


def reads(first: dict[str, Any], second: dict[str, Any]) -> int:
    """Cache-read tokens of ``second`` sent 30 s after ``first``, per the offline simulator."""
    sim = AnthropicCacheSimulator(clock=ManualClock(), response_start_delay=0)
    sim.create(first, now=0)
    return int(sim.create(second, now=30).usage["cache_read_input_tokens"])


def main() -> None:
    a = buggy("2026-11-23T10:00:00Z", "Where is my order?")
    b = buggy("2026-11-23T10:00:30Z", "Can I change the address?")

    print("== diff: the two calls the bill says missed ==")
    result = diff_requests(a, b)
    print(result.explain())
    assert not result.hit and result.change.path_b == "system[0]"

    print("\n== lint: the cause, found in one request ==")
    for finding in lint_request(a):
        print(f"[{finding.severity}] {finding.rule} at {finding.path}\n  {finding.message}\n"
              f"  fix: {finding.fix}")

    print("\n== after the fix ==")
    fa = fixed("2026-11-23T10:00:00Z", "Where is my order?")
    fb = fixed("2026-11-23T10:00:30Z", "Can I change the address?")
    after = diff_requests(fa, fb)
    print(after.explain())
    assert after.hit and lint_request(fa) == []

    before_reads, after_reads = reads(a, b), reads(fa, fb)
    print(f"\nSimulator: cache_read_input_tokens {before_reads:,} before the fix, "
          f"{after_reads:,} after.")
    assert before_reads == 0 < after_reads


if __name__ == "__main__":
    main()
