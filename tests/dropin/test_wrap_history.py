"""wrap() never sends a request the caller did not write, however the caller keeps its history.

User code owns its message list and edits it: appends, rebuilds, pops to regenerate, slides a
window, edits messages it already sent, in place, and shares a trunk between branches. Each
pattern runs twice against the loopback server of each SDK (anthropic, openai chat completions
and responses, google-genai), sync, async and streaming: once through the bare SDK and once
wrapped. The wrapped body must be the bare body plus cache markers only (and, on OpenAI,
``prompt_cache_key`` / retention / ``prompt_cache_options``).
"""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from google import genai
from google.genai import types

from promptcache import CacheState
from promptcache.clock import ManualClock
from promptcache.dropin import wrap
from promptcache.providers._loopback import LoopbackServer
from promptcache.testing import AnthropicServer, GeminiServer, OpenAIServer

SYSTEM = "You answer from the manual. " + " ".join(f"rule{i}" for i in range(1_200))
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
       "RU5ErkJggg==")
RESULT = "result " * 300

Messages = list[Any]
#: Added by the wrapper, never anything else: markers and OpenAI's caching settings.
_ADDED = frozenset({"cache_control", "prompt_cache_breakpoint", "prompt_cache_key",
                    "prompt_cache_retention", "prompt_cache_options"})


@dataclass(frozen=True)
class Sdk:
    """One SDK's history shapes and calls (sync, async, streaming) against its loopback server."""

    name: str
    server: Callable[[], LoopbackServer]
    #: The key of a message's parts (``content``; ``parts`` on Gemini).
    parts: str
    text: Callable[[str], Any]
    image: Callable[[], Any]
    message: Callable[[str, str], Any]
    tool_history: Callable[[], Messages]
    clear_tool_result: Callable[[Messages], None]
    call: Callable[[Any, str, LoopbackServer, Messages, bool], None]
    #: A user message that is a plain string (google-genai: the string itself, in contents).
    string_message: Callable[[str], Any]

    def blocks_history(self) -> Messages:
        return [{"role": "user", self.parts: [self.text("first part")]}]

    def image_history(self) -> Messages:
        return [{"role": "user", self.parts: [self.image(), self.text("what is this?")]}]


# -- anthropic -------------------------------------------------------------------------------------

ANTHROPIC_TOOLS = [{"name": "search", "description": "Search the manual. " * 40,
                    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]


def _anthropic_call(mode: str, url: str, wrapped: bool, history: Messages, stream: bool) -> None:
    kwargs = {"model": "claude-sonnet-4-6", "max_tokens": 64, "system": SYSTEM,
              "tools": ANTHROPIC_TOOLS, "messages": history}
    client = _client(mode, url, wrapped, "anthropic")
    if mode == "async":
        async def go() -> None:
            if stream:
                async for _ in await client.messages.create(stream=True, **kwargs):
                    pass
            else:
                await client.messages.create(**kwargs)
        _run(go())
        return
    if stream:
        for _ in client.messages.create(stream=True, **kwargs):
            pass
    else:
        client.messages.create(**kwargs)


def _anthropic_tools() -> Messages:
    return [{"role": "user", "content": "look it up"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "search",
                                               "input": {"q": "router"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                          "content": RESULT}]},
            {"role": "assistant", "content": "found it"},
            {"role": "user", "content": "thanks"}]


def _anthropic_clear(m: Messages) -> None:
    m[2]["content"][0]["content"] = "[cleared]"


# -- openai ----------------------------------------------------------------------------------------

