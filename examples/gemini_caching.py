"""Gemini explicit caching, managed: the cache is created when it pays, shared, extended, deleted.

A long manual is asked about many times: promptcache computes the break-even (storage per
token-hour against the discounted reads), creates one ``cachedContents`` resource named by the
prefix's fingerprint, references it from each request (without repeating the system instruction
or tools, which the API forbids), and deletes it at the end. A prompt reused twice an hour stays
on implicit caching. Runs offline against the loopback server.
"""

from __future__ import annotations

from google import genai
from google.genai import types

from promptcache import Prompt, PromptBuilder, Reuse
from promptcache.clock import ManualClock
from promptcache.gemini import GeminiCacheManager, parse_usage
from promptcache.testing import GeminiServer

MODEL = "gemini-2.5-flash"
MANUAL = "Section: the X200 pump. Prime it before first use; never run it dry. " * 250


def prompt(question: str, reuse: Reuse) -> Prompt:
    return (PromptBuilder("claude-sonnet-4-6").add_system(MANUAL, reuse=reuse)
            .add_user_turn(question).set_params(max_tokens=200).build())


def main() -> None:
    clock = ManualClock(1_700_000_000)
    with GeminiServer(clock=clock) as server:
        client = genai.Client(api_key="offline", http_options=types.HttpOptions(
            base_url=server.url, api_version="v1beta"))
        busy = Reuse(uses=500, interval=20)
        with GeminiCacheManager(client, clock=clock) as manager:
            for question in ("How do I prime it?", "Can it run dry?", "What is the X200?"):
                response, rendered = manager.generate_content(prompt(question, busy), model=MODEL)
                usage = parse_usage(response)
                print(f"{question:<20} {rendered.plan.mode:<8} read {usage.cache_read_tokens:>5,} "
                      f"of {usage.total_input_tokens:,} tokens")
                clock.advance(20)
            print(rendered.plan.explain())
            print("live caches:", len(server.simulator.list_caches()["cachedContents"]))
        print("after close:", len(server.simulator.list_caches()["cachedContents"]))
        hours = server.simulator.storage_token_hours()
        print(f"storage used: {hours:,.1f} token-hours")

        rare = manager.prepare(prompt("How do I prime it?", Reuse(uses=2, interval=3_600)),
                               model=MODEL, ttl=3_600)
        print("\nReused twice an hour:", rare.plan.mode, "-", rare.plan.notes[0])


if __name__ == "__main__":
    main()
