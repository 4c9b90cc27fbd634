"""OpenTelemetry: a ``promptcache`` span per call, with the GenAI semantic conventions' cache
attributes and the plan's ``promptcache.*`` ones, recorded by the OpenTelemetry SDK's in-memory
exporter through the real SDK clients against the loopback servers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from promptcache import CacheState
from promptcache.clock import ManualClock
from promptcache.dropin import handle_of, wrap
from promptcache.testing import AnthropicServer, GeminiServer, OpenAIServer

MODEL = "claude-sonnet-4-5"
SYSTEM = "You are a meticulous support agent. " + " ".join(f"rule{i}" for i in range(1_500))
CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION = "gen_ai.usage.cache_creation.input_tokens"


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def ours(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans()
            if s.instrumentation_scope is not None and s.instrumentation_scope.name == "promptcache"]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def sdk_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == "anthropic.messages.create"]


def test_a_traced_anthropic_call_carries_the_plan_on_the_sdks_own_span(
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    """The anthropic SDK traces ``messages.create`` itself: promptcache's attributes go on that
    span (set from inside it), and promptcache opens none of its own."""
    provider, exporter = spans
    with AnthropicServer(clock=ManualClock()) as server:
        client = wrap(anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0,
                                          open_telemetry={"tracer_provider": provider}),
                      state=CacheState(clock=ManualClock()), tracer_provider=provider)
        for question in ("Where is my order?", "And my refund?"):
            client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM,
                                   messages=[{"role": "user", "content": question}])
    assert ours(exporter) == []
    first, second = (attrs(s) for s in sdk_spans(exporter))
    ledger = handle_of(client).ledger.records
    assert len(ledger) == 2 and handle_of(client).ledger.totals().calls == 2
    assert first[CACHE_CREATION] == ledger[0].usage.cache_write_tokens > 3_000
    assert first[CACHE_READ] == 0
    assert second[CACHE_READ] == ledger[1].usage.cache_read_tokens > 3_000
    assert second[CACHE_CREATION] == ledger[1].usage.cache_write_tokens
    assert second["gen_ai.provider.name"] == "anthropic" and second["gen_ai.request.model"] == MODEL
    assert second["promptcache.planned"] is True
    assert second["promptcache.breakpoints"] == len(second["promptcache.breakpoint.paths"]) >= 1
    assert second["promptcache.breakpoint.paths"][0] == "system[0]"
    assert set(second["promptcache.breakpoint.ttls"]) <= {"5m", "1h"}
    assert second["promptcache.expected.cache_read_tokens"] > 0
    assert second["promptcache.actual.cache_read_tokens"] == second[CACHE_READ]
    assert second["promptcache.cost_usd"] == pytest.approx(ledger[1].cost.billed)
    assert second["promptcache.saving_usd"] == pytest.approx(ledger[1].saving) and \
        second["promptcache.saving_usd"] > 0
    assert first["promptcache.saving_usd"] < 0  # the write premium, paid once
    assert "anthropic.request.id" in second or "gen_ai.response.id" in second  # the SDK's own


async def test_a_traced_async_anthropic_call_carries_the_plan_on_the_sdks_span(
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    with AnthropicServer(clock=ManualClock()) as server:
        client = wrap(anthropic.AsyncAnthropic(base_url=server.url, api_key="test", max_retries=0,
                                               open_telemetry={"tracer_provider": provider}),
                      state=CacheState(clock=ManualClock()))
        for _ in range(2):
            await client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM,
                                         messages=[{"role": "user", "content": "Hi"}])
    assert ours(exporter) == []
    second = attrs(sdk_spans(exporter)[1])
    assert second[CACHE_READ] > 3_000 and second["promptcache.expected.cache_read_tokens"] > 0
    assert handle_of(client).ledger.totals().calls == 2


def test_a_traced_anthropic_stream_gets_a_promptcache_span_beside_the_sdks(
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    """The SDK's span of a stream outlives the call: promptcache describes it in its own."""
    provider, exporter = spans
    with AnthropicServer(clock=ManualClock()) as server:
        client = wrap(anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0,
                                          open_telemetry={"tracer_provider": provider}),
                      state=CacheState(clock=ManualClock()), tracer_provider=provider)
        with client.messages.stream(model=MODEL, max_tokens=64, system=SYSTEM,
                                    messages=[{"role": "user", "content": "Hi"}]) as stream:
            "".join(stream.text_stream)
        client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM,
                               messages=[{"role": "user", "content": "Hi"}])
    (own,) = ours(exporter)
    assert own.name == "promptcache messages.stream" and attrs(own)[CACHE_CREATION] > 3_000
    streamed, created = sdk_spans(exporter)
    assert "promptcache.planned" not in attrs(streamed)
    assert attrs(created)[CACHE_READ] > 3_000 and attrs(created)["promptcache.planned"] is True


def test_a_miss_reason_reaches_the_span(spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    with AnthropicServer(clock=ManualClock()) as server:
        client = wrap(anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0),
                      state=CacheState(clock=ManualClock()), tracer_provider=provider,
                      diagnostics=True)
        for system in (SYSTEM, SYSTEM + " Be brief."):
            client.messages.create(model=MODEL, max_tokens=64, system=system,
                                   messages=[{"role": "user", "content": "Hi"}])
    first, second = (attrs(s) for s in ours(exporter))
    assert "promptcache.miss_reason" not in first
    assert second["promptcache.miss_reason"] == "system_changed"


