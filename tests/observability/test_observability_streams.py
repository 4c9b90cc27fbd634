"""The providers' own miss reasons on streamed calls: a streamed response is the one the next call
compares with, and the reason its final event carries reaches the miss report, the ledger and
the span, sync and async, ``stream=True`` and the SDKs' ``stream(...)`` helpers, through the real
SDK clients against the loopback servers."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from promptcache import CacheState
from promptcache.clock import ManualClock
from promptcache.diagnostics import ProviderReason
from promptcache.dropin import handle_of, wrap
from promptcache.testing import AnthropicServer, OpenAIServer

CLAUDE = "claude-sonnet-4-5"
GPT = "gpt-5.6"
SYSTEM = "You are a meticulous support agent. " + " ".join(f"rule{i}" for i in range(1_500))


def _wrapped(client: Any, **options: Any) -> Any:
    return wrap(client, state=CacheState(clock=ManualClock()), diagnostics=True, **options)


def claude(server: AnthropicServer, *, is_async: bool = False) -> Any:
    kind = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return _wrapped(kind(base_url=server.url, api_key="test", max_retries=0))


def gpt(server: OpenAIServer, *, is_async: bool = False, **options: Any) -> Any:
    kind = openai.AsyncOpenAI if is_async else openai.OpenAI
    return _wrapped(kind(base_url=server.url + "/v1", api_key="test", max_retries=0), **options)


def claude_request(system: str) -> dict[str, Any]:
    return {"model": CLAUDE, "max_tokens": 64, "system": system,
            "messages": [{"role": "user", "content": "Where is my order?"}]}


def gpt_request(text: str) -> dict[str, Any]:
    return {"model": GPT, "input": [{"role": "user", "content": text}]}


def assert_openai_miss(client: Any, server: OpenAIServer, first_id: str) -> None:
    """The second request compared with the first (streamed) response, and the provider's reason
    read from the second stream's final event reached the miss report and the ledger."""
    sent = server.requests[-1].json()
    assert sent["prompt_cache_options"]["comparison_response_id"] == first_id
    miss = handle_of(client).observer.last_miss
    assert miss is not None and miss.provider is not None
    assert (miss.provider.provider, miss.provider.outcome, miss.provider.reason) == (
        "openai", "miss", "input_changed")
    assert miss.provider.missed_tokens and miss.provider.missed_tokens > 3_000
    assert handle_of(client).ledger.records[-1].miss_reason == "input_changed"


def assert_anthropic_miss(client: Any, server: AnthropicServer, first_id: str) -> None:
    assert server.requests[-1].json()["diagnostics"] == {"previous_message_id": first_id}
    miss = handle_of(client).observer.last_miss
    assert miss is not None and miss.provider is not None
    assert miss.provider == ProviderReason(provider="anthropic", outcome="miss",
                                           reason="system_changed",
                                           missed_tokens=miss.provider.missed_tokens)
    assert miss.provider.missed_tokens and miss.provider.missed_tokens > 3_000
    assert miss.changed_path == "system[0]"
    assert handle_of(client).ledger.records[-1].miss_reason == "system_changed"


# -- OpenAI Responses -------------------------------------------------------------------------


def test_a_streamed_response_is_compared_with_and_its_diagnostics_parsed(
        openai_server: OpenAIServer) -> None:
    client = gpt(openai_server)
    first = list(client.responses.create(**gpt_request(SYSTEM), stream=True))
    first_id = next(e.response.id for e in first if e.type == "response.completed")
    events = list(client.responses.create(**gpt_request("Today: " + SYSTEM), stream=True))
    assert events[-1].type == "response.completed"
    assert_openai_miss(client, openai_server, first_id)


async def test_an_async_streamed_response_is_compared_with_and_its_diagnostics_parsed(
        openai_server: OpenAIServer) -> None:
    client = gpt(openai_server, is_async=True)
    first_id = None
    async for event in await client.responses.create(**gpt_request(SYSTEM), stream=True):
        if event.type == "response.completed":
            first_id = event.response.id
    assert first_id is not None
    async for _ in await client.responses.create(**gpt_request("Today: " + SYSTEM), stream=True):
        pass
    assert_openai_miss(client, openai_server, first_id)


def test_the_responses_stream_helper_is_compared_with_and_its_diagnostics_parsed(
        openai_server: OpenAIServer) -> None:
    client = gpt(openai_server)
    with client.responses.stream(**gpt_request(SYSTEM)) as stream:
        first = stream.get_final_response()
    with client.responses.stream(**gpt_request("Today: " + SYSTEM)) as stream:
        second = stream.get_final_response()
    assert second.prompt_cache_diagnostics is not None
    assert_openai_miss(client, openai_server, first.id)


async def test_the_async_responses_stream_helper_is_compared_with_and_its_diagnostics_parsed(
        openai_server: OpenAIServer) -> None:
    client = gpt(openai_server, is_async=True)
    async with client.responses.stream(**gpt_request(SYSTEM)) as stream:
        first = await stream.get_final_response()
    async with client.responses.stream(**gpt_request("Today: " + SYSTEM)) as stream:
        await stream.get_final_response()
    assert_openai_miss(client, openai_server, first.id)


def test_a_streamed_responses_miss_reason_reaches_its_span(openai_server: OpenAIServer) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = gpt(openai_server, tracer_provider=provider)
    for text in (SYSTEM, "Today: " + SYSTEM):
        for _ in client.responses.create(**gpt_request(text), stream=True):
            pass
    provider.shutdown()
    first, second = (dict(s.attributes or {}) for s in exporter.get_finished_spans())
    assert "promptcache.miss_reason" not in first
    assert second["promptcache.miss_reason"] == "input_changed"


# -- Anthropic Messages -----------------------------------------------------------------------


def test_a_streamed_message_is_compared_with_and_its_diagnostics_parsed(
        anthropic_server: AnthropicServer) -> None:
    client = claude(anthropic_server)
    events = list(client.messages.create(**claude_request(SYSTEM), stream=True))
    first_id = events[0].message.id
    for _ in client.messages.create(**claude_request(SYSTEM + " Be brief."), stream=True):
        pass
    assert_anthropic_miss(client, anthropic_server, first_id)


async def test_an_async_streamed_message_is_compared_with_and_its_diagnostics_parsed(
        anthropic_server: AnthropicServer) -> None:
    client = claude(anthropic_server, is_async=True)
    events = [e async for e in await client.messages.create(**claude_request(SYSTEM), stream=True)]
    first_id = events[0].message.id
    async for _ in await client.messages.create(**claude_request(SYSTEM + " Be brief."),
                                                stream=True):
        pass
    assert_anthropic_miss(client, anthropic_server, first_id)


def test_the_stream_helper_after_a_raw_stream_compares_with_the_raw_streams_message(
        anthropic_server: AnthropicServer) -> None:
    client = claude(anthropic_server)
    events = list(client.messages.create(**claude_request(SYSTEM), stream=True))  # to its end
    first_id = events[0].message.id
    with client.messages.stream(**claude_request(SYSTEM + " Be brief.")) as stream:
        stream.get_final_message()
    assert_anthropic_miss(client, anthropic_server, first_id)


async def test_the_async_stream_helper_after_a_raw_stream_compares_with_its_message(
        anthropic_server: AnthropicServer) -> None:
    client = claude(anthropic_server, is_async=True)
    events = [e async for e in await client.messages.create(**claude_request(SYSTEM), stream=True)]
    async with client.messages.stream(**claude_request(SYSTEM + " Be brief.")) as stream:
        await stream.get_final_message()
    assert_anthropic_miss(client, anthropic_server, events[0].message.id)