CHAT_TOOLS = [{"type": "function", "function": {
    "name": "search", "description": "Search the manual. " * 40,
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]
RESPONSES_TOOLS = [{"type": "function", "name": "search", "description": "Search the manual. " * 40,
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]


def _openai_call(api: str) -> Callable[[str, str, bool, Messages, bool], None]:
    def call(mode: str, url: str, wrapped: bool, history: Messages, stream: bool) -> None:
        if api == "chat":
            kwargs: dict[str, Any] = {"model": "gpt-5.6", "tools": CHAT_TOOLS,
                                      "messages": [{"role": "system", "content": SYSTEM},
                                                   *history]}
        else:
            kwargs = {"model": "gpt-5.6", "tools": RESPONSES_TOOLS, "instructions": SYSTEM,
                      "input": history}
        client = _client(mode, url, wrapped, "openai")
        create = client.chat.completions.create if api == "chat" else client.responses.create
        if mode == "async":
            async def go() -> None:
                if stream:
                    async for _ in await create(stream=True, **kwargs):
                        pass
                else:
                    await create(**kwargs)
            _run(go())
            return
        if stream:
            for _ in create(stream=True, **kwargs):
                pass
        else:
            create(**kwargs)
    return call


def _chat_tools() -> Messages:
    return [{"role": "user", "content": "look it up"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "t1", "type": "function",
                 "function": {"name": "search", "arguments": '{"q": "router"}'}}]},
            {"role": "tool", "tool_call_id": "t1", "content": RESULT},
            {"role": "assistant", "content": "found it"},
            {"role": "user", "content": "thanks"}]


def _chat_clear(m: Messages) -> None:
    m[2]["content"] = "[cleared]"


def _responses_tools() -> Messages:
    return [{"role": "user", "content": "look it up"},
            {"type": "function_call", "call_id": "t1", "name": "search",
             "arguments": '{"q": "router"}'},
            {"type": "function_call_output", "call_id": "t1", "output": RESULT},
            {"role": "assistant", "content": "found it"},
            {"role": "user", "content": "thanks"}]


def _responses_clear(m: Messages) -> None:
    m[2]["output"] = "[cleared]"


# -- gemini ----------------------------------------------------------------------------------------

GEMINI_TOOLS = [{"function_declarations": [{
    "name": "search", "description": "Search the manual. " * 40,
    "parameters": {"type": "OBJECT", "properties": {"q": {"type": "STRING"}}}}]}]


def _gemini_call(mode: str, url: str, wrapped: bool, history: Messages, stream: bool) -> None:
    config = {"system_instruction": SYSTEM, "tools": GEMINI_TOOLS}
    kwargs = {"model": "gemini-2.5-flash", "contents": history, "config": config}
    client = _client(mode, url, wrapped, "gemini")
    if mode == "async":
        async def go() -> None:
            if stream:
                async for _ in await client.aio.models.generate_content_stream(**kwargs):
                    pass
            else:
                await client.aio.models.generate_content(**kwargs)
        _run(go())
        return
    if stream:
        for _ in client.models.generate_content_stream(**kwargs):
            pass
    else:
        client.models.generate_content(**kwargs)


def _gemini_tools() -> Messages:
    return [{"role": "user", "parts": [{"text": "look it up"}]},
            {"role": "model", "parts": [{"function_call": {"name": "search",
                                                           "args": {"q": "router"}}}]},
            {"role": "user", "parts": [{"function_response": {
                "name": "search", "response": {"result": RESULT}}}]},
            {"role": "model", "parts": [{"text": "found it"}]},
            {"role": "user", "parts": [{"text": "thanks"}]}]


def _gemini_clear(m: Messages) -> None:
    m[2]["parts"][0]["function_response"]["response"] = {"result": "[cleared]"}


# -- the clients -----------------------------------------------------------------------------------

#: The clients of one test (by SDK, server, wrapped or not, sync or async), kept open until it
#: ends: one client for every call, as applications have; the async ones on one event loop.
_CLIENTS: dict[tuple[str, str, bool, str], Any] = {}
#: What the async clients hold open (google-genai's httpx2 client), closed with them.
_CLOSERS: list[Any] = []
#: The wrapped clients' handles, so a test can check every call was planned.
_HANDLES: list[Any] = []
_STATE: list[CacheState] = [CacheState()]
_LOOP: list[asyncio.AbstractEventLoop] = []


def _run(coroutine: Any) -> None:
    _LOOP[0].run_until_complete(coroutine)


def _wrapped(client: Any) -> Any:
    out = wrap(client, state=_STATE[0])
    _HANDLES.append(out.promptcache)
    return out


def _new_client(sdk: str, url: str, mode: str) -> Any:
    if sdk == "anthropic":
        make: Any = anthropic.AsyncAnthropic if mode == "async" else anthropic.Anthropic
        return make(base_url=url, api_key="t", max_retries=0)
    if sdk == "openai":
        make = openai.AsyncOpenAI if mode == "async" else openai.OpenAI
        return make(base_url=url + "/v1", api_key="t", max_retries=0)
    if mode == "async":
        # An explicit httpx2 client: with aiohttp installed, google-genai would subclass
        # aiohttp.ClientSession, which aiohttp deprecates (a warning, hence an error here).
        http = httpx2.AsyncClient()
        _CLOSERS.append(http.aclose)
        return genai.Client(api_key="t", http_options=types.HttpOptions(
            base_url=url, httpx_async_client=http))
    return genai.Client(api_key="t", http_options=types.HttpOptions(base_url=url))


def _client(mode: str, url: str, wrapped: bool, sdk: str) -> Any:
    key = (sdk, url, wrapped, mode)
    if key not in _CLIENTS:
        client = _new_client(sdk, url, mode)
        _CLIENTS[key] = _wrapped(client) if wrapped else client
        if sdk != "gemini":
            _CLOSERS.append(client.close)
    return _CLIENTS[key]


SDKS: dict[str, Sdk] = {
    "anthropic": Sdk(
        name="anthropic", server=lambda: AnthropicServer(clock=ManualClock()), parts="content",
        text=lambda t: {"type": "text", "text": t},
        image=lambda: {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                   "data": PNG}},
        message=lambda role, t: {"role": role, "content": t},
        tool_history=_anthropic_tools, clear_tool_result=_anthropic_clear,
        call=lambda wrapped, mode, server, h, s: _anthropic_call(mode, server.url, wrapped, h, s),
        string_message=lambda t: {"role": "user", "content": t}),
    "openai-chat": Sdk(
        name="openai-chat", server=lambda: OpenAIServer(clock=ManualClock()), parts="content",
        text=lambda t: {"type": "text", "text": t},
        image=lambda: {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG}},
        message=lambda role, t: {"role": role, "content": t},
        tool_history=_chat_tools, clear_tool_result=_chat_clear,
        call=lambda wrapped, mode, server, h, s: _openai_call("chat")(mode, server.url, wrapped,
                                                                      h, s),
        string_message=lambda t: {"role": "user", "content": t}),
    "openai-responses": Sdk(
        name="openai-responses", server=lambda: OpenAIServer(clock=ManualClock()),
        parts="content", text=lambda t: {"type": "input_text", "text": t},
        image=lambda: {"type": "input_image", "image_url": "data:image/png;base64," + PNG},
        message=lambda role, t: {"role": role, "content": t},
        tool_history=_responses_tools, clear_tool_result=_responses_clear,
        call=lambda wrapped, mode, server, h, s: _openai_call("responses")(mode, server.url,
                                                                           wrapped, h, s),
        string_message=lambda t: {"role": "user", "content": t}),
    "gemini": Sdk(
        name="gemini", server=lambda: GeminiServer(clock=ManualClock()), parts="parts",
        text=lambda t: {"text": t},
        image=lambda: {"inline_data": {"mime_type": "image/png", "data": base64.b64decode(PNG)}},
        message=lambda role, t: {"role": "model" if role == "assistant" else role,
                                 "parts": [{"text": t}]},
        tool_history=_gemini_tools, clear_tool_result=_gemini_clear,
        call=lambda wrapped, mode, server, h, s: _gemini_call(mode, server.url, wrapped, h, s),
        string_message=lambda t: t),
}


