"""wrap(client) on openai and google-genai clients: quick-start code reads from cache on turn two.

Real ``openai`` and ``google-genai`` clients against the loopback servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from google import genai
from google.genai import types

from promptcache import CacheState
from promptcache.clock import ManualClock
from promptcache.dropin import UnplannedRequestWarning, wrap
from promptcache.testing import GeminiServer, OpenAIServer

INSTRUCTIONS = "You are a careful assistant. " + " ".join(f"rule{i}" for i in range(2_500))


@pytest.fixture
def oai() -> Iterator[OpenAIServer]:
    with OpenAIServer(clock=ManualClock()) as s:
        yield s


@pytest.fixture
def gem() -> Iterator[GeminiServer]:
    with GeminiServer(clock=ManualClock()) as s:
        yield s


def openai_client(server: OpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0)


def gemini_client(server: GeminiServer) -> genai.Client:
    return genai.Client(api_key="x", http_options=types.HttpOptions(base_url=server.url))


def test_openai_chat_quick_start_reads_from_cache_on_its_second_turn(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    messages: list[Any] = [{"role": "developer", "content": INSTRUCTIONS}]
    cached = []
    for question in ["Write a haiku about recursion.", "Another one."]:
        messages.append({"role": "user", "content": question})
        completion = client.chat.completions.create(model="gpt-5", messages=messages)
        messages.append(completion.choices[0].message)
        cached.append(completion.usage.prompt_tokens_details.cached_tokens)  # type: ignore[union-attr]
    assert cached[0] == 0 and cached[1] > 4_000
    sent = oai.requests[-1].json()
    assert sent["prompt_cache_key"].startswith("pc-") and "prompt_cache_retention" in sent
    assert sent["messages"][2]["content"] == "Simulated reply."
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 2 and totals.cache_read_tokens == cached[1]
    assert client.promptcache.unplanned == 0


def test_openai_settings_given_by_the_caller_win(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    client.chat.completions.create(model="gpt-5", prompt_cache_key="mine", messages=[
        {"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": "hi"}])
    assert oai.requests[-1].json()["prompt_cache_key"] == "mine"


def test_openai_responses_quick_start_reads_from_cache(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    first = client.responses.create(model="gpt-5", instructions=INSTRUCTIONS,
                                    input="Write a one-sentence bedtime story about a unicorn.")
    second = client.responses.create(model="gpt-5", instructions=INSTRUCTIONS,
                                     input="And one about a dragon.")
    assert first.output_text == "Simulated reply."
    assert second.usage is not None and second.usage.input_tokens_details.cached_tokens > 4_000
    assert client.promptcache.ledger.totals().calls == 2


def test_openai_streams_account_their_usage(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    request: dict[str, Any] = {"model": "gpt-5", "messages": [
        {"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": "hi"}]}
    for _ in range(2):
        chunks = list(client.chat.completions.create(**request, stream=True,
                                                     stream_options={"include_usage": True}))
    events = list(client.responses.create(model="gpt-5", instructions=INSTRUCTIONS, input="hi",
                                          stream=True))
    assert chunks[-1].usage is not None and events[-1].type == "response.completed"
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 3 and totals.cache_read_tokens > 4_000


async def test_async_openai_client(oai: OpenAIServer) -> None:
    client = wrap(openai.AsyncOpenAI(base_url=oai.url + "/v1", api_key="test", max_retries=0),
                  state=CacheState())
    for _ in range(2):
        completion = await client.chat.completions.create(model="gpt-5", messages=[
            {"role": "developer", "content": INSTRUCTIONS}, {"role": "user", "content": "hi"}])
    await client.close()
    assert completion.usage.prompt_tokens_details.cached_tokens > 4_000  # type: ignore[union-attr]


def test_openai_unplannable_request_goes_as_written(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    request = {"model": "gpt-5", "messages": [{"role": "user", "content": [audio]}]}
    with pytest.warns(UnplannedRequestWarning, match="input_audio"):
        client.chat.completions.create(**request)
    assert oai.requests[-1].json() == request


def test_gemini_quick_start_reads_from_cache_on_its_second_turn(gem: GeminiServer) -> None:
    client = wrap(gemini_client(gem), state=CacheState())
    config = types.GenerateContentConfig(system_instruction=INSTRUCTIONS)
    first = client.models.generate_content(model="gemini-2.5-flash",
                                           contents="Explain how AI works in a few words",
                                           config=config)
    second = client.models.generate_content(model="gemini-2.5-flash",
                                            contents="Explain how caching works", config=config)
    assert first.text == "Simulated reply."
    assert second.usage_metadata is not None and second.usage_metadata.cached_content_token_count
    summary = client.promptcache.last.summary
    assert summary is not None and summary.provider == "gemini" and summary.mode == "implicit"
    totals = client.promptcache.ledger.totals()
    assert totals.calls == 2 and totals.cache_read_tokens > 4_000


def test_gemini_stream_and_chat_history_objects(gem: GeminiServer) -> None:
    client = wrap(gemini_client(gem), state=CacheState())
    config = types.GenerateContentConfig(system_instruction=INSTRUCTIONS)
    history: list[Any] = [types.Content(role="user", parts=[types.Part(text="hi")])]
    reply = client.models.generate_content(model="gemini-2.5-flash", contents=history,
                                           config=config)
    history += [reply.candidates[0].content, types.Content(  # type: ignore[index]
        role="user", parts=[types.Part(text="more")])]
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash",
                                                        contents=history, config=config))
    assert "".join(c.text or "" for c in chunks) == "Simulated reply."
    assert client.promptcache.unplanned == 0
    assert client.promptcache.ledger.totals().cache_read_tokens > 4_000


async def test_gemini_async_client(gem: GeminiServer) -> None:
    # An explicit httpx2 client: with aiohttp installed, google-genai would otherwise subclass
    # aiohttp.ClientSession, which aiohttp deprecates (a warning, hence an error here).
    async with httpx2.AsyncClient() as http:
        options = types.HttpOptions(base_url=gem.url, httpx_async_client=http)
        await _gemini_async_round_trip(wrap(genai.Client(api_key="x", http_options=options),
                                            state=CacheState()))


async def _gemini_async_round_trip(client: Any) -> None:
    config = {"system_instruction": INSTRUCTIONS}
    for question in ["a", "b"]:
        response = await client.aio.models.generate_content(model="gemini-2.5-flash",
                                                            contents=question, config=config)
    assert response.usage_metadata is not None
    assert response.usage_metadata.cached_content_token_count
    assert client.promptcache.ledger.totals().calls == 2


def test_openai_explicit_breakpoints_on_gpt_5_6_chat(oai: OpenAIServer) -> None:
    client = wrap(openai_client(oai), state=CacheState())
    messages: list[Any] = [{"role": "developer", "content": INSTRUCTIONS}]
    cached = []
    for question in ["a", "b"]:
        messages.append({"role": "user", "content": question})
        completion = client.chat.completions.create(model="gpt-5.6", messages=messages)
        messages.append({"role": "assistant", "content": completion.choices[0].message.content})
        cached.append(completion.usage.prompt_tokens_details.cached_tokens)  # type: ignore[union-attr]
    sent = oai.requests[-1].json()
    assert sent["prompt_cache_options"]["mode"] == "explicit"
    marked = [p for m in sent["messages"] if isinstance(m["content"], list) for p in m["content"]
              if "prompt_cache_breakpoint" in p]
    assert marked and cached[0] == 0 and cached[1] > 4_000
    texts = [p["text"] for m in sent["messages"] if isinstance(m["content"], list)
             for p in m["content"]]
    assert texts == [INSTRUCTIONS, "a", "b"]
