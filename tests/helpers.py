"""Shared builders of realistic prompts for the tests."""

from __future__ import annotations

from typing import Any

from promptcache import PromptBuilder

WORDS = ["cache", "prefix", "token", "layer", "volatile", "static", "document", "request", "model",
         "breakpoint", "conversation", "assistant", "system", "tool", "result", "answer", "question"]


def text_of(tokens: int, seed: int = 0) -> str:
    """Deterministic prose of roughly ``tokens`` tokens (each word here is one cl100k token)."""
    return " ".join(WORDS[(i * 7 + seed) % len(WORDS)] for i in range(tokens))


def tool(name: str, size: int = 50) -> dict[str, Any]:
    return {"name": name, "description": text_of(size, seed=len(name)),
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}


def tool_turns(calls: int, seed: int = 0) -> list[dict[str, Any]]:
    """One assistant turn with ``calls`` tool_use blocks and the user turn with their results."""
    uses = [{"type": "tool_use", "id": f"toolu_{seed}_{i}", "name": "search",
             "input": {"q": f"query {seed} {i}"}} for i in range(calls)]
    results = [{"type": "tool_result", "tool_use_id": f"toolu_{seed}_{i}",
                "content": text_of(40, seed=seed + i)} for i in range(calls)]
    return [{"role": "assistant", "content": uses}, {"role": "user", "content": results}]


def chat_builder(model: str = "claude-sonnet-4-6", system_tokens: int = 2_000,
                 history_turns: int = 0) -> PromptBuilder:
    b = PromptBuilder(model).add_tools([tool("search"), tool("fetch")])
    b.add_system(text_of(system_tokens)).set_params(max_tokens=256)
    for t in range(history_turns):
        b.add_messages([{"role": "user", "content": f"question {t} " + text_of(60, t)},
                        {"role": "assistant", "content": f"answer {t} " + text_of(80, t)}])
    return b


def platform_client(url: str, platform: str) -> tuple[Any, str]:
    """An ``AnthropicBedrock`` or ``AnthropicVertex`` client on a loopback server at ``url``,
    with a Sonnet 4.5 model id as that platform spells it."""
    import anthropic

    if platform == "bedrock":
        return (anthropic.AnthropicBedrock(api_key="test", aws_region="us-east-1", base_url=url,
                                           max_retries=0),
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    return (anthropic.AnthropicVertex(region="us-east5", project_id="proj", access_token="token",
                                      base_url=url + "/v1", max_retries=0),
            "claude-sonnet-4-5@20250929")


def claude_client(server: Any, *, api_key: str = "test", is_async: bool = False) -> Any:
    """The real Anthropic client on a loopback ``server``, without retries (a fault shows at once)."""
    import anthropic

    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(base_url=server.url, api_key=api_key, max_retries=0)


def openai_client(server: Any, *, api_key: str = "test", is_async: bool = False) -> Any:
    """The real OpenAI client on a loopback ``server`` (its API under ``/v1``), without retries."""
    import openai

    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return cls(base_url=server.url + "/v1", api_key=api_key, max_retries=0)
