"""Fakes for testing code that calls the providers: loopback servers the official SDKs talk to.

Each server wraps a cache simulator from :mod:`promptcache.simulator`, binds 127.0.0.1 on a free
port and records every request, so a test can check both the usage a client parsed and the exact
bytes it sent::

    with AnthropicServer(clock=ManualClock()) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test")
        ...
        server.clock.advance(301)  # step past the 5-minute TTL

``ScriptedAnthropicServer``, ``ScriptedOpenAIServer`` and ``ScriptedGeminiServer`` answer with
the replies you script (text and tool calls, streamed too) and the HTTP errors you schedule
(``fail_next``); one script (strings, ``text`` and ``tool_use`` blocks) serves all three. See
``docs/testing.md``.
"""

from __future__ import annotations

from promptcache._deprecated import renamed
from promptcache.providers._loopback import LoopbackServer, RecordedRequest, ReplyText
from promptcache.providers._scripted import ScriptedReply, ScriptResponder
from promptcache.providers.anthropic.scripted import Responder, ScriptedAnthropicServer
from promptcache.providers.anthropic.server import AnthropicServer
from promptcache.providers.bedrock_converse.server import ConverseServer
from promptcache.providers.gemini.scripted import ScriptedGeminiServer
from promptcache.providers.gemini.server import GeminiServer
from promptcache.providers.openai.scripted import ScriptedOpenAIServer
from promptcache.providers.openai.server import OpenAIServer

__all__ = [
    "AnthropicServer",
    "ConverseServer",
    "GeminiServer",
    "LoopbackServer",
    "OpenAIServer",
    "RecordedRequest",
    "ReplyText",
    "Responder",
    "ScriptResponder",
    "ScriptedAnthropicServer",
    "ScriptedGeminiServer",
    "ScriptedOpenAIServer",
    "ScriptedReply",
]

#: Old names, renamed to say what they are (docs/architecture.md, "Renamed names").
__getattr__ = renamed(__name__, {"Reply": "ReplyText"}, globals())
