"""RAG with tools: stable tools and instructions, a document set that rotates, one question each.

Runs offline: the real ``anthropic`` client talks to promptcache's loopback simulator. Point
``base_url`` at nothing (and set ANTHROPIC_API_KEY) to run it against the real API.
"""

from __future__ import annotations

import anthropic

from promptcache import CacheState, Document, PromptBuilder, Reuse, optimize, record_sent, render_anthropic
from promptcache.clock import ManualClock
from promptcache.testing import AnthropicServer

TOOLS = [
    {"name": "search_kb", "description": "Search the knowledge base for passages. " * 40,
     "input_schema": {"type": "object", "properties": {"query": {"type": "string"}},
                      "required": ["query"]}},
    {"name": "open_ticket", "description": "Open a support ticket for a human agent. " * 40,
     "input_schema": {"type": "object", "properties": {"summary": {"type": "string"}}}},
]
INSTRUCTIONS = "You are the support assistant of ACME. Answer from the documents only. " * 120
DOCUMENT_SETS = [
    [Document(id=f"kb-{s}-{i}", title=f"Article {s}.{i}", text=f"Article {s}.{i}: " + "details " * 700)
     for i in range(3)]
    for s in range(3)
]
QUESTIONS = ["How do I reset my password?", "Can I change my plan?", "Where is my invoice?",
             "How do I add a user?", "Is there an API?", "How do I cancel?"]


def build(question: str, documents: list[Document]) -> PromptBuilder:
    b = PromptBuilder("claude-sonnet-4-6").add_tools(TOOLS).add_system(INSTRUCTIONS)
    # The retrieved set changes every two questions: its own layer, behind tools and system.
    b.add_documents(documents, reuse=Reuse(uses=2, interval=20))
    return b.add_user_turn(question).set_params(max_tokens=300)


def main() -> None:
    clock = ManualClock(0.0)
    state = CacheState(clock=clock)
    with AnthropicServer(clock=clock) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="offline", max_retries=0)
        for n, question in enumerate(QUESTIONS):
            prompt = build(question, DOCUMENT_SETS[n // 2 % len(DOCUMENT_SETS)]).build()
            plan = optimize(prompt, state=state)
            if n == 0:
                print(plan.explain(), end="\n\n")
            response = client.messages.create(**render_anthropic(prompt, plan))
            record_sent(state, prompt, plan)
            u = response.usage
            print(f"q{n}: read {u.cache_read_input_tokens:>6,}  write {u.cache_creation_input_tokens:>6,}"
                  f"  uncached {u.input_tokens:>4,}  marks {[p.path for p in plan.placements]}")
            clock.advance(20)


if __name__ == "__main__":
    main()
