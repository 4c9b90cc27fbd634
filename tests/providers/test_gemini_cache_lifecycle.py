"""The Gemini explicit-cache lifecycle against the loopback server, through the real client."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from google import genai
from google.genai import types

from promptcache import Reuse
from promptcache.clock import ManualClock
from promptcache.gemini import parse_usage
from promptcache.providers.gemini.cache import AsyncGeminiCacheManager, GeminiCacheManager
from promptcache.testing import GeminiServer

from .._shared_prompt import shared_prompt

#: The shared prompt carries a thinking block, which OpenAI and Gemini cannot take: the renderers
#: warn about it, as tests/providers/test_dropped_warning.py checks; here it is beside the point.
DROPS_THINKING = pytest.mark.filterwarnings("ignore::promptcache.errors.DroppedContentWarning")

MODEL = "gemini-2.5-flash"
ROOT = Path(__file__).resolve().parent.parent.parent
HEAVY = Reuse(uses=1_000, interval=30)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000_000)


@pytest.fixture
def server(clock: ManualClock) -> Iterator[GeminiServer]:
    with GeminiServer(clock=clock) as s:
        yield s


def client_for(server: GeminiServer) -> genai.Client:
    return genai.Client(api_key="t", http_options=types.HttpOptions(base_url=server.url,
                                                                     api_version="v1beta"))


def _calls(server: GeminiServer, method: str) -> int:
    return sum(1 for r in server.requests if r.method == method and "cachedContents" in r.path)


def _live(server: GeminiServer) -> list[dict[str, object]]:
    return list(server.simulator.list_caches()["cachedContents"])


@DROPS_THINKING
def test_heavy_reuse_creates_one_cache_and_every_request_reads_it(server: GeminiServer,
                                                                 clock: ManualClock) -> None:
    client = client_for(server)
    with GeminiCacheManager(client, clock=clock) as manager:
        reads = []
        for question in ("And tomorrow?", "And on Sunday?", "Umbrella?"):
            response, rendered = manager.generate_content(
                shared_prompt(reuse=HEAVY, question=question), model=MODEL)
            reads.append(parse_usage(response).cache_read_tokens)
        assert rendered.plan.mode == "explicit"
        assert _calls(server, "POST") == 1 and len(_live(server)) == 1
        assert reads[0] == reads[1] == reads[2] > 0


@DROPS_THINKING
def test_light_reuse_relies_on_implicit_caching_and_creates_nothing(server: GeminiServer,
                                                                   clock: ManualClock) -> None:
    with GeminiCacheManager(client_for(server), clock=clock) as manager:
        prompt = shared_prompt(reuse=Reuse(uses=2, interval=3_600))
        _, rendered = manager.generate_content(prompt, model=MODEL, ttl=3_600)
    assert rendered.plan.mode == "implicit" and _calls(server, "POST") == 0
    assert "does not pay" in rendered.plan.notes[0]
    assert "system_instruction" in rendered.kwargs["config"]


@DROPS_THINKING
def test_a_second_process_finds_and_reuses_the_same_cache(server: GeminiServer,
                                                          clock: ManualClock) -> None:
    with GeminiCacheManager(client_for(server), clock=clock) as manager:
        first = manager.prepare(shared_prompt(reuse=HEAVY), model=MODEL)
        script = textwrap.dedent(f"""
            from google import genai
            from google.genai import types
            from promptcache import Reuse
            from promptcache.clock import ManualClock
            from promptcache.providers.gemini.cache import GeminiCacheManager
            from tests._shared_prompt import shared_prompt
            client = genai.Client(api_key="t", http_options=types.HttpOptions(
                base_url={server.url!r}, api_version="v1beta"))
            manager = GeminiCacheManager(client, clock=ManualClock({clock.now()!r}))
            prompt = shared_prompt(reuse=Reuse(uses=1_000, interval=30), question="From B?")
            response, rendered = manager.generate_content(prompt, model="{MODEL}")
            owned = manager.known[rendered.plan.settings["display_name"]].owned
            manager.close()
            print(rendered.plan.settings["cached_content"], owned,
                  response.usage_metadata.cached_content_token_count)
        """)
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, check=True).stdout.split()
        assert out[0] == first.plan.settings["cached_content"]
        assert out[1] == "False" and int(out[2]) > 0
        assert _calls(server, "POST") == 1
        assert len(_live(server)) == 1  # the other process did not delete a cache it did not create


@DROPS_THINKING
def test_the_ttl_is_extended_while_the_cache_is_in_use(server: GeminiServer,
                                                       clock: ManualClock) -> None:
    with GeminiCacheManager(client_for(server), clock=clock) as manager:
        prompt = shared_prompt(reuse=HEAVY)
        first = manager.prepare(prompt, model=MODEL, ttl=600)
        name = first.plan.settings["cached_content"]
        before = manager.known[first.plan.settings["display_name"]].expires
        clock.advance(200)
        manager.prepare(prompt, model=MODEL, ttl=600)
        assert _calls(server, "PATCH") == 0  # 400 of 600 s left: not due yet
        clock.advance(200)
        manager.prepare(prompt, model=MODEL, ttl=600)
        assert _calls(server, "PATCH") == 1
        after = manager.known[first.plan.settings["display_name"]].expires
        assert after == clock.now() + 600 > before
        clock.advance(500)  # past the original expiry, within the extended one
        response, rendered = manager.generate_content(prompt, model=MODEL, ttl=600)
        assert rendered.plan.settings["cached_content"] == name
        assert parse_usage(response).cache_read_tokens > 0


@DROPS_THINKING
def test_an_expired_cache_is_replaced(server: GeminiServer, clock: ManualClock) -> None:
    with GeminiCacheManager(client_for(server), clock=clock) as manager:
        prompt = shared_prompt(reuse=HEAVY)
        first = manager.prepare(prompt, model=MODEL, ttl=600).plan.settings["cached_content"]
        clock.advance(601)
        assert _live(server) == []
        response, rendered = manager.generate_content(prompt, model=MODEL, ttl=600)
        assert rendered.plan.settings["cached_content"] != first
        assert parse_usage(response).cache_read_tokens > 0


@DROPS_THINKING
def test_a_cache_deleted_elsewhere_is_recreated_on_the_next_call(server: GeminiServer,
                                                                 clock: ManualClock) -> None:
    with GeminiCacheManager(client_for(server), clock=clock) as manager:
        prompt = shared_prompt(reuse=HEAVY)
        name = manager.prepare(prompt, model=MODEL).plan.settings["cached_content"]
        server.simulator.delete_cache(name)  # another process cleaned up
        response, rendered = manager.generate_content(prompt, model=MODEL)
        assert rendered.plan.settings["cached_content"] != name
        assert parse_usage(response).cache_read_tokens > 0


@DROPS_THINKING
def test_close_deletes_the_caches_it_created(server: GeminiServer, clock: ManualClock) -> None:
    manager = GeminiCacheManager(client_for(server), clock=clock)
    manager.prepare(shared_prompt(reuse=HEAVY), model=MODEL)
    assert len(_live(server)) == 1
    clock.advance(120)
    manager.close()
    assert _live(server) == [] and _calls(server, "DELETE") == 1
    # Storage stopped at deletion: two minutes of the prefix's tokens.
    tokens = server.simulator.storage_token_hours() * 3_600 / 120
    assert tokens > 3_000


@DROPS_THINKING
async def test_the_async_manager_runs_the_same_lifecycle(server: GeminiServer,
                                                         clock: ManualClock) -> None:
    # An explicit httpx2 client: google-genai's default aiohttp session trips a DeprecationWarning.
    async with httpx2.AsyncClient() as http:
        await _async_lifecycle(genai.Client(api_key="t", http_options=types.HttpOptions(
            base_url=server.url, api_version="v1beta", httpx_async_client=http)), server, clock)


async def _async_lifecycle(client: genai.Client, server: GeminiServer, clock: ManualClock) -> None:
    async with AsyncGeminiCacheManager(client, clock=clock) as manager:
        prompt = shared_prompt(reuse=HEAVY)
        response, rendered = await manager.generate_content(prompt, model=MODEL, ttl=600)
        assert rendered.plan.mode == "explicit" and parse_usage(response).cache_read_tokens > 0
        clock.advance(400)
        await manager.prepare(prompt, model=MODEL, ttl=600)
        assert _calls(server, "PATCH") == 1
    assert _live(server) == [] and _calls(server, "DELETE") == 1