# -- the patterns ----------------------------------------------------------------------------------

Edit = Callable[[Sdk, Messages], Messages]


def _append(sdk: Sdk, m: Messages) -> Messages:
    m.append(sdk.message("assistant", "ok"))
    m.append(sdk.message("user", "next"))
    return m


def _rebuild(sdk: Sdk, m: Messages) -> Messages:
    return [dict(x) for x in m] + [sdk.message("assistant", "ok"), sdk.message("user", "next")]


def _pop(sdk: Sdk, m: Messages) -> Messages:
    m.pop()
    m.append(sdk.message("user", "asked differently"))
    return m


def _window(sdk: Sdk, m: Messages) -> Messages:
    del m[:3]  # the oldest exchange, tool call and result together
    return _append(sdk, m)


def _append_block(sdk: Sdk, m: Messages) -> Messages:
    m[0][sdk.parts].append(sdk.text("second part"))
    return m


def _drop_image(sdk: Sdk, m: Messages) -> Messages:
    m[0][sdk.parts].pop(0)
    return m


def _string_to_blocks(sdk: Sdk, m: Messages) -> Messages:
    if isinstance(m[0], str):  # google-genai: a string in contents is a user turn's text
        m[0] = {"role": "user", sdk.parts: [sdk.text(m[0]), sdk.text("and more")]}
    else:
        m[0]["content"] = [sdk.text(m[0]["content"]), sdk.text("and more")]
    return m


def _clear_tool_result(sdk: Sdk, m: Messages) -> Messages:
    sdk.clear_tool_result(m)
    return m


def _edit_text(sdk: Sdk, m: Messages) -> Messages:
    m[0][sdk.parts][0]["text"] = "first part, edited"
    return m


def _strings(sdk: Sdk) -> Messages:
    return [sdk.string_message("first part")]


def _texts(sdk: Sdk) -> Messages:
    return [sdk.message("user", "first part")]


