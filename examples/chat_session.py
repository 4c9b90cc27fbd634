"""A chat session with incremental prompt caching, a tool loop and a history edit, offline.

Starts a loopback Anthropic server (promptcache.testing) with a manual clock, talks to it through
the real ``anthropic`` client, and prints what each turn read from the cache (for a tool loop, the
whole run: every step), what the session cost and saved, and what an edit of the history costs in
cache. Then the same conversation on OpenAI (chat completions and responses) and Gemini, through
their own SDK clients and loopback servers: one session API on every provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types

from promptcache.clock import ManualClock
from promptcache.session import ChatSession, ToolCall
from promptcache.testing import GeminiServer, OpenAIServer, ScriptedAnthropicServer

SYSTEM = "You are a support agent for the Acme router. Answer from the manual. " * 150
TOOLS = [{"name": "lookup", "description": "Look up a section of the router manual.",
          "input_schema": {"type": "object", "properties": {"section": {"type": "string"}}}}]


def reply(body: Mapping[str, Any]) -> Any:
    """The fake model: asks for two manual sections when a question mentions 'manual'."""
    last = body["messages"][-1]["content"]
    text = last if isinstance(last, str) else " ".join(b.get("text", "") for b in last)
    if "manual" in text:
        return [{"type": "tool_use", "id": f"toolu_{len(body['messages'])}_{i}", "name": "lookup",
                 "input": {"section": s}} for i, s in enumerate(("reset", "firmware"))]
    return "Hold the reset button for ten seconds, then update the firmware."


def lookup(call: ToolCall) -> str:
    return f"Section {call.input['section']}: " + "step " * 40


def main() -> None:
    clock = ManualClock()
    with ScriptedAnthropicServer(clock=clock, responder=reply) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="offline", max_retries=0)
        chat = ChatSession(client, model="claude-sonnet-4-6", tools=TOOLS, system=SYSTEM,
                           max_tokens=512, clock=clock)
        for question in ("My router keeps rebooting.", "What does the manual say?", "Thanks!"):
            answer = chat.run(question, lookup)
            u = answer.usage
            print(f"{question:<28} read {u.cache_read_tokens:>5,}  wrote {u.cache_write_tokens:>4,}"
                  f"  uncached {u.input_tokens:>3,}  -> {answer.text[:40]}")
            clock.advance(45)
        print(chat.stats.summary())

        cost = chat.remove_turn(0)  # drop the first question ...
        print("Edit:", cost.explanation)
        chat.remove_turn(0)  # ... and its answer, so roles alternate again
        miss = chat.send("One more question.").miss
        print(miss)


def other_providers() -> None:
    """The same three questions on OpenAI and Gemini: only the client changes."""
    answer = "Hold the reset button for ten seconds."
    questions = ("My router keeps rebooting.", "Which button?", "Thanks!")
    with OpenAIServer(reply=answer) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="offline", max_retries=0)
        for api in ("chat", "responses"):
            chat = ChatSession(client, model="gpt-5", system=SYSTEM, api=api)
            for question in questions:
                chat.send(question)
            print(f"openai {api:<10} {chat.stats.summary()}")
    with GeminiServer(reply=answer) as server:
        client = genai.Client(api_key="offline", http_options=types.HttpOptions(base_url=server.url))
        with ChatSession(client, model="gemini-2.5-flash", system=SYSTEM) as chat:
            for question in questions:
                chat.send(question)
            print(f"gemini ({chat.replies[-1].plan.mode} cache) {chat.stats.summary()}")


if __name__ == "__main__":
    main()
    other_providers()
