"""Fakes for testing code that calls the providers: loopback servers the official SDKs talk to.

Each server wraps a cache simulator from :mod:`promptcache.simulator`, binds 127.0.0.1 on a free
port and records every request, so a test can check both the usage a client parsed and the exact
bytes it sent::

    with AnthropicServer(clock=ManualClock()) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test")
        ...
        server.clock.advance(301)  # step past the 5-minute TTL
"""

from __future__ import annotations

from ._http import LoopbackServer, RecordedRequest, Reply
from .anthropic import AnthropicServer
from .gemini import GeminiServer
from .openai import OpenAIServer

__all__ = [
    "AnthropicServer",
    "GeminiServer",
    "LoopbackServer",
    "OpenAIServer",
    "RecordedRequest",
    "Reply",
]
