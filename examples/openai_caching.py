"""One Prompt, rendered for OpenAI's chat completions and responses APIs, sent through the real client.

gpt-4o caches automatically: promptcache orders the prompt stable-first, derives a
``prompt_cache_key`` from the shared prefix and picks a retention. gpt-5.6 adds explicit
breakpoints, placed by the same optimizer as Anthropic's. Runs offline against the loopback server.
"""

from __future__ import annotations

import openai

from promptcache import PromptBuilder
from promptcache.clock import ManualClock
from promptcache.openai import parse_usage, render_openai_chat, render_openai_responses
from promptcache.testing import OpenAIServer

TOOLS = [{"name": "search_orders", "description": "Find a customer's orders. " * 20,
          "input_schema": {"type": "object", "properties": {"email": {"type": "string"}}}}]
POLICY = "You are a support agent for an online shop. Refunds within 30 days. " * 150


def prompt(question: str) -> PromptBuilder:
    return (PromptBuilder("claude-sonnet-4-6").add_tools(TOOLS).add_system(POLICY)
            .add_user_turn(question).set_params(max_tokens=200))


def main() -> None:
    with OpenAIServer(clock=ManualClock()) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="offline", max_retries=0)

        print("== gpt-4o, chat completions (automatic caching)")
        for question in ("Where is my order?", "Can I get a refund?"):
            rendered = render_openai_chat(prompt(question).build(), model="gpt-4o")
            usage = parse_usage(client.chat.completions.create(**rendered.kwargs))
            print(f"{question:<22} read {usage.cache_read_tokens:>5,} of "
                  f"{usage.total_input_tokens:,} prompt tokens")
        print(rendered.plan.explain())

        print("\n== gpt-5.6, responses (explicit breakpoints)")
        for question in ("Where is my order?", "Can I get a refund?"):
            rendered = render_openai_responses(prompt(question).build(), model="gpt-5.6")
            usage = parse_usage(client.responses.create(**rendered.kwargs))
            print(f"{question:<22} read {usage.cache_read_tokens:>5,}, wrote "
                  f"{usage.cache_write_tokens:>5,} of {usage.total_input_tokens:,} prompt tokens")
        print(rendered.plan.explain())


if __name__ == "__main__":
    main()
