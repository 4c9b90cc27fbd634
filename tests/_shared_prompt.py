"""One PromptBuilder prompt, rendered for every provider by the provider tests."""

from __future__ import annotations

from typing import Any

from promptcache import Document, Prompt, PromptBuilder, Reuse

from .helpers import text_of

WEATHER = {
    "name": "weather",
    "description": "Current weather for a city.",
    "input_schema": {"type": "object", "required": ["city"],
                     "properties": {"unit": {"type": "string", "enum": ["c", "f"]},
                                    "city": {"type": "string"}}},
}
CALC = {
    "name": "calculator",
    "description": "Evaluate an arithmetic expression.",
    "input_schema": {"properties": {"expr": {"type": "string"}}, "type": "object"},
}


def history() -> list[dict[str, Any]]:
    """A tool round trip, with a thinking block OpenAI and Gemini cannot take."""
    return [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Call the tool.", "signature": "sig"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"unit": "c", "city": "Paris"}},
        ]},
        {"role": "user",
         "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C, clear"}]},
        {"role": "assistant", "content": "It is 18C and clear in Paris."},
    ]


def shared_builder(model: str = "claude-sonnet-4-6", *, system_tokens: int = 1_800,
                   doc_tokens: int = 1_200, tools: tuple[dict[str, Any], ...] = (WEATHER, CALC),
                   reuse: Reuse | None = None, question: str = "And tomorrow?",
                   **builder: Any) -> PromptBuilder:
    b = PromptBuilder(model, **builder).add_tools(list(tools))
    b.add_system("You are a travel assistant. " + text_of(system_tokens), reuse=reuse)
    b.add_documents([Document(id="guide", title="Paris guide", text=text_of(doc_tokens, 3))])
    b.add_messages(history()).add_user_turn(question).set_params(max_tokens=256)
    return b


def shared_prompt(model: str = "claude-sonnet-4-6", **kwargs: Any) -> Prompt:
    return shared_builder(model, **kwargs).build()