PATTERNS: dict[str, tuple[Callable[[Sdk], Messages], Edit]] = {
    "append": (_texts, _append),
    "rebuild": (_texts, _rebuild),
    "regenerate-pop": (lambda sdk: sdk.tool_history(), _pop),
    "sliding-window": (lambda sdk: sdk.tool_history(), _window),
    "in-place-append-block": (Sdk.blocks_history, _append_block),
    "in-place-drop-image": (Sdk.image_history, _drop_image),
    "in-place-string-to-blocks": (_strings, _string_to_blocks),
    "in-place-clear-tool-result": (lambda sdk: sdk.tool_history(), _clear_tool_result),
    "in-place-edit-text": (Sdk.blocks_history, _edit_text),
}


def _normalised(body: Any) -> Any:
    """``body`` without what the wrapper may add, strings spelled as the one text part they are."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _ADDED}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    out = strip(body)
    if isinstance(out.get("system"), str):
        out["system"] = [{"type": "text", "text": out["system"]}]
    for message in out.get("messages", []):
        if isinstance(message.get("content"), str):
            message["content"] = [{"type": "text", "text": message["content"]}]
    return out


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    _STATE[0] = CacheState()
    loop = asyncio.new_event_loop()
    _LOOP[:] = [loop]
    yield
    for close in _CLOSERS:
        done = close()
        if asyncio.iscoroutine(done):
            loop.run_until_complete(done)
    loop.close()
    _CLIENTS.clear()
    _CLOSERS.clear()
    _HANDLES.clear()


def _bodies(sdk: Sdk, server: LoopbackServer, wrapped: bool, mode: str, stream: bool,
            history: Messages, edit: Edit) -> list[Any]:
    before = len(server.requests)
    sdk.call(wrapped, mode, server, history, stream)
    history = edit(sdk, history)
    sdk.call(wrapped, mode, server, history, stream)
    return [r.json() for r in server.requests[before:]]


MODES = [("sync", False), ("async", False), ("sync", True), ("async", True)]


@pytest.mark.parametrize(("mode", "stream"), MODES, ids=["sync", "async", "stream", "async-stream"])
@pytest.mark.parametrize("pattern", list(PATTERNS))
@pytest.mark.parametrize("sdk_name", list(SDKS))
def test_the_wrapped_body_is_the_bare_body_plus_markers(sdk_name: str, pattern: str, mode: str,
                                                       stream: bool) -> None:
    sdk = SDKS[sdk_name]
    make, edit = PATTERNS[pattern]
    with sdk.server() as server:
        expected = _bodies(sdk, server, False, mode, stream, make(sdk), edit)
        sent = _bodies(sdk, server, True, mode, stream, make(sdk), edit)
    assert [_normalised(b) for b in sent] == [_normalised(b) for b in expected]
    assert sum(h.planned for h in _HANDLES) == 2
    assert sum(h.unplanned for h in _HANDLES) == 0


@pytest.mark.parametrize("sdk_name", list(SDKS))
def test_a_history_shared_by_two_branches_sends_each_branch(sdk_name: str) -> None:
    sdk = SDKS[sdk_name]
    trunk = sdk.tool_history()
    branches = [[*trunk, sdk.message("assistant", "a"), sdk.message("user", x)]
                for x in ("left", "right")]
    with sdk.server() as server:
        for wrapped in (False, True):
            for branch in (trunk, *branches, trunk):
                sdk.call(wrapped, "sync", server, branch, False)
            edited = copy.deepcopy(trunk[0])
            trunk[0].clear()
            trunk[0].update(sdk.message("user", "look it up, edited"))  # shared by both branches
            for branch in branches:
                sdk.call(wrapped, "sync", server, branch, False)
            trunk[0].clear()
            trunk[0].update(edited)
        bodies = [_normalised(r.json()) for r in server.requests]
    assert bodies[6:] == bodies[:6]
    assert "look it up, edited" in str(bodies[-2]) and "left" in str(bodies[-2])
    assert "look it up, edited" in str(bodies[-1]) and "right" in str(bodies[-1])


def test_anthropic_tools_appended_between_calls_are_sent() -> None:
    sdk = SDKS["anthropic"]
    with sdk.server() as server:
        tools = copy.deepcopy(ANTHROPIC_TOOLS)
        bodies = []
        for wrapped in (False, True):
            client = _client("sync", server.url, wrapped, "anthropic")
            history = sdk.tool_history()
            for _ in range(2):
                client.messages.create(model="claude-sonnet-4-6", max_tokens=64, system=SYSTEM,
                                       tools=tools, messages=history)
                tools.append({"name": f"fetch{len(tools)}", "description": "Fetch a page.",
                              "input_schema": {"type": "object"}})
                history = _append(sdk, history)
            bodies.append([_normalised(r.json()) for r in server.requests[-2:]])
            tools = copy.deepcopy(ANTHROPIC_TOOLS)
    assert bodies[0] == bodies[1]
