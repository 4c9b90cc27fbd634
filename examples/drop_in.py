"""Drop-in caching: keep your SDK code, add one ``wrap`` call, and it caches. Offline.

The same few lines as each SDK's quick start (a long system prompt, a conversation that grows)
run against the loopback servers in ``promptcache.testing`` through the real ``anthropic``,
``openai`` and ``google-genai`` clients: first unwrapped, then wrapped. The only difference is
the ``wrap(...)`` line; the wrapped client reads the prompt from cache from its second turn on,
and ``client.promptcache.ledger`` adds up what the calls cost.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types

from promptcache import CacheState, wrap
from promptcache.clock import ManualClock
from promptcache.testing import AnthropicServer, GeminiServer, OpenAIServer

SYSTEM = "You are a support agent for the Acme router. Answer from the manual. " * 200
QUESTIONS = ["How do I reset it?", "And update the firmware?", "Which light shows it worked?"]


def claude_chat(client: anthropic.Anthropic) -> list[int]:
    """Written as in the anthropic quick start: no promptcache in here."""
    messages: list[dict[str, Any]] = []
    reads = []
    for question in QUESTIONS:
        messages.append({"role": "user", "content": question})
        message = client.messages.create(model="claude-sonnet-4-5", max_tokens=1024,
                                         system=SYSTEM, messages=messages)
        messages.append({"role": "assistant", "content": message.content})
        reads.append(message.usage.cache_read_input_tokens)
    return reads


def gpt_chat(client: openai.OpenAI) -> list[int]:
    """Written as in the openai quick start."""
    messages: list[Any] = [{"role": "developer", "content": SYSTEM}]
    reads = []
    for question in QUESTIONS:
        messages.append({"role": "user", "content": question})
        completion = client.chat.completions.create(model="gpt-5", messages=messages)
        messages.append(completion.choices[0].message)
        details = completion.usage.prompt_tokens_details if completion.usage else None
        reads.append(details.cached_tokens or 0 if details else 0)
    return reads


def gemini_chat(client: genai.Client) -> list[int]:
    """Written as in the google-genai quick start."""
    config = types.GenerateContentConfig(system_instruction=SYSTEM)
    reads = []
    for question in QUESTIONS:
        response = client.models.generate_content(model="gemini-2.5-flash", contents=question,
                                                  config=config)
        usage = response.usage_metadata
        reads.append(usage.cached_content_token_count or 0 if usage else 0)
    return reads


def show(name: str, before: list[int], after: list[int], client: Any) -> None:
    totals = client.promptcache.ledger.totals()
    print(f"{name}: tokens read from cache per turn, unwrapped {before} -> wrapped {after}")
    print(f"    ledger: {totals.calls} calls, billed ${totals.billed:.5f} "
          f"(uncached ${totals.uncached:.5f})")


def main() -> None:
    with AnthropicServer(clock=ManualClock()) as server:
        before = claude_chat(anthropic.Anthropic(base_url=server.url, api_key="test"))
    with AnthropicServer(clock=ManualClock()) as server:
        client = wrap(anthropic.Anthropic(base_url=server.url, api_key="test"),
                      state=CacheState())
        show("anthropic", before, claude_chat(client), client)
        plan = client.promptcache.last.plan
        if plan is not None:
            print("    last request's breakpoints: "
                  + ", ".join(f"{p.path} ({p.ttl})" for p in plan.placements))

    # OpenAI and Gemini cache long prefixes by themselves; the wrapper adds the routing key and
    # the retention (OpenAI), plans what will be cached, and keeps the ledger.
    with OpenAIServer(clock=ManualClock()) as server:
        before = gpt_chat(openai.OpenAI(base_url=server.url + "/v1", api_key="test"))
    with OpenAIServer(clock=ManualClock()) as server:
        gpt = wrap(openai.OpenAI(base_url=server.url + "/v1", api_key="test"), state=CacheState())
        show("openai", before, gpt_chat(gpt), gpt)
        sent = server.requests[-1].json()
        print(f"    sent prompt_cache_key={sent.get('prompt_cache_key')} "
              f"prompt_cache_retention={sent.get('prompt_cache_retention')}")

    for wrapped in (False, True):
        with GeminiServer(clock=ManualClock()) as server:
            gem = genai.Client(api_key="test", http_options=types.HttpOptions(base_url=server.url))
            if not wrapped:
                before = gemini_chat(gem)
                continue
            wrap(gem, state=CacheState())
            show("gemini", before, gemini_chat(gem), gem)
            summary = gem.promptcache.last.summary  # type: ignore[attr-defined]
            if summary is not None:
                print(f"    plan: {summary.mode} caching, ~{summary.cached_prefix_tokens:,} "
                      "tokens cached when warm")


if __name__ == "__main__":
    main()
