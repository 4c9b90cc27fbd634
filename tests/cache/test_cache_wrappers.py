"""Real SDK clients against a loopback server: identical calls are served from the cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from promptcache.cache import (
    AsyncCachedStream,
    CachedStream,
    CacheUnavailableWarning,
    MemoryBackend,
    SQLiteBackend,
    cache_client,
    set_response_cache,
    uncache_client,
)
from promptcache.clock import ManualClock
from promptcache.testing import OpenAIServer
from tests._stub_servers import ANSWER, StubServer

SECRET = "sk-ant-api03-NEVER-STORE-ME"
ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 64,
    "system": [{"type": "text", "text": "Answer in one sentence. " * 50}],
    "messages": [{"role": "user", "content": "Capital of France?"}],
}


@pytest.fixture(scope="module")
def server() -> Iterator[StubServer]:
    with StubServer() as s:
        yield s


_open: list[Any] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    """Close every sync client a test made (unclosed sockets are errors under -W error)."""
    yield
    while _open:
        _open.pop().close()


def claude(server: StubServer, **kw: Any) -> anthropic.Anthropic:
    client = anthropic.Anthropic(api_key=SECRET, base_url=server.url, max_retries=0)
    _open.append(client)
    return cache_client(client, **kw)


def gpt(server: StubServer, **kw: Any) -> openai.OpenAI:
    client = openai.OpenAI(api_key=SECRET, base_url=server.url + "/v1", max_retries=0)
    _open.append(client)
    return cache_client(client, **kw)


def gemini(server: StubServer, **kw: Any) -> genai.Client:
    client = genai.Client(api_key=SECRET, http_options=gemini_options(server))
    _open.append(client)
    return cache_client(client, **kw)


def gemini_options(server: StubServer) -> types.HttpOptions:
    return types.HttpOptions(base_url=server.url + "/", api_version="v1beta")


def test_anthropic_repeat_is_served_from_the_cache(server: StubServer) -> None:
    client = claude(server, backend=MemoryBackend())
    before = server.total_hits
    first = client.messages.create(**ASK)
    second = client.messages.create(**ASK)
    assert server.total_hits == before + 1
    assert isinstance(second, anthropic.types.Message)
    assert second.model_dump() == first.model_dump()
    assert second is not first


def test_dict_order_of_an_equivalent_request_still_hits(server: StubServer) -> None:
    client = claude(server, backend=MemoryBackend())
    client.messages.create(**ASK)
    before = server.total_hits
    client.messages.create(**{k: ASK[k] for k in reversed(list(ASK))})
    assert server.total_hits == before


def test_a_different_request_never_hits(server: StubServer) -> None:
    client = claude(server, backend=MemoryBackend())
    client.messages.create(**ASK)
    before = server.total_hits
    client.messages.create(**ASK | {"max_tokens": 65})
    client.messages.create(**ASK | {"messages": [{"role": "user", "content": "Capital of Peru?"}]})
    assert server.total_hits == before + 2


def test_anthropic_stream_is_replayed_as_a_stream(server: StubServer) -> None:
    client = claude(server, backend=MemoryBackend())
    with client.messages.create(**ASK, stream=True) as live:
        live_events = list(live)
    before = server.total_hits
    replay = client.messages.create(**ASK, stream=True)
    assert isinstance(replay, CachedStream) and replay.from_cache
    events = list(replay)
    assert server.total_hits == before
    assert [e.model_dump() for e in events] == [e.model_dump() for e in live_events]
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == ANSWER


def test_an_abandoned_stream_is_not_cached(server: StubServer) -> None:
    client = claude(server, backend=MemoryBackend())
    stream = client.messages.create(**ASK, stream=True)
    next(iter(stream))
    stream.close()
    before = server.total_hits
    list(client.messages.create(**ASK, stream=True))
    assert server.total_hits == before + 1


async def test_async_anthropic_and_its_stream(server: StubServer) -> None:
    client = cache_client(
        anthropic.AsyncAnthropic(api_key=SECRET, base_url=server.url, max_retries=0),
        backend=MemoryBackend(),
    )
    before = server.total_hits
    await client.messages.create(**ASK)
    again = await client.messages.create(**ASK)
    assert isinstance(again, anthropic.types.Message)
    live = [e async for e in await client.messages.create(**ASK, stream=True)]
    replay = await client.messages.create(**ASK, stream=True)
    assert isinstance(replay, AsyncCachedStream)
    assert [e.type async for e in replay] == [e.type for e in live]
    await client.close()
    assert server.total_hits == before + 2


def test_openai_chat_responses_and_stream(server: StubServer) -> None:
    client = gpt(server, backend=MemoryBackend())
    chat = {"model": "gpt-5", "messages": [{"role": "user", "content": "Capital of France?"}]}
    before = server.total_hits
    for _ in range(2):
        assert client.chat.completions.create(**chat).choices[0].message.content == ANSWER
        assert client.responses.create(model="gpt-5", input="Capital of France?").output_text == ANSWER
        chunks = list(client.chat.completions.create(**chat, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER
    assert server.total_hits == before + 3


async def test_async_openai(server: StubServer) -> None:
    client = cache_client(
        openai.AsyncOpenAI(api_key=SECRET, base_url=server.url + "/v1", max_retries=0),
        backend=MemoryBackend(),
    )
    chat = {"model": "gpt-5", "messages": [{"role": "user", "content": "Capital of France?"}]}
    before = server.total_hits
    for _ in range(2):
        done = await client.chat.completions.create(**chat)
        assert isinstance(done, openai.types.chat.ChatCompletion)
        chunks = [c async for c in await client.chat.completions.create(**chat, stream=True)]
        assert len(chunks) == 4
    await client.close()
    assert server.total_hits == before + 2


def test_gemini_generate_content_and_stream(server: StubServer) -> None:
    client = gemini(server, backend=MemoryBackend())
    config = types.GenerateContentConfig(system_instruction="Be brief.", temperature=0)
    before = server.total_hits
    for _ in range(2):
        reply = client.models.generate_content(model="gemini-2.5-flash", contents="Hi", config=config)
        assert isinstance(reply, types.GenerateContentResponse) and reply.text == ANSWER
        parts = client.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi")
        assert "".join(p.text or "" for p in parts) == ANSWER
    assert server.total_hits == before + 2


# google-genai's aiohttp session subclass trips aiohttp's own DeprecationWarning: not ours to fix.
@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
async def test_async_gemini(server: StubServer) -> None:
    client = gemini(server, backend=MemoryBackend())
    before = server.total_hits
    for _ in range(2):
        reply = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")
        assert reply.text == ANSWER
        stream = await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi")
        assert "".join([p.text or "" async for p in stream]) == ANSWER
    await client.aio.aclose()
    assert server.total_hits == before + 2


def test_namespaces_isolate_tenants(server: StubServer) -> None:
    shared = MemoryBackend()
    claude(server, backend=shared, namespace="tenant-a").messages.create(**ASK)
    before = server.total_hits
    claude(server, backend=shared, namespace="tenant-b").messages.create(**ASK)
    claude(server, backend=shared, namespace="tenant-a").messages.create(**ASK)
    assert server.total_hits == before + 1


def test_explicit_sampling_is_cached_only_on_opt_in(server: StubServer) -> None:
    hot = ASK | {"extra_body": {"temperature": 0.9}}
    plain = claude(server, backend=MemoryBackend())
    before = server.total_hits
    plain.messages.create(**hot)
    plain.messages.create(**hot)
    assert server.total_hits == before + 2
    opted = claude(server, backend=MemoryBackend(), cache_sampling=True)
    opted.messages.create(**hot)
    opted.messages.create(**hot)
    assert server.total_hits == before + 3


def test_api_keys_never_reach_the_stored_bytes(server: StubServer, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    backend = SQLiteBackend(path)
    client = claude(server, backend=backend)
    client.messages.create(**ASK, extra_headers={"x-api-key": SECRET, "anthropic-beta": "b1"})
    list(client.messages.create(**ASK, stream=True))
    backend.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"Paris" in stored
    assert SECRET.encode() not in stored
    assert b"NEVER-STORE" not in stored


def test_the_global_switch_serves_unconfigured_clients(server: StubServer) -> None:
    client = claude(server)
    before = server.total_hits
    set_response_cache(MemoryBackend())
    try:
        client.messages.create(**ASK)
        client.messages.create(**ASK)
    finally:
        set_response_cache(None)
    client.messages.create(**ASK)
    assert server.total_hits == before + 2


def test_uncache_client_restores_direct_calls(server: StubServer) -> None:
    client = uncache_client(claude(server, backend=MemoryBackend()))
    before = server.total_hits
    client.messages.create(**ASK)
    client.messages.create(**ASK)
    assert server.total_hits == before + 2


def test_an_entry_the_sdk_cannot_read_is_a_miss(server: StubServer) -> None:
    backend = MemoryBackend()
    client = claude(server, backend=backend)
    client.messages.create(**ASK)
    for key in list(backend._data):
        backend.set(key, b'{"not": "a message"}')
    before = server.total_hits
    assert client.messages.create(**ASK).content[0].text == ANSWER  # type: ignore[union-attr]
    assert server.total_hits == before + 1


def test_tenants_with_different_api_keys_never_share_an_entry(server: StubServer) -> None:
    shared = MemoryBackend()
    a, b = (anthropic.Anthropic(api_key=k, base_url=server.url, max_retries=0) for k in ("sk-a", "sk-b"))
    _open.extend([a, b])
    cache_client(a, backend=shared)
    cache_client(b, backend=shared)
    before = server.total_hits
    a.messages.create(**ASK)
    b.messages.create(**ASK)
    a.messages.create(**ASK)
    assert server.total_hits == before + 2


def test_tenants_whose_credentials_are_objects_never_share_an_entry(server: StubServer) -> None:
    """Issue 21 item 1: token providers and Azure AD tokens were not part of the identity."""
    from anthropic.lib.credentials import AccessToken

    shared = MemoryBackend()
    azure = {"base_url": server.url + "/v1", "api_version": "2024-10-21", "max_retries": 0}
    local = {"base_url": server.url, "max_retries": 0}
    tenants: list[Any] = [
        anthropic.Anthropic(credentials=lambda **_: AccessToken(token="A"), **local),
        anthropic.Anthropic(credentials=lambda **_: AccessToken(token="B"), **local),
        openai.AzureOpenAI(azure_ad_token="A", **azure),
        openai.AzureOpenAI(azure_ad_token="B", **azure),
        openai.AzureOpenAI(azure_ad_token_provider=lambda: "A", **azure),
        openai.AzureOpenAI(azure_ad_token_provider=lambda: "B", **azure),
    ]
    _open.extend(tenants)
    for client in tenants:
        cache_client(client, backend=shared)
    before = server.total_hits
    for client in tenants * 2:
        if isinstance(client, anthropic.Anthropic):
            client.messages.create(**ASK)
        else:
            client.responses.create(model="gpt-4o", input="Capital of France?")  # no Azure path rewrite
    assert server.total_hits == before + len(tenants)  # each tenant once; its repeat is a hit


def test_a_default_beta_header_keys_the_entry(server: StubServer) -> None:
    shared = MemoryBackend()
    plain = claude(server, backend=shared)
    beta = anthropic.Anthropic(
        api_key=SECRET, base_url=server.url, max_retries=0, default_headers={"anthropic-beta": "b1"}
    )
    _open.append(beta)
    cache_client(beta, backend=shared)
    before = server.total_hits
    plain.messages.create(**ASK)
    beta.messages.create(**ASK)
    assert server.total_hits == before + 2


def test_a_client_setting_changed_after_wrapping_is_seen(server: StubServer) -> None:
    client = claude(server, backend=MemoryBackend())
    client.messages.create(**ASK)
    client.api_key = "sk-someone-else"
    before = server.total_hits
    client.messages.create(**ASK)
    assert server.total_hits == before + 1


def test_genai_extra_body_in_http_options_is_never_served_another_answer(server: StubServer) -> None:
    client = gemini(server, backend=MemoryBackend())

    def config(tokens: int) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(
            temperature=0,
            http_options=types.HttpOptions(
                base_url=server.url + "/",
                api_version="v1beta",
                extra_body={"generationConfig": {"maxOutputTokens": tokens}},
            ),
        )

    before = server.total_hits
    client.models.generate_content(model="gemini-2.5-flash", contents="Hi", config=config(5))
    client.models.generate_content(model="gemini-2.5-flash", contents="Hi", config=config(500))
    client.models.generate_content(model="gemini-2.5-flash", contents="Hi", config=config(5))
    assert server.total_hits == before + 2


def test_a_failing_backend_is_a_miss_with_one_warning(server: StubServer) -> None:
    class Broken(MemoryBackend):
        def get(self, key: str) -> bytes | None:
            raise OSError("disk gone")

    client = claude(server, backend=Broken())
    with pytest.warns(CacheUnavailableWarning, match="disk gone"):
        assert client.messages.create(**ASK).content[0].text == ANSWER  # type: ignore[union-attr]
    client.messages.create(**ASK)  # the same outage: no second warning


def test_a_hit_is_a_copy_the_caller_may_change(server: StubServer) -> None:
    client = claude(server, backend=MemoryBackend())
    client.messages.create(**ASK)
    first = client.messages.create(**ASK)
    first.content[0].text = "changed"  # type: ignore[union-attr]
    first.usage.input_tokens = -1
    again = client.messages.create(**ASK)
    assert again.content[0].text == ANSWER  # type: ignore[union-attr]
    assert again.usage.input_tokens != -1


def test_openai_stream_helpers_work_on_a_replayed_stream() -> None:
    """openai's ``stream(...)`` helpers close ``raw_stream.response`` when done: a replay has no
    HTTP response, and must not fail a call that works uncached."""
    messages = [{"role": "user", "content": "hi"}]
    with OpenAIServer(clock=ManualClock()) as oai:
        client = cache_client(openai.OpenAI(base_url=oai.url + "/v1", api_key="k", max_retries=0),
                              backend=MemoryBackend())
        texts = []
        for _ in range(2):
            with client.chat.completions.stream(model="gpt-5", messages=messages) as stream:
                texts.append(stream.get_final_completion().choices[0].message.content)
            with client.responses.stream(model="gpt-5", input="hi") as rstream:
                texts.append(rstream.get_final_response().output_text)
        assert len(oai.requests) == 2  # the second round came from the cache
    assert texts == ["Simulated reply."] * 4


async def test_async_openai_stream_helpers_work_on_a_replayed_stream() -> None:
    with OpenAIServer(clock=ManualClock()) as oai:
        client = cache_client(
            openai.AsyncOpenAI(base_url=oai.url + "/v1", api_key="k", max_retries=0),
            backend=MemoryBackend())
        texts = []
        for _ in range(2):
            async with client.chat.completions.stream(
                    model="gpt-5", messages=[{"role": "user", "content": "hi"}]) as stream:
                texts.append((await stream.get_final_completion()).choices[0].message.content)
        await client.close()
        assert len(oai.requests) == 1
    assert texts == ["Simulated reply."] * 2


def test_beta_messages_are_cached_apart_from_plain_messages(server: StubServer) -> None:
    client = claude(server, backend=MemoryBackend())
    before = server.total_hits
    first = client.beta.messages.create(**ASK, betas=["context-management-2025-06-27"])
    again = client.beta.messages.create(**ASK, betas=["context-management-2025-06-27"])
    assert server.total_hits == before + 1
    assert isinstance(again, anthropic.types.beta.BetaMessage)
    assert again.model_dump() == first.model_dump()
    client.messages.create(**ASK)  # the plain endpoint never gets the beta answer
    client.beta.messages.create(**ASK)  # nor a beta call without that beta header
    assert server.total_hits == before + 3
    uncache_client(client)
    client.beta.messages.create(**ASK, betas=["context-management-2025-06-27"])
    assert server.total_hits == before + 4


@pytest.mark.parametrize("replaced", [False, True], ids=["os.environ", "a plain dict"])
def test_the_response_cache_switch_is_read_at_every_call(
        server: StubServer, monkeypatch: pytest.MonkeyPatch, replaced: bool) -> None:
    # The switch is read from os.environ's own data (no KeyError per call); a process that swaps
    # os.environ for another mapping is still obeyed.
    import os

    if replaced:
        monkeypatch.setattr(os, "environ", dict(os.environ))
    client = claude(server, backend=MemoryBackend())
    client.messages.create(**ASK)
    before = server.total_hits
    client.messages.create(**ASK)
    assert server.total_hits == before  # a hit
    os.environ["PROMPTCACHE_DISABLE_RESPONSE_CACHE"] = " On "
    try:
        client.messages.create(**ASK)
        assert server.total_hits == before + 1  # bypassed
        os.environ["PROMPTCACHE_DISABLE_RESPONSE_CACHE"] = "0"
        client.messages.create(**ASK)
        assert server.total_hits == before + 1  # a hit again
    finally:
        del os.environ["PROMPTCACHE_DISABLE_RESPONSE_CACHE"]
    client.messages.create(**ASK)
    assert server.total_hits == before + 1
