"""Warm-up: 32 concurrent requests on one 8k-token prefix pay one cache write, offline.

A naive fan-out starts every request before any response has started, so each pays a write; the
warm-up sends one, waits for its response to start, then fans out the rest. Runs against a
loopback Anthropic server whose responses take 200 ms to start.
"""

from __future__ import annotations

import anthropic

from promptcache.clock import ManualClock
from promptcache.testing import ScriptedAnthropicServer
from promptcache.warmup import SingleFlight, warm_up_sync

PREFIX = "Contract clause: the supplier shall deliver on time. " * 800  # ~8k tokens


def main() -> None:
    requests = [{"model": "claude-sonnet-4-6", "max_tokens": 128, "system": PREFIX,
                 "messages": [{"role": "user", "content": f"Summarise obligation {i}."}]}
                for i in range(32)]
    for mode in ("none", "first"):
        with ScriptedAnthropicServer(clock=ManualClock(), response_delay=0.2) as server:
            client = anthropic.Anthropic(base_url=server.url, api_key="offline", max_retries=0)
            result = warm_up_sync(client, requests, mode=mode, concurrency=32, progress=False,
                                  flights=SingleFlight())
            print(f"{'naive' if mode == 'none' else 'warm-up':<8} {result.summary()}")


if __name__ == "__main__":
    main()
