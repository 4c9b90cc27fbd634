"""The Gemini cache simulator: implicit prefix caching and the cachedContents resource."""

from __future__ import annotations

from typing import Any

import pytest

from promptcache.clock import ManualClock
from promptcache.simulator import CACHED_CONTENT_CONFLICT, GeminiCacheSimulator, SimulatedAPIError

MODEL = "gemini-2.5-flash"  # minimum 2,048
BIG = " ".join(f"w{i}" for i in range(1_500))  # ~3,500 tokens


def contents(*texts: str) -> list[dict[str, Any]]:
    return [{"role": "user", "parts": [{"text": t} for t in texts]}]


@pytest.fixture
def sim(clock: ManualClock) -> GeminiCacheSimulator:
    return GeminiCacheSimulator(clock=clock)


def new_cache(sim: GeminiCacheSimulator, **extra: Any) -> dict[str, Any]:
    return sim.create_cache({"model": f"models/{MODEL}", "contents": contents(BIG), **extra})


def test_implicit_cache_reads_a_shared_prefix(sim: GeminiCacheSimulator) -> None:
    sim.generate(MODEL, {"contents": contents(BIG, "q1")})
    second = sim.generate(MODEL, {"contents": contents(BIG, "q2")})
    assert 2_048 <= second.cached_tokens < second.prompt_tokens
    assert second.usage_metadata["cachedContentTokenCount"] == second.cached_tokens


def test_implicit_cache_ignores_prefixes_below_the_minimum(sim: GeminiCacheSimulator) -> None:
    short = " ".join(["w"] * 500)
    sim.generate(MODEL, {"contents": contents(short, "q1")})
    usage = sim.generate(MODEL, {"contents": contents(short, "q2")}).usage_metadata
    assert "cachedContentTokenCount" not in usage


def test_creating_a_cache_below_the_minimum_is_a_400(sim: GeminiCacheSimulator) -> None:
    with pytest.raises(SimulatedAPIError, match="too small") as info:
        sim.create_cache({"model": MODEL, "contents": contents("tiny")})
    assert info.value.body["error"]["status"] == "INVALID_ARGUMENT"


def test_a_cache_lives_one_hour_by_default(sim: GeminiCacheSimulator, clock: ManualClock) -> None:
    cache = new_cache(sim)
    clock.advance(3_599)
    assert sim.get_cache(cache["name"])["name"] == cache["name"]
    clock.advance(2)
    with pytest.raises(SimulatedAPIError) as info:
        sim.get_cache(cache["name"])
    assert info.value.status_code == 403


def test_update_ttl_extends_the_expiry(sim: GeminiCacheSimulator, clock: ManualClock) -> None:
    cache = new_cache(sim, ttl="60s")
    sim.update_cache(cache["name"], {"ttl": "7200s"})
    clock.advance(3_600)
    assert sim.get_cache(cache["name"])["usageMetadata"]["totalTokenCount"] > 2_048


def test_update_expire_time(sim: GeminiCacheSimulator) -> None:
    cache = new_cache(sim)
    updated = sim.update_cache(cache["name"], {"expireTime": "1970-01-01T00:00:30Z"})
    assert updated["expireTime"] == "1970-01-01T00:00:30Z"


def test_generate_with_a_cache_reads_all_its_tokens(sim: GeminiCacheSimulator) -> None:
    cache = new_cache(sim)
    result = sim.generate(MODEL, {"cachedContent": cache["name"], "contents": contents("q")})
    assert result.cached_tokens == cache["usageMetadata"]["totalTokenCount"]
    assert result.prompt_tokens > result.cached_tokens


@pytest.mark.parametrize("key", ["systemInstruction", "tools", "toolConfig"])
def test_a_cache_with_system_tools_or_tool_config_in_the_request_is_a_400(
    sim: GeminiCacheSimulator, key: str
) -> None:
    cache = new_cache(sim)
    body = {"cachedContent": cache["name"], "contents": contents("q"), key: {"parts": []}}
    with pytest.raises(SimulatedAPIError) as info:
        sim.generate(MODEL, body)
    assert info.value.message == CACHED_CONTENT_CONFLICT


def test_a_cache_used_with_another_model_is_a_400(sim: GeminiCacheSimulator) -> None:
    cache = new_cache(sim)
    with pytest.raises(SimulatedAPIError, match="has to be the same"):
        sim.generate("gemini-2.5-pro", {"cachedContent": cache["name"], "contents": contents("q")})


def test_list_pages_through_live_caches(sim: GeminiCacheSimulator) -> None:
    names = [new_cache(sim)["name"] for _ in range(3)]
    first = sim.list_caches(page_size=2)
    second = sim.list_caches(page_size=2, page_token=first["nextPageToken"])
    assert [c["name"] for c in first["cachedContents"] + second["cachedContents"]] == names
    assert "nextPageToken" not in second


def test_storage_token_hours_stop_at_delete(sim: GeminiCacheSimulator, clock: ManualClock) -> None:
    cache = new_cache(sim)
    tokens = cache["usageMetadata"]["totalTokenCount"]
    clock.advance(1_800)
    sim.delete_cache(cache["name"])
    clock.advance(1_800)
    assert sim.storage_token_hours() == pytest.approx(tokens * 0.5)