def test_an_openai_call_gets_a_promptcache_span_with_the_genai_attributes(
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    with OpenAIServer(clock=ManualClock()) as server:
        client = wrap(openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0),
                      state=CacheState(clock=ManualClock()), tracer_provider=provider)
        for model in ("gpt-4o", "gpt-4o", "gpt-5.6"):
            client.responses.create(model=model, input=[{"role": "user", "content": SYSTEM}])
    assert [s.name for s in exporter.get_finished_spans()] == ["promptcache responses.create"] * 3
    _, second, unpriced = (attrs(s) for s in ours(exporter))
    assert second[CACHE_READ] > 3_000 and CACHE_CREATION in second
    assert second["gen_ai.usage.input_tokens"] >= second[CACHE_READ]
    assert second["gen_ai.provider.name"] == "openai"
    assert second["promptcache.cost_usd"] < second["promptcache.uncached_usd"]
    assert "promptcache.breakpoints" in second
    # GPT-5.6 has no confirmed price: no dollar figure is invented.
    assert "promptcache.cost_usd" not in unpriced and "promptcache.saving_usd" not in unpriced


def test_a_gemini_call_gets_a_span_too(spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    with GeminiServer(clock=ManualClock()) as server:
        client = wrap(genai.Client(api_key="x", http_options=types.HttpOptions(base_url=server.url)),
                      state=CacheState(clock=ManualClock()), tracer_provider=provider)
        client.models.generate_content(model="gemini-2.5-flash", contents=SYSTEM)
    (span,) = ours(exporter)
    assert attrs(span)["gen_ai.provider.name"] == "gemini"
    assert CACHE_READ in attrs(span) and CACHE_CREATION in attrs(span)


def test_spans_go_to_the_global_tracer_provider_by_default() -> None:
    code = textwrap.dedent("""
        import openai
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from promptcache.dropin import wrap
        from promptcache.testing import OpenAIServer

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        with OpenAIServer() as server:
            client = wrap(openai.OpenAI(base_url=server.url + "/v1", api_key="t", max_retries=0))
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        (span,) = exporter.get_finished_spans()
        assert span.name == "promptcache chat.completions.create", span.name
        assert "gen_ai.usage.cache_read.input_tokens" in span.attributes
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_tracer_is_asked_for_until_a_tracer_provider_is_set() -> None:
    """OpenTelemetry imported but no provider set: every span would be a no-op one, so a call
    makes none (no tracer, no attributes); once the application sets a provider, it does."""
    code = textwrap.dedent("""
        import openai
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from promptcache.dropin import handle_of, wrap
        from promptcache.testing import OpenAIServer

        asked = []
        get_tracer = trace.get_tracer
        trace.get_tracer = lambda *a, **k: asked.append(a) or get_tracer(*a, **k)
        exporter = InMemorySpanExporter()
        with OpenAIServer() as server:
            client = wrap(openai.OpenAI(base_url=server.url + "/v1", api_key="t", max_retries=0))
            ask = dict(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
            client.chat.completions.create(**ask)
            assert asked == [], asked
            assert handle_of(client).ledger.totals().calls == 1
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            client.chat.completions.create(**ask)
        assert len(asked) == 1, asked
        (span,) = exporter.get_finished_spans()
        assert span.name == "promptcache chat.completions.create", span.name
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_promptcache_does_not_import_opentelemetry() -> None:
    code = ("import sys, promptcache, promptcache.dropin, promptcache.otel; "
            "assert not [m for m in sys.modules if m.startswith('opentelemetry')], "
            "sorted(m for m in sys.modules if m.startswith('opentelemetry'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_wrapped_call_works_without_opentelemetry_installed() -> None:
    code = textwrap.dedent("""
        import sys
        sys.modules["opentelemetry"] = None  # as if not installed: any import of it fails
        import openai
        from promptcache.dropin import handle_of, wrap
        from promptcache.testing import OpenAIServer

        with OpenAIServer() as server:
            client = wrap(openai.OpenAI(base_url=server.url + "/v1", api_key="t", max_retries=0))
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert handle_of(client).ledger.totals().calls == 1
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_streamed_call_gets_its_span_when_the_stream_ends(
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    with AnthropicServer(clock=ManualClock()) as server:
        client = wrap(anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0),
                      state=CacheState(clock=ManualClock()), tracer_provider=provider)
        with client.messages.stream(model=MODEL, max_tokens=64, system=SYSTEM,
                                    messages=[{"role": "user", "content": "Hi"}]) as stream:
            assert ours(exporter) == []  # still streaming
            text = "".join(stream.text_stream)
    assert text
    (span,) = ours(exporter)
    assert span.name == "promptcache messages.stream"
    assert attrs(span)[CACHE_CREATION] > 3_000 and attrs(span)["promptcache.breakpoints"] >= 1


async def test_an_async_call_gets_a_span(spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    with AnthropicServer(clock=ManualClock()) as server:
        client = wrap(anthropic.AsyncAnthropic(base_url=server.url, api_key="test", max_retries=0),
                      state=CacheState(clock=ManualClock()), tracer_provider=provider)
        for _ in range(2):
            await client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM,
                                         messages=[{"role": "user", "content": "Hi"}])
    first, second = ours(exporter)
    assert attrs(second)[CACHE_READ] > 3_000
    assert first.start_time is not None and first.end_time is not None
    assert first.start_time <= first.end_time <= (second.start_time or 0)
