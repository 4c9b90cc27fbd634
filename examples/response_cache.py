"""Serve repeated Anthropic calls from a local response cache (runs offline).

A loopback server from ``promptcache.testing`` stands in for the Anthropic API, so this runs
without a key or a network; with a real client, only ``base_url`` and ``api_key`` change.

    python examples/response_cache.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import anthropic

from promptcache.cache import SQLiteBackend, cache_client, set_response_cache
from promptcache.testing import AnthropicServer

SYSTEM = "You are a concise geography tutor. " * 400  # a long, stable system prompt


def main() -> None:
    with AnthropicServer(reply="Paris.") as server, tempfile.TemporaryDirectory() as tmp:
        # One process-wide cache, like LangChain's set_llm_cache(SQLiteCache(...)).
        set_response_cache(SQLiteBackend(Path(tmp) / "responses.sqlite3"))
        client = cache_client(anthropic.Anthropic(base_url=server.url, api_key="sk-example"))

        def ask() -> anthropic.types.Message:
            return client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=100,
                system=[{"type": "text", "text": SYSTEM}],
                messages=[{"role": "user", "content": "What is the capital of France?"}],
            )

        start = time.perf_counter()
        first = ask()
        middle = time.perf_counter()
        second = ask()  # identical request: served from the cache, never sent
        end = time.perf_counter()

        assert second.model_dump() == first.model_dump()
        assert len(server.requests) == 1
        print(f"first call:  {(middle - start) * 1000:7.2f} ms (sent to the API)")
        print(f"second call: {(end - middle) * 1000:7.2f} ms (from the cache)")
        print(f"requests that reached the server: {len(server.requests)}")

        # Streams are replayed as streams.
        with client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            messages=[{"role": "user", "content": "Say hi."}],
            stream=True,
        ) as stream:
            live = [event.type for event in stream]
        replay = client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            messages=[{"role": "user", "content": "Say hi."}],
            stream=True,
        )
        assert [event.type for event in replay] == live
        print(f"stream replayed from the cache: {len(live)} events")
        client.close()
        set_response_cache(None)


if __name__ == "__main__":
    main()
