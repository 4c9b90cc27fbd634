"""Prefix warm-up through the real anthropic and google-genai clients against the loopback simulator."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from google import genai
from google.genai import types
from rich.console import Console

from promptcache.clock import ManualClock
from promptcache.errors import CacheWarning, PromptError, RuleViolation
from promptcache.limits import limits_for
from promptcache.providers.anthropic.scripted import ScriptedAnthropicServer
from promptcache.testing import GeminiServer
from promptcache.warmup import (
    SingleFlight,
    WarmupResult,
    prefix_only_request,
    prepare,
    warm_up,
    warm_up_batch,
    warm_up_gemini,
    warm_up_sync,
)
from tests.helpers import text_of

MODEL = "claude-sonnet-4-6"
PREFIX = text_of(8_000)


def requests(n: int = 32, **extra: Any) -> list[dict[str, Any]]:
    return [{"model": MODEL, "max_tokens": 64, "system": PREFIX, **extra,
             "messages": [{"role": "user", "content": f"question {i}: " + text_of(30, i)}]}
            for i in range(n)]


@pytest.fixture
def server() -> Iterator[ScriptedAnthropicServer]:
    # A 20 ms time to first byte: concurrent requests on a cold prefix really overlap.
    with ScriptedAnthropicServer(clock=ManualClock(), response_delay=0.02) as srv:
        yield srv


def ideal_usd(result: WarmupResult) -> float:
    """One write of the shared prefix, 31 reads of it, the rest of each request as billed."""
    lim = limits_for(MODEL)
    assert lim.input_price is not None and lim.output_price is not None
    prefix = result.prefix.tokens
    n = len(result.responses)
    u = result.usage
    rest = u.prompt_tokens - n * prefix - (prefix if result.warm_response is not None else 0)
    units = prefix * 1.25 + (n - 1) * prefix * 0.1 + rest
    return (units * lim.input_price + u.output_tokens * lim.output_price) / 1e6


async def test_warm_up_of_32_requests_pays_one_write(server: ScriptedAnthropicServer) -> None:
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="t", max_retries=0)
    result = await warm_up(client, requests(), concurrency=32, progress=False, flights=SingleFlight())
    await client.close()
    assert result.outcome == "first" and result.writes == 1
    assert result.usage.cache_read_tokens == 31 * result.prefix.tokens
    assert result.cost_usd == pytest.approx(ideal_usd(result), rel=0.05)
    assert [r.content[0].text for r in result.responses] == ["Simulated reply."] * 32


def test_a_naive_fan_out_pays_many_writes() -> None:
    with ScriptedAnthropicServer(clock=ManualClock(), response_delay=0.2) as slow:
        client = anthropic.Anthropic(base_url=slow.url, api_key="t", max_retries=0)
        naive = warm_up_sync(client, requests(), mode="none", concurrency=32, progress=False)
    assert naive.writes >= 8
    assert naive.cost_usd is not None and naive.cost_usd > 2 * ideal_usd(naive)


def test_sync_warm_up_streams_the_leader_then_fans_out(server: ScriptedAnthropicServer) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    result = warm_up_sync(client, requests(12), concurrency=4, progress=False, flights=SingleFlight())
    assert result.writes == 1 and len(result.responses) == 12
    assert server.requests[0].json()["stream"] is True
    assert result.cost_usd == pytest.approx(ideal_usd(result), rel=0.05)


def test_prefix_mode_writes_with_max_tokens_0(server: ScriptedAnthropicServer) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    result = warm_up_sync(client, requests(8), mode="prefix", progress=False, flights=SingleFlight())
    warm = server.requests[0].json()
    assert warm["max_tokens"] == 0 and warm["messages"] == [{"role": "user", "content": "."}]
    assert result.warm_response.content == [] and result.writes == 1
    assert all(u.cache_read_tokens == result.prefix.tokens for u in result.per_request)


async def test_concurrent_callers_share_one_warm_up(server: ScriptedAnthropicServer) -> None:
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="t", max_retries=0)
    flights = SingleFlight()
    one, two = await asyncio.gather(
        warm_up(client, requests(8), progress=False, flights=flights),
        warm_up(client, requests(16)[8:], progress=False, flights=flights))
    await client.close()
    assert sorted([one.outcome, two.outcome]) == ["first", "waited"]
    assert one.writes + two.writes == 1
    assert flights.in_flight() == 0


def test_a_known_warm_prefix_skips_the_warm_up(server: ScriptedAnthropicServer) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    flights = SingleFlight(state=None)
    warm_up_sync(client, requests(4), progress=False, flights=flights)
    again = warm_up_sync(client, requests(8)[4:], progress=False, flights=flights)
    assert again.outcome == "already-warm" and again.writes == 0


def test_a_failed_leader_releases_the_flight() -> None:
    with ScriptedAnthropicServer() as srv:
        url = srv.url
    flights = SingleFlight()
    client = anthropic.Anthropic(base_url=url, api_key="t", max_retries=0)
    with pytest.raises(anthropic.APIConnectionError):
        warm_up_sync(client, requests(4), progress=False, flights=flights)
    assert flights.in_flight() == 0


def test_the_progress_bar_reports_every_request(server: ScriptedAnthropicServer) -> None:
    out = io.StringIO()
    client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    warm_up_sync(client, requests(5), progress=True, flights=SingleFlight(),
                 console=Console(file=out, width=80))
    assert "5/5" in out.getvalue()


# -- the shared prefix -------------------------------------------------------------------------


def test_an_existing_marker_on_the_shared_prefix_is_kept() -> None:
    marked = [{**r, "system": [{"type": "text", "text": PREFIX, "cache_control": {"type": "ephemeral"}}]}
              for r in requests(3)]
    prepared, prefix = prepare(marked)
    assert not prefix.added and prefix.path == "system[0]" and prepared == marked


def test_a_missing_marker_is_added_at_the_end_of_the_shared_prefix() -> None:
    prepared, prefix = prepare(requests(3))
    assert prefix.added and prefix.path == "system[0]" and prefix.tokens > 8_000
    assert prepared[2]["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}


def test_the_prefix_only_request_is_cut_after_the_shared_prefix() -> None:
    history = [{"role": "user", "content": PREFIX}, {"role": "assistant", "content": "ok"}]
    reqs = [{"model": MODEL, "max_tokens": 9, "stream": True,
             "messages": [*history, {"role": "user", "content": f"q{i}"}]} for i in range(2)]
    prepared, prefix = prepare(reqs)
    assert prefix.path == "messages[1].content[0]"
    cut = prefix_only_request(prepared[0], prefix)
    assert cut["max_tokens"] == 0 and "stream" not in cut and len(cut["messages"]) == 2


def test_requests_without_a_cacheable_shared_prefix_are_refused() -> None:
    with pytest.raises(PromptError, match="nothing to warm"):
        prepare([{"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": q}]}
                 for q in ("a", "b")])


def test_a_full_breakpoint_budget_is_refused_with_the_path() -> None:
    eph = {"type": "ephemeral"}
    full = [{"model": MODEL, "max_tokens": 5,
             "system": [{"type": "text", "text": PREFIX}] + [
                 {"type": "text", "text": f"part {k}", "cache_control": eph} for k in range(4)],
             "messages": [{"role": "user", "content": f"q{i}"}]} for i in range(2)]
    with pytest.raises(RuleViolation) as e:
        prepare([*full[:1], {**full[1], "system": [full[1]["system"][0]]}])
    assert e.value.rule == "max-breakpoints" and e.value.path == "requests[0].system[0]"


# -- batches and Gemini -----------------------------------------------------------------------------


def test_batches_send_one_request_with_a_1h_breakpoint_then_the_rest(
        server: ScriptedAnthropicServer) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    result = warm_up_batch(client, requests(10), sleep=lambda s: None)
    batches = [r.json() for r in server.requests if r.path == "/v1/messages/batches"]
    assert [len(b["requests"]) for b in batches] == [1, 9]
    assert batches[0]["requests"][0]["params"]["system"][0]["cache_control"]["ttl"] == "1h"
    assert result.usage.cache_write_1h_tokens == result.prefix.tokens
    assert result.usage.cache_read_tokens == 9 * result.prefix.tokens
    assert list(result.results) == [f"req-{i}" for i in range(10)]


def test_a_batch_is_priced_at_half_the_standard_rate_for_its_model(
        server: ScriptedAnthropicServer) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    result = warm_up_batch(client, requests(4), sleep=lambda s: None)
    assert result.usage.model == MODEL and result.usage.provider == "anthropic"
    u, lim = result.usage, limits_for(MODEL)
    assert lim.input_price is not None and lim.output_price is not None
    standard = (u.input_tokens + u.cache_write_1h_tokens * 2.0 + u.cache_write_5m_tokens * 1.25
                + u.cache_read_tokens * 0.1) * lim.input_price / 1e6 \
        + u.output_tokens * lim.output_price / 1e6
    assert u.cache_read_tokens > 0 and result.cost_usd == pytest.approx(standard * 0.5)


async def test_gemini_creates_the_cache_once_and_fans_out() -> None:
    with GeminiServer(clock=ManualClock()) as srv:
        # An explicit httpx2 client: google-genai's aiohttp session trips aiohttp's deprecation.
        async with httpx2.AsyncClient() as http:
            client = genai.Client(api_key="t", http_options=types.HttpOptions(
                base_url=srv.url, api_version="v1beta", httpx_async_client=http))
            result = await warm_up_gemini(
                client, model="gemini-2.5-flash", contents=[PREFIX], system_instruction="Be brief.",
                requests=[f"question {i}" for i in range(6)], progress=False)
        creates = [r for r in srv.requests if r.path.endswith("/cachedContents")]
        assert len(creates) == 1
        bodies = [r.json() for r in srv.requests if r.path.endswith(":generateContent")]
        assert all(b["cachedContent"] == result.cache_name and "systemInstruction" not in b
                   for b in bodies)
        assert result.cached_tokens >= 6 * 8_000


# -- single-flight across callers and clients; fallbacks (issues 14, 15) ---------------------------


async def test_64_callers_with_one_request_each_share_one_write_of_the_common_prefix(
        server: ScriptedAnthropicServer) -> None:
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="t", max_retries=0)
    flights = SingleFlight()
    calls = [warm_up(client, [r], progress=False, flights=flights) for r in requests(64)]
    results = await asyncio.gather(*calls)
    await client.close()
    leaders = [r for r in results if r.outcome == "first"]
    assert len(leaders) < 64 and len(leaders) <= 2
    system_tokens = server.simulator.positions(requests(1)[0])[0].end
    reads = sum(r.usage.cache_read_tokens for r in results)
    assert reads >= (64 - len(leaders)) * system_tokens
    assert flights.in_flight() == 0


def test_another_client_identity_does_not_share_a_warm_prefix(
        server: ScriptedAnthropicServer) -> None:
    flights = SingleFlight()
    one = anthropic.Anthropic(base_url=server.url, api_key="key-one", max_retries=0)
    two = anthropic.Anthropic(base_url=server.url, api_key="key-two", max_retries=0)
    warm_up_sync(one, requests(4), progress=False, flights=flights)
    again = warm_up_sync(one, requests(8)[4:], progress=False, flights=flights)
    other = warm_up_sync(two, requests(8)[4:], progress=False, flights=flights)
    assert again.outcome == "already-warm"
    assert other.outcome == "first"


def test_requests_below_the_minimum_are_sent_as_they_are(server: ScriptedAnthropicServer) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    short = [{"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": q}]}
             for q in ("a", "b", "c")]
    with pytest.warns(CacheWarning, match="sent as they are"):
        result = warm_up_sync(client, short, progress=False, flights=SingleFlight())
    assert result.outcome == "not-warmed" and result.prefix is None and result.fallback
    # Sent concurrently, so in any order; each exactly as written.
    sent = sorted((r.json() for r in server.requests), key=lambda r: r["messages"][0]["content"])
    assert sent == short


def test_prefix_mode_drops_thinking_when_the_prefix_ends_before_the_messages(
        server: ScriptedAnthropicServer) -> None:
    """Thinking settings invalidate the messages level only, so a system prefix is written the
    same without them; the API refuses max_tokens=0 with thinking on."""
    client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    thinking = {"type": "enabled", "budget_tokens": 1_024}
    result = warm_up_sync(client, requests(4, thinking=thinking), mode="prefix", progress=False,
                          flights=SingleFlight())
    warm = server.requests[0].json()
    assert warm["max_tokens"] == 0 and "thinking" not in warm
    assert result.outcome == "prefix" and not result.fallback and result.prefix is not None
    assert all(u.cache_read_tokens == result.prefix.tokens for u in result.per_request)


def test_prefix_mode_falls_back_to_the_first_request_with_structured_outputs(
        server: ScriptedAnthropicServer) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    structured = {"format": {"type": "json_schema", "schema": {"type": "object"}}}
    with pytest.warns(CacheWarning, match="output_config.format"):
        result = warm_up_sync(client, requests(4, output_config=structured), mode="prefix",
                              progress=False, flights=SingleFlight())
    assert result.outcome == "first" and "output_config.format" in result.fallback
    assert all(r.json()["max_tokens"] != 0 for r in server.requests)
    assert result.writes == 1


def test_prefix_mode_falls_back_when_a_forced_tool_choice_changes_the_prefix(
        server: ScriptedAnthropicServer) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    history = [{"role": "user", "content": PREFIX}, {"role": "assistant", "content": "ok"}]
    tool = {"name": "lookup", "description": "Look it up.",
            "input_schema": {"type": "object", "properties": {}}}
    reqs = [{"model": MODEL, "max_tokens": 16, "tools": [tool],
             "tool_choice": {"type": "tool", "name": "lookup"},
             "messages": [*history, {"role": "user", "content": f"q{i}"}]} for i in range(3)]
    with pytest.warns(CacheWarning, match="tool_choice"):
        result = warm_up_sync(client, reqs, mode="prefix", progress=False, flights=SingleFlight())
    assert result.outcome == "first" and result.fallback
    assert all(r.json()["max_tokens"] != 0 for r in server.requests)
